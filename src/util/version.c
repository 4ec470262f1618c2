/* SPDX-License-Identifier: MIT
 * src/util/version.c — javm_version and javm_version_number: the version libjavm was built
 * as, taken from include/javm/version.h when the library is compiled. */
#include "javm/version.h"

const char *javm_version(void) { return JAVM_VERSION_STRING; }

int javm_version_number(void) { return JAVM_VERSION_NUMBER; }
