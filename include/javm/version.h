/* SPDX-License-Identifier: MIT
 * javm/version.h — the version of libjavm. The three numbers below are the one source of the
 * version: CMake reads them for the SONAME, libjavm.pc and the CMake package.
 * Part of the public API; include <javm.h>, not this file. */
#ifndef JAVM_VERSION_H
#define JAVM_VERSION_H

#include "status.h"

/* Semantic versioning. MAJOR is the ABI generation: the shared library's SONAME is
 * libjavm.so.MAJOR, and a program built against one MAJOR runs with any later MINOR.PATCH of
 * it. While MAJOR is 0 the API may still change between MINOR versions (see CHANGELOG.md). */
#define JAVM_VERSION_MAJOR 0
#define JAVM_VERSION_MINOR 1
#define JAVM_VERSION_PATCH 0

#define JAVM_VERSION_STR_(x) #x
#define JAVM_VERSION_STR(x) JAVM_VERSION_STR_(x)
/* "MAJOR.MINOR.PATCH" of the headers a program was compiled with. */
#define JAVM_VERSION_STRING                                                                  \
    JAVM_VERSION_STR(JAVM_VERSION_MAJOR) "." JAVM_VERSION_STR(JAVM_VERSION_MINOR) "."      \
    JAVM_VERSION_STR(JAVM_VERSION_PATCH)
/* One comparable number: MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 is 100). */
#define JAVM_VERSION_NUMBER \
    (JAVM_VERSION_MAJOR * 10000 + JAVM_VERSION_MINOR * 100 + JAVM_VERSION_PATCH)

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH": a static string, never
 * freed. Compare with JAVM_VERSION_STRING to detect a program running against another build. */
JAVM_API const char *javm_version(void);
/* The linked library's JAVM_VERSION_NUMBER. */
JAVM_API int javm_version_number(void);

#endif
