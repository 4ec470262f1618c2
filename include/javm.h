/* SPDX-License-Identifier: MIT
 * javm.h — the one public header of libjavm, a C11 implementation of the JAVM capability VM.
 * Embedders include only this file. Each layer's declarations, with their contracts, are in
 * the javm/ files included below; every exported symbol is declared there.
 *
 * Threads. The library keeps no mutable global state. A javm_vm, a javm_cache, a javm_store,
 * a javm_ka and a javm_memory are each used by one thread at a time (the caller serialises);
 * objects that work together (a VM invoking on a cache over a store with a kernel assist) form
 * one such unit. Any number of units run in parallel, also on one LMDB store opened once per
 * unit in different processes (writers serialise on LMDB's lock). A prepared javm_program is
 * immutable and reference counted atomically: it is shared freely between threads and VMs.
 * Caps returned by a cache are lent to the thread using that cache. tests/test_threads.c runs
 * this contract under ThreadSanitizer (`make test`). */
#ifndef JAVM_H
#define JAVM_H

#include "javm/version.h"
#include "javm/status.h"
#include "javm/limits.h"
#include "javm/exec.h"
#include "javm/cap.h"
#include "javm/vm.h"
#include "javm/store.h"

#endif
