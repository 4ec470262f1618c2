/* SPDX-License-Identifier: MIT
 * jit/run.c — javm_run and the engine switch: the interpreter (exec/interp.c) or the JIT
 * (jit/jit.c), chosen per run by javm_state.engine, $JAVM_ENGINE and the build. */
#include <stdlib.h>
#include <string.h>

#include "jit/jit.h"

const char *javm_engine_name(javm_engine e)
{
    switch (e) {
    case JAVM_ENGINE_AUTO: return "auto";
    case JAVM_ENGINE_INTERP: return "interp";
    case JAVM_ENGINE_JIT: return "jit";
    }
    return "?";
}

int javm_engine_parse(const char *s, javm_engine *out)
{
    static const javm_engine all[3] = { JAVM_ENGINE_AUTO, JAVM_ENGINE_INTERP, JAVM_ENGINE_JIT };
    for (unsigned k = 0; s && k < 3; k++) {
        if (strcmp(s, javm_engine_name(all[k])) == 0) {
            *out = all[k];
            return JAVM_OK;
        }
    }
    return JAVM_ERR_INVALID_ARG;
}

bool javm_jit_available(void) { return JIT_ENABLED; }

javm_engine javm_engine_resolve(javm_engine e)
{
    if (e == JAVM_ENGINE_AUTO) {
        javm_engine env;
        if (javm_engine_parse(getenv("JAVM_ENGINE"), &env) == JAVM_OK)
            e = env;
    }
    if (e == JAVM_ENGINE_JIT || e == JAVM_ENGINE_AUTO)
        return JIT_ENABLED ? JAVM_ENGINE_JIT : JAVM_ENGINE_INTERP;
    return JAVM_ENGINE_INTERP;
}

int javm_program_compile(const javm_program *p, javm_gas_model model)
{
    int rc;
    if (!p || (unsigned)model >= EXEC_JIT_SLOTS)
        return JAVM_ERR_INVALID_ARG;
    jit_get(p, model, &rc);
    return rc;
}

int javm_program_jit_info(const javm_program *p, javm_gas_model model, size_t *code_bytes,
                          uint64_t *compile_ns)
{
    if (!p || (unsigned)model >= EXEC_JIT_SLOTS)
        return JAVM_ERR_INVALID_ARG;
    if (!JIT_ENABLED)
        return JAVM_ERR_JIT_UNSUPPORTED;
    if (!atomic_load_explicit(&((javm_program *)p)->jit[model], memory_order_acquire))
        return JAVM_ERR_NOT_FOUND;
    int rc;
    const jit_code *jc = jit_get(p, model, &rc);
    if (!jc)
        return rc;
    if (code_bytes)
        *code_bytes = jit_code_size(jc);
    if (compile_ns)
        *compile_ns = jit_code_compile_ns(jc);
    return JAVM_OK;
}

javm_exit javm_run(const javm_program *p, javm_state *st, javm_gas_model model,
                   javm_handler handler, void *user)
{
    /* The run holds a reference: a handler may drop the caller's (the VM's set_image does)
     * while this program's records or native code are still on the stack. */
    javm_program *held = handler ? javm_program_ref((javm_program *)p) : NULL;
    javm_exit ex;
    const jit_code *jc = NULL;
    if (javm_engine_resolve(st->engine) == JAVM_ENGINE_JIT) {
        int rc;
        jc = jit_get(p, model, &rc);
    }
    if (jc) {
        st->ran = JAVM_ENGINE_JIT;
        ex = jit_exec(p, jc, st, handler, user);
    } else {
        st->ran = JAVM_ENGINE_INTERP;
        ex = exec_interp_run(p, st, model, handler, user);
    }
    javm_program_free(held);
    return ex;
}
