/* SPDX-License-Identifier: MIT
 * javm/status.h — status codes shared by every layer of libjavm, and javm_strerror.
 * Part of the public API; include <javm.h>, not this file. */
#ifndef JAVM_STATUS_H
#define JAVM_STATUS_H

/* Marks every function of the public API: libjavm is built with hidden visibility, so these
 * are exactly the symbols a shared libjavm exports. */
#if defined(__GNUC__)
#define JAVM_API __attribute__((visibility("default")))
#else
#define JAVM_API
#endif

/* Every fallible function returns a javm_status: JAVM_OK (0) or a negative code. Codes are
 * grouped by family (the hundreds digit); the numbers are stable and may be stored. */
typedef enum javm_status {
    JAVM_OK = 0,

    /* general (-1 .. -99) */
    JAVM_ERR_INVALID_ARG = -1,   /* an argument is out of its documented range */
    JAVM_ERR_ALLOC = -2,         /* out of memory (host allocation failed) */
    JAVM_ERR_LIMIT = -3,         /* a limit of javm/limits.h is exceeded */
    JAVM_ERR_IO = -4,            /* a host file could not be read or written */
    JAVM_ERR_INTERNAL = -5,      /* an invariant of the library itself was broken */

    /* program preparation: deblob and javm_prepare (pvm.md §2.1, §9.2) (-100 ..) */
    JAVM_ERR_BLOB_TRUNCATED = -100,    /* a varint or section runs past the end of the blob */
    JAVM_ERR_BLOB_VARINT = -101,       /* a varint is not in its shortest (canonical) form */
    JAVM_ERR_BLOB_TOO_LARGE = -102,    /* |j| or L is above 2^32 - 1 */
    JAVM_ERR_BLOB_JT_WIDTH = -103,     /* jump-table entry width z > 4, or z = 0 with entries */
    JAVM_ERR_BLOB_TRAILING = -104,     /* bytes after the bitmask */
    JAVM_ERR_BITMASK_PADDING = -105,   /* a padding bit of the last bitmask byte is set */
    JAVM_ERR_JT_ENTRY = -106,          /* a jump-table entry is >= the code length */
    JAVM_ERR_CODE_TOO_LARGE = -107,    /* L above JAVM_MAX_CODE_SIZE */
    JAVM_ERR_JT_TOO_LARGE = -108,      /* |j| above JAVM_MAX_JUMP_TABLE */

    /* memory, embedder and guest-checked paths (pvm.md §2.3) (-150 ..) */
    JAVM_ERR_MEM_RANGE = -150,   /* range passes 2^32, or a set_perm range is not page-aligned */
    JAVM_ERR_MEM_ACCESS = -151,  /* guest-checked access to a byte lacking the permission */

    /* cache and capability layer (caps.md §5.4) (-200 ..) */
    JAVM_ERR_NOT_FOUND = -200,
    JAVM_ERR_TARGET_MISSING = -201,
    JAVM_ERR_WRONG_KIND = -202,
    JAVM_ERR_NON_MUTABLE_KIND = -203,
    JAVM_ERR_NON_CANONICAL = -204,
    JAVM_ERR_INVALID_CNODE_SIZE = -205,
    JAVM_ERR_SLOT_OUT_OF_RANGE = -206,
    JAVM_ERR_UNSETTLED = -207,
    JAVM_ERR_CYCLE = -208,
    JAVM_ERR_REFCOUNT_OVERFLOW = -209,
    JAVM_ERR_STORE = -210,
    JAVM_ERR_DECODE = -211,
    JAVM_ERR_BUSY = -212,
    JAVM_ERR_CONFLICT = -213,
    JAVM_ERR_QUOTA = -214,

    /* decoder reasons (caps.md §11.3): returned by the decoders, which also report an offset */
    JAVM_ERR_TRUNCATED = -250,
    JAVM_ERR_OVERSIZED = -251,
    JAVM_ERR_BAD_MAGIC = -252,
    JAVM_ERR_BAD_VERSION = -253,
    JAVM_ERR_BAD_KIND = -254,
    JAVM_ERR_TRAILING = -255,

    /* VM (caps.md §6.9) (-300 ..) */
    JAVM_ERR_NOT_PAUSED = -300,
    JAVM_ERR_INSTANCE_NOT_FOUND = -301,
    JAVM_ERR_IMAGE_NOT_FOUND = -302,
    JAVM_ERR_ROOT_CNODE_NOT_FOUND = -303,
    JAVM_ERR_NO_SUCH_ENDPOINT = -304,
    JAVM_ERR_DECODE_FAILED = -305,
    JAVM_ERR_DATA_MISSING = -306,
    JAVM_ERR_DATA_TOO_LARGE = -307,
    JAVM_ERR_MAP_FAILED = -308,
    JAVM_ERR_SLOT_PINNED = -309,

    /* persistent store (-400 ..): details beyond JAVM_ERR_STORE */
    JAVM_ERR_STORE_CORRUPT = -400,   /* a record does not decode; the message names the key */
    JAVM_ERR_STORE_FULL = -401,      /* the store's map is full */
    JAVM_ERR_STORE_READONLY = -402,  /* the store cannot be written */
    JAVM_ERR_STORE_FORMAT = -403,    /* unknown format version or hash profile */
    JAVM_ERR_STORE_TIMEOUT = -404,   /* a distributed store did not answer in time (the message
                                      * says whether the commit's outcome is known) */
    JAVM_ERR_STORE_UNSUPPORTED = -405, /* this build has no support for that kind of store */

    /* JIT (-500 ..) */
    JAVM_ERR_JIT_UNSUPPORTED = -500, /* this build or host has no JIT (not x86-64 Linux) */
    JAVM_ERR_JIT_TOO_LARGE = -501    /* the native code would pass JAVM_MAX_JIT_CODE_SIZE */
} javm_status;

/* A static, never-NULL English description of a status; unknown codes give "unknown status". */
JAVM_API const char *javm_strerror(int status);

#endif
