/* SPDX-License-Identifier: MIT
 * javm/cap.h — capability layer: cap kinds, canonical encodings, cap hash, the cache, the
 * store interface (normative: shared/spec/caps.md §2-5, §11). Part of the public API. */
#ifndef JAVM_CAP_H
#define JAVM_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#endif
