/* SPDX-License-Identifier: MIT
 * fuzz/fuzz_ld.c — libFuzzer target for the guest linker (tools/lib/rvld.c): any input is an
 * ELF candidate; the linker must fail cleanly or produce an image that the image writer
 * accepts. Seed it with guest ELFs (e.g. the ones guest/build.sh links). The tool sources are
 * compiled into the target because fuzz/build.sh builds only src/ otherwise. */
#define grow asm_c_grow
#define fail asm_c_fail
#include "../tools/lib/asm.c"
#undef grow
#undef fail
#define grow asm_text_grow
#define section asm_text_section
#include "../tools/lib/asm_text.c"
#undef grow
#undef section
#include "../tools/lib/rvld.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    asm_unit u;
    char msg[512];
    asm_unit_init(&u);
    if (rvld_link(data, size, NULL, &u, msg, sizeof msg) == JAVM_OK) {
        uint8_t *img = NULL;
        size_t n;
        asm_err err;
        if (asm_write_jimg(&u, &img, &n, &err) == JAVM_OK)
            javm_free(img);
    }
    asm_unit_free(&u);
    return 0;
}
