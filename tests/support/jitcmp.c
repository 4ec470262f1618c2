/* SPDX-License-Identifier: MIT
 * tests/support/jitcmp.c — see jitcmp.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jitcmp.h"

void jc_set_baseline(bool baseline)
{
    if (baseline)
        setenv("JAVM_JIT_CPU", "baseline", 1);
    else
        unsetenv("JAVM_JIT_CPU");
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The sorted dirty set of m into out (cap entries); returns the count. */
static size_t dirty(const javm_memory *m, uint32_t *out, size_t cap)
{
    size_t n;
    const uint32_t *d = javm_memory_dirty(m, &n);
    assert_true(n <= cap);
    memcpy(out, d, n * sizeof *out);
    qsort(out, n, sizeof *out, cmp_u32);
    return n;
}

static void compare_page(const javm_memory *mi, const javm_memory *mj, uint32_t pg, unsigned seg)
{
    static uint8_t bi[JAVM_PAGE_SIZE], bj[JAVM_PAGE_SIZE];
    javm_perm pi = javm_memory_get_perm(mi, pg), pj = javm_memory_get_perm(mj, pg);
    if (pi != pj)
        fail_msg("segment %u: page 0x%x perm interp %d, jit %d", seg, pg, (int)pi, (int)pj);
    assert_int_equal(javm_memory_peek(mi, pg << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, bi), JAVM_OK);
    assert_int_equal(javm_memory_peek(mj, pg << JAVM_PAGE_SHIFT, JAVM_PAGE_SIZE, bj), JAVM_OK);
    for (uint32_t b = 0; b < JAVM_PAGE_SIZE; b++)
        if (bi[b] != bj[b])
            fail_msg("segment %u: memory at 0x%x: interp 0x%02x, jit 0x%02x", seg,
                     (pg << JAVM_PAGE_SHIFT) + b, bi[b], bj[b]);
}

static void compare(const javm_state *si, const javm_state *sj, javm_exit ei, javm_exit ej,
                    const jc_opts *o, const uint32_t *mapped, size_t nmapped, unsigned seg)
{
    if (ei.reason != ej.reason || ei.arg != ej.arg)
        fail_msg("segment %u: exit interp %s(0x%x), jit %s(0x%x)", seg, javm_exit_name(ei.reason), ei.arg,
                 javm_exit_name(ej.reason), ej.arg);
    if (si->pc != sj->pc)
        fail_msg("segment %u: pc interp %u, jit %u", seg, si->pc, sj->pc);
    for (int r = 0; r < JAVM_NUM_REGS; r++)
        if (si->regs[r] != sj->regs[r])
            fail_msg("segment %u: r%d interp 0x%llx, jit 0x%llx", seg, r, (unsigned long long)si->regs[r],
                     (unsigned long long)sj->regs[r]);
    if (si->gas != sj->gas)
        fail_msg("segment %u: gas interp %lld, jit %lld", seg, (long long)si->gas, (long long)sj->gas);
    if (si->steps != sj->steps)
        fail_msg("segment %u: steps interp %llu, jit %llu", seg, (unsigned long long)si->steps,
                 (unsigned long long)sj->steps);
    static uint32_t di[4096], dj[4096];
    size_t ni = dirty(si->mem, di, 4096), nj = dirty(sj->mem, dj, 4096);
    if (ni != nj || memcmp(di, dj, ni * sizeof *di) != 0)
        fail_msg("segment %u: dirty sets differ (interp %zu pages, jit %zu)", seg, ni, nj);
    for (size_t k = 0; k < ni; k++)
        compare_page(si->mem, sj->mem, di[k], seg);
    for (size_t k = 0; k < o->npages; k++)
        compare_page(si->mem, sj->mem, o->pages[k], seg);
    for (size_t k = 0; k < nmapped; k++)
        compare_page(si->mem, sj->mem, mapped[k], seg);
}

void jc_run(const javm_program *p, const javm_state *init, const jc_opts *o, jc_result *out)
{
    /* two memories kept for the process (javm_memory_new + free cost about 0.6 ms on this
     * project's VMs), reset before each use: both sides always see the same history */
    static javm_memory *cache[2];
    for (int k = 0; k < 2; k++) {
        if (!cache[k])
            assert_int_equal(javm_memory_new(&cache[k]), JAVM_OK);
        else
            javm_memory_reset(cache[k]);
    }
    javm_memory *mi = cache[0], *mj = cache[1];
    if (o->setup) {
        o->setup(mi, o->setup_arg);
        o->setup(mj, o->setup_arg);
    }
    javm_memory_clear_dirty(mi);
    javm_memory_clear_dirty(mj);
    javm_state si = *init, sj = *init;
    si.mem = mi;
    sj.mem = mj;
    si.engine = JAVM_ENGINE_INTERP;
    sj.engine = JAVM_ENGINE_JIT;
    uint32_t mapped[JC_MAX_SEG];
    size_t nmapped = 0;
    memset(out, 0, sizeof *out);
    javm_engine want = o->expect_ran ? o->expect_ran : JAVM_ENGINE_JIT;
    for (unsigned seg = 0; seg <= o->resumes && seg < JC_MAX_SEG; seg++) {
        javm_exit ei = javm_run(p, &si, o->model, o->handler, o->user[0]);
        javm_exit ej = javm_run(p, &sj, o->model, o->handler, o->user[1]);
        assert_int_equal(si.ran, JAVM_ENGINE_INTERP);
        if (sj.ran != want)
            fail_msg("segment %u: the JIT side ran %s, expected %s", seg, javm_engine_name(sj.ran),
                     javm_engine_name(want));
        compare(&si, &sj, ei, ej, o, mapped, nmapped, seg);
        out->ex[seg] = ej;
        out->segs = seg + 1;
        if (ej.reason == JAVM_EXIT_OUT_OF_GAS) {
            si.gas += o->resume_gas;
            sj.gas += o->resume_gas;
        } else if (ej.reason == JAVM_EXIT_PAGE_FAULT) {
            javm_memory_set_perm(mi, ej.arg & ~(JAVM_PAGE_SIZE - 1), JAVM_PAGE_SIZE, JAVM_PERM_RW);
            javm_memory_set_perm(mj, ej.arg & ~(JAVM_PAGE_SIZE - 1), JAVM_PAGE_SIZE, JAVM_PERM_RW);
            mapped[nmapped++] = ej.arg >> JAVM_PAGE_SHIFT;
        } else if (ej.reason != JAVM_EXIT_HOST_CALL && ej.reason != JAVM_EXIT_ECALL) {
            break;
        }
    }
    out->st = sj;
    out->st.mem = NULL;
    out->ran = sj.ran;
}
