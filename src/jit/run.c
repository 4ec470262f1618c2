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

/* One run on the engine st->engine selects. */
static javm_exit run_engine(const javm_program *p, javm_state *st, javm_gas_model model,
                            javm_handler handler, void *user)
{
    const jit_code *jc = NULL;
    if (javm_engine_resolve(st->engine) == JAVM_ENGINE_JIT) {
        int rc;
        jc = jit_get(p, model, &rc);
    }
    if (jc) {
        st->ran = JAVM_ENGINE_JIT;
        return jit_exec(p, jc, st, handler, user);
    }
    st->ran = JAVM_ENGINE_INTERP;
    return exec_interp_run(p, st, model, handler, user);
}

/* ---- stopping: gas slices ---------------------------------------------------------------
 * A run with a stop gets at most `slice` gas at a time and keeps the rest in reserve. An
 * OutOfGas from a block charge leaves pc at the unpaid block and the gas unchanged, with no
 * instruction of that block run (pvm.md §7.1), so giving the reserve back and running again
 * continues exactly where an unsliced run would be. A handler sees the run's whole gas (the
 * wrapper below lends it the reserve for the call), and an OutOfGas it answers is final.
 * Slices grow or shrink to last about a millisecond, so the clock is read about once per
 * millisecond. */

typedef struct stop_wrap {
    javm_handler handler;
    void *user;
    int64_t reserve; /* gas held back from the engine */
    bool exited;     /* the handler answered EXIT */
} stop_wrap;

static int64_t add_sat(int64_t a, int64_t b) /* b >= 0 */
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static javm_answer stop_wrap_call(void *u, javm_call_kind kind, uint32_t imm,
                                  uint64_t regs[JAVM_NUM_REGS], javm_memory *mem, int64_t *gas)
{
    stop_wrap *w = u;
    *gas = add_sat(*gas, w->reserve);
    javm_answer a = w->handler(w->user, kind, imm, regs, mem, gas);
    /* Hold the reserve back again; a charge that reached into it shrinks it. */
    if (*gas < w->reserve)
        w->reserve = *gas > 0 ? *gas : 0;
    *gas -= w->reserve;
    w->exited |= !a.cont;
    return a;
}

#define SLICE_MIN ((int64_t)1 << 10)
#define SLICE_MAX ((int64_t)1 << 40)
#define SLICE_NS 1000000u

static javm_exit run_sliced(const javm_program *p, javm_state *st, javm_gas_model model,
                            javm_handler handler, void *user)
{
    stop_wrap w = { handler, user, 0, false };
    javm_handler h = handler ? stop_wrap_call : NULL;
    int64_t slice = st->stop->first_slice > 0 ? st->stop->first_slice : EXEC_STOP_FIRST_SLICE;
    for (;;) {
        if (javm_stop_fired(st->stop))
            return (javm_exit){ JAVM_EXIT_STOPPED, 0 };
        int64_t total = st->gas;
        w.reserve = total > slice ? total - slice : 0;
        st->gas = total - w.reserve;
        int64_t given = st->gas;
        uint64_t t0 = exec_monotonic_ns();
        javm_exit ex = run_engine(p, st, model, h, &w);
        uint64_t dt = exec_monotonic_ns() - t0;
        bool unpaid = ex.reason == JAVM_EXIT_OUT_OF_GAS && !w.exited;
        bool none_paid = st->gas == given; /* not one block: this one costs more than slice */
        bool reserve_left = w.reserve > 0;
        st->gas = add_sat(st->gas, w.reserve);
        if (!unpaid || !reserve_left)
            return ex;
        if (none_paid)
            slice = slice < SLICE_MAX / 2 ? slice * 2 : SLICE_MAX;
        else if (dt < SLICE_NS / 2 && slice < SLICE_MAX)
            slice *= 2;
        else if (dt > SLICE_NS * 2 && slice > SLICE_MIN)
            slice /= 2;
    }
}

javm_exit javm_run(const javm_program *p, javm_state *st, javm_gas_model model,
                   javm_handler handler, void *user)
{
    /* The run holds a reference: a handler may drop the caller's (the VM's set_image does)
     * while this program's records or native code are still on the stack. */
    javm_program *held = handler ? javm_program_ref((javm_program *)p) : NULL;
    javm_exit ex = st->stop ? run_sliced(p, st, model, handler, user)
                            : run_engine(p, st, model, handler, user);
    javm_program_free(held);
    return ex;
}
