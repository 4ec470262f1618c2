/* SPDX-License-Identifier: MIT
 * store/store_rados.c — the store on Ceph RADOS (docs/scale-out.md). Built with librados when
 * CMake finds it (JAVM_HAVE_RADOS); otherwise javm_store_rados_open says so. */
#include "javm.h"

#ifndef JAVM_HAVE_RADOS

JAVM_API int javm_store_rados_open(const char *url, const javm_rados_opts *opts, javm_store **out)
{
    (void)url;
    (void)opts;
    if (out)
        *out = NULL;
    return JAVM_ERR_STORE_UNSUPPORTED;
}

#endif
