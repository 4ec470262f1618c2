/* SPDX-License-Identifier: MIT
 * exec/opcodes.c — lookups over the opcode table of exec/opcodes.h. */
#include <string.h>

#include "exec/opcodes.h"

#define X_CLASS(n, name, cls, term) [n] = EXEC_CLS_##cls,
static const uint8_t op_class[256] = { EXEC_OPCODES(X_CLASS) };
#undef X_CLASS

#define X_NAME(n, name, cls, term) [n] = #name,
static const char *const op_name[256] = { EXEC_OPCODES(X_NAME) };
#undef X_NAME

#define X_TERM(n, name, cls, term) [n] = term,
static const uint8_t op_term_gp[256] = { EXEC_OPCODES(X_TERM) };
#undef X_TERM

exec_class exec_op_class(uint8_t op) { return (exec_class)op_class[op]; }

const char *exec_op_name(uint8_t op) { return op_name[op]; }

int exec_op_by_name(const char *name)
{
    for (int i = 0; i < 256; i++)
        if (op_name[i] && strcmp(op_name[i], name) == 0)
            return i;
    return -1;
}

bool exec_op_defined(uint8_t op, int profile)
{
    if (op_class[op] == EXEC_CLS_NONE)
        return false;
    if (profile == 0)
        return true;
    return op != 2 && (op != 3 || profile == 2); /* jam-draft: 3 is `unlikely` */
}

bool exec_is_terminator(uint8_t op, int profile)
{
    if (!exec_op_defined(op, profile))
        return false;
    if (op_term_gp[op])
        return true;
    return profile == 0 && (op == 2 || op == 3 || op == 10);
}
