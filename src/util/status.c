/* SPDX-License-Identifier: MIT
 * util/status.c — javm_strerror: one English sentence per javm_status (include/javm/status.h). */
#include "javm.h"

const char *javm_strerror(int status)
{
    switch ((javm_status)status) {
    case JAVM_OK: return "success";
    case JAVM_ERR_INVALID_ARG: return "invalid argument";
    case JAVM_ERR_ALLOC: return "out of memory";
    case JAVM_ERR_LIMIT: return "resource limit exceeded";
    case JAVM_ERR_IO: return "input/output error";
    case JAVM_ERR_INTERNAL: return "internal error";
    case JAVM_ERR_BLOB_TRUNCATED: return "program blob truncated (varint or section past the end)";
    case JAVM_ERR_BLOB_VARINT: return "program blob has a non-canonical varint";
    case JAVM_ERR_BLOB_TOO_LARGE: return "program blob length or jump-table count above 2^32-1";
    case JAVM_ERR_BLOB_JT_WIDTH: return "program blob jump-table entry width invalid (>4, or 0 with entries)";
    case JAVM_ERR_BLOB_TRAILING: return "program blob has trailing bytes after the bitmask";
    case JAVM_ERR_BITMASK_PADDING: return "bitmask padding bit set";
    case JAVM_ERR_JT_ENTRY: return "jump-table entry past the end of the code";
    case JAVM_ERR_CODE_TOO_LARGE: return "code larger than JAVM_MAX_CODE_SIZE";
    case JAVM_ERR_JT_TOO_LARGE: return "jump table larger than JAVM_MAX_JUMP_TABLE";
    case JAVM_ERR_MEM_RANGE: return "memory range passes 2^32 or is not page-aligned";
    case JAVM_ERR_MEM_ACCESS: return "memory access lacks permission";
    case JAVM_ERR_NOT_FOUND: return "not found";
    case JAVM_ERR_TARGET_MISSING: return "a target of the cap is missing from the cache";
    case JAVM_ERR_WRONG_KIND: return "cap of the wrong kind";
    case JAVM_ERR_NON_MUTABLE_KIND: return "cap kind cannot be mutated";
    case JAVM_ERR_NON_CANONICAL: return "cap not in canonical form";
    case JAVM_ERR_INVALID_CNODE_SIZE: return "cnode size_log above 16";
    case JAVM_ERR_SLOT_OUT_OF_RANGE: return "slot out of range";
    case JAVM_ERR_UNSETTLED: return "graph still holds a working reference (settle first)";
    case JAVM_ERR_CYCLE: return "working references form a cycle";
    case JAVM_ERR_REFCOUNT_OVERFLOW: return "reference count overflow";
    case JAVM_ERR_STORE: return "store failure";
    case JAVM_ERR_DECODE: return "cannot decode";
    case JAVM_ERR_BUSY: return "busy (call stack, working tier or open journal in the way)";
    case JAVM_ERR_CONFLICT: return "conflict with another writer";
    case JAVM_ERR_QUOTA: return "storage quota exceeded";
    case JAVM_ERR_TRUNCATED: return "input truncated";
    case JAVM_ERR_OVERSIZED: return "length or count larger than the input allows";
    case JAVM_ERR_BAD_MAGIC: return "bad magic";
    case JAVM_ERR_BAD_VERSION: return "unsupported version";
    case JAVM_ERR_BAD_KIND: return "unknown cap kind";
    case JAVM_ERR_TRAILING: return "trailing bytes after the encoding";
    case JAVM_ERR_NOT_PAUSED: return "no paused invocation";
    case JAVM_ERR_INSTANCE_NOT_FOUND: return "instance not found";
    case JAVM_ERR_IMAGE_NOT_FOUND: return "image not found";
    case JAVM_ERR_ROOT_CNODE_NOT_FOUND: return "root cnode not found";
    case JAVM_ERR_NO_SUCH_ENDPOINT: return "no such endpoint";
    case JAVM_ERR_DECODE_FAILED: return "image program rejected by javm_prepare";
    case JAVM_ERR_DATA_MISSING: return "data has a missing page";
    case JAVM_ERR_DATA_TOO_LARGE: return "data larger than its mapping";
    case JAVM_ERR_MAP_FAILED: return "memory cannot be laid out";
    case JAVM_ERR_SLOT_PINNED: return "slot is pinned";
    case JAVM_ERR_STORE_CORRUPT: return "store record corrupt";
    case JAVM_ERR_STORE_FULL: return "store full";
    case JAVM_ERR_STORE_READONLY: return "store is read-only";
    case JAVM_ERR_STORE_FORMAT: return "unknown store format or hash profile";
    case JAVM_ERR_STORE_TIMEOUT: return "store timed out";
    case JAVM_ERR_STORE_UNSUPPORTED: return "this build does not support that store";
    case JAVM_ERR_JIT_UNSUPPORTED: return "no JIT in this build or on this host";
    case JAVM_ERR_JIT_TOO_LARGE: return "program too large for the JIT";
    }
    return "unknown status";
}
