/* SPDX-License-Identifier: MIT
 * guest/examples/notes.c — files through capabilities. Endpoint 0 reads the Data cap passed in
 * slot 0, mints a note "note N: <text>" as a new Data cap, saves it as a file (quota 0) and
 * returns the file id. Endpoint 1 opens a file by id, reads it back, leaves it in slot 0 for
 * the caller and returns its length. Endpoint 2 returns how many notes were saved. */
#include "javm_guest.h"

#define MAX_NOTE 4096
static uint8_t buf[MAX_NOTE + 32];
static uint64_t saved;

static uint64_t save(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    static const char prefix[] = "note ";
    uint64_t k = 0;
    for (const char *p = prefix; *p; p++)
        buf[k++] = (uint8_t)*p;
    uint64_t n = ++saved, div = 1;
    while (div * 10 <= n)
        div *= 10;
    for (; div; div /= 10)
        buf[k++] = (uint8_t)('0' + n / div % 10);
    buf[k++] = ':';
    buf[k++] = ' ';
    k += javm_read_data_cap(0, buf + k, MAX_NOTE);
    javm_mint_data_cap(buf, k, 0, 10);
    uint64_t id = javm_host_save(10, 0);
    javm_drop(10);
    javm_drop(0);
    return id;
}
JAVM_ENDPOINT(0, save);

static uint64_t load(uint64_t id, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a1, (void)a2, (void)a3;
    javm_host_open(id, 0);
    return javm_read_data_cap(0, buf, sizeof buf);
}
JAVM_ENDPOINT(1, load);

static uint64_t count(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    return saved;
}
JAVM_ENDPOINT(2, count);
