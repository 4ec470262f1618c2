/* SPDX-License-Identifier: MIT
 * tools/testhook.h — the fault tests' kill/stop hook in the javm command (tools/testhook.c,
 * docs/testing-rados.md "The fault test"). */
#ifndef TOOLS_TESTHOOK_H
#define TOOLS_TESTHOOK_H

#include "cli.h"

/* When JAVM_TEST_KILL_AT or JAVM_TEST_STOP_AT is set, replaces s's vtbl with a copy whose put
 * and commit send the process SIGKILL or SIGSTOP at the point named: "blob:N" (after the N-th
 * blob write), "commit" (before the store commit, i.e. before the head op on RADOS),
 * "commit+US" (US microseconds after the commit began, i.e. while the head op is in flight or
 * just after; if the commit returns first, the signal still comes), "committed" (after a
 * successful commit). Every other vtbl member is the store's own. Without either variable it
 * does nothing. A malformed value (or both set) is printed; returns a CLI exit code. */
int cli_testhook_install(javm_store *s, const char *cmd);

#endif
