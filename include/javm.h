/* SPDX-License-Identifier: MIT
 * javm.h — the one public header of libjavm, a C11 implementation of the JAVM capability VM.
 * Embedders include only this file. Each layer's declarations, with their contracts, are in
 * the javm/ files included below; every exported symbol is declared there. */
#ifndef JAVM_H
#define JAVM_H

#include "javm/status.h"
#include "javm/limits.h"
#include "javm/exec.h"
#include "javm/cap.h"
#include "javm/vm.h"
#include "javm/store.h"

#endif
