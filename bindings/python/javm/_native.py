# SPDX-License-Identifier: MIT
"""ctypes declarations of the parts of libjavm the binding uses (include/javm/*.h).

Every structure here mirrors its C declaration field for field; tests/test_layout.py compiles
a small C program that prints the C sizes and offsets and compares them with these.
"""
import ctypes
import ctypes.util
import os

c_u8, c_u32, c_u64, c_i64, c_int = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64, ctypes.c_int
c_bool, c_size, c_char_p, c_void_p = ctypes.c_bool, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p
P = ctypes.POINTER
NUM_REGS = 13


def _candidates():
    env = os.environ.get("JAVM_LIBRARY")
    if env:
        yield env
        return
    try:  # written by `cmake --install`: the library's folder relative to this package
        from . import _paths
        yield os.path.normpath(os.path.join(os.path.dirname(__file__), _paths.LIBDIR, "libjavm.so.0"))
    except ImportError:
        pass
    found = ctypes.util.find_library("javm")
    if found:
        yield found
    yield "libjavm.so.0"


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("javm: cannot load libjavm.so (set JAVM_LIBRARY to its path); tried "
                      + "; ".join(errors))


lib = _load()


class Hash32(ctypes.Structure):
    _fields_ = [("b", c_u8 * 32)]


class _KeyU(ctypes.Union):
    _fields_ = [("hash", Hash32), ("ref", c_u64)]


class Key(ctypes.Structure):
    _anonymous_ = ("u",)
    _fields_ = [("tag", c_int), ("u", _KeyU)]


KEY_NONE, KEY_HASH, KEY_REF = 0, 1, 2


class Exit(ctypes.Structure):
    _fields_ = [("reason", c_int), ("arg", c_u32)]


class PrepareOpts(ctypes.Structure):
    _fields_ = [("profile", c_int), ("mem_latency", c_u32)]


class State(ctypes.Structure):
    _fields_ = [("regs", c_u64 * NUM_REGS), ("pc", c_u32), ("gas", c_i64), ("mem", c_void_p),
                ("steps", c_u64), ("engine", c_int), ("ran", c_int), ("stop", c_void_p)]


ENGINES = {"auto": 0, "interp": 1, "jit": 2}


class LmdbOpts(ctypes.Structure):
    _fields_ = [("map_size", c_u64), ("no_sync", c_bool), ("read_only", c_bool)]


class DecodeErr(ctypes.Structure):
    _fields_ = [("reason", c_int), ("offset", c_u64), ("has_missing", c_bool), ("missing", Hash32)]


class InvokeOpts(ctypes.Structure):
    _fields_ = [("name", c_void_p), ("name_len", c_size)]


class CallResult(ctypes.Structure):
    _fields_ = [("kind", c_int), ("gas_used", c_u64), ("return_value", c_u64),
                ("post_instance", Hash32), ("has_slot0", c_bool), ("slot0", Hash32),
                ("fault_reason", c_int), ("fault_addr", c_u32), ("trap", c_int),
                ("marker", Hash32), ("catcher_position", c_u32)]


# ---- cap values (javm/cap.h) -------------------------------------------------------------
class Overlay(ctypes.Structure):
    _fields_ = [("start", c_u32), ("data", Hash32)]


class Instance(ctypes.Structure):
    _fields_ = [("image_hash_chain", Hash32), ("image_hash", Hash32), ("root_cnode", Key),
                ("overlays", P(Overlay)), ("n_overlays", c_u32), ("cap_overlays", c_u32),
                ("mem_size", c_u32), ("regs", c_u64 * NUM_REGS), ("pc", c_u64),
                ("gas_remaining", c_u64)]


class Endpoint(ctypes.Structure):
    _fields_ = [("entry_pc", c_u64), ("stack_top", c_u64), ("arg_cnode_slot", c_u32),
                ("arg_cnode_size", c_u8), ("initial_regs", c_u64 * NUM_REGS)]


class Mapping(ctypes.Structure):
    _fields_ = [("start", c_u64), ("size", c_u64), ("flags", c_u8), ("path_len", c_u8),
                ("path", c_u32 * 8)]


class SlotCap(ctypes.Structure):
    _fields_ = [("slot", c_u32), ("cap", Hash32)]


class Image(ctypes.Structure):
    _fields_ = [("code", P(c_u8)), ("code_len", c_u32), ("bitmask", P(c_u8)), ("bitmask_len", c_u32),
                ("jump_table", P(c_u32)), ("jt_count", c_u32), ("endpoints", P(Endpoint)),
                ("n_endpoints", c_u32), ("mappings", P(Mapping)), ("n_mappings", c_u32),
                ("pinned", P(SlotCap)), ("n_pinned", c_u32), ("initial", P(SlotCap)),
                ("n_initial", c_u32), ("has_yield_marker", c_bool), ("yield_marker_slot", c_u32)]


class Page(ctypes.Structure):
    _fields_ = [("state", c_int), ("bytes", P(c_u8)), ("hash", Hash32)]


class Data(ctypes.Structure):
    _fields_ = [("size", c_u64), ("paged", c_bool), ("bytes", P(c_u8)), ("chunks", ctypes.c_void_p),
                ("n_pages", c_u64), ("n_missing", c_u64), ("top", ctypes.c_void_p)]


class CNodeSlot(ctypes.Structure):
    _fields_ = [("slot", c_u32), ("target", Key)]


class CNode(ctypes.Structure):
    _fields_ = [("size_log", c_u8), ("n_slots", c_u32), ("cap_slots", c_u32), ("slots", P(CNodeSlot))]


class Type(ctypes.Structure):
    _fields_ = [("image_hash_chain", Hash32)]


class _CapU(ctypes.Union):
    _fields_ = [("instance", Instance), ("image", Image), ("data", Data), ("cnode", CNode),
                ("type", Type)]


class Cap(ctypes.Structure):
    _anonymous_ = ("u",)
    _fields_ = [("kind", c_int), ("u", _CapU)]


KIND_INSTANCE, KIND_IMAGE, KIND_DATA, KIND_CNODE, KIND_TYPE = 0x10, 0x20, 0x30, 0x40, 0x50

# ---- the store and kernel-assist headers (only the function pointers used) ----------------
SCAN_FN = ctypes.CFUNCTYPE(c_int, c_void_p, P(c_u8), c_size, P(c_u8), c_size)
FILE_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_u64, P(Hash32))
BLOB_CB = ctypes.CFUNCTYPE(c_int, c_void_p, P(Hash32), P(Cap), c_u32)
_fn = c_void_p  # function pointers the binding never calls


class StoreVtbl(ctypes.Structure):
    _fields_ = [("get", _fn), ("begin", _fn), ("put", _fn), ("del_", _fn), ("commit", _fn),
                ("abort", _fn), ("scan", ctypes.CFUNCTYPE(c_int, c_void_p, c_int, SCAN_FN, c_void_p)),
                ("close", _fn), ("touch", _fn), ("collect", _fn),
                ("put_stream", _fn), ("get_stream", _fn)]  # optional, appended (javm/cap.h)


class StoreHead(ctypes.Structure):
    _fields_ = [("vtbl", P(StoreVtbl)), ("errmsg", ctypes.c_char * 192), ("txn_end", _fn),
                ("txn_end_arg", c_void_p), ("flags", ctypes.c_uint32)]


class KaVtbl(ctypes.Structure):
    _fields_ = [("gas_meter_get", _fn), ("gas_meter_set", _fn),
                ("storage_quota_get", ctypes.CFUNCTYPE(c_u64, c_void_p, c_u64)),
                ("storage_quota_set", ctypes.CFUNCTYPE(c_u64, c_void_p, c_u64, c_u64)),
                ("yield_catcher_nonce", _fn), ("yield_catcher_register", _fn),
                ("yield_catcher_add", _fn), ("yield_catcher_remove", _fn),
                ("yield_catcher_contains", _fn), ("host_open", _fn), ("host_save", _fn),
                ("file_iter", ctypes.CFUNCTYPE(c_int, c_void_p, FILE_CB, c_void_p)),
                ("begin", _fn), ("persist", _fn), ("rollback", _fn), ("destroy", _fn),
                ("storage_quota_read", _fn)]


class KaHead(ctypes.Structure):
    _fields_ = [("vtbl", P(KaVtbl))]


TABLE_NAMES = 4


def _sig(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)


_sig("javm_version", c_char_p)
_sig("javm_version_number", c_int)
_sig("javm_strerror", c_char_p, c_int)
_sig("javm_exit_name", c_char_p, c_int)
_sig("javm_trap_name", c_char_p, c_int)
_sig("javm_free", None, c_void_p)
_sig("javm_hash_to_hex", None, P(Hash32), ctypes.c_char * 65)
# exec layer
_sig("javm_prepare_blob", c_int, c_char_p, c_size, P(PrepareOpts), P(c_void_p))
_sig("javm_program_free", None, c_void_p)
_sig("javm_memory_new", c_int, P(c_void_p))
_sig("javm_memory_free", None, c_void_p)
_sig("javm_memory_set_perm", c_int, c_void_p, c_u64, c_u64, c_int)
_sig("javm_memory_poke", c_int, c_void_p, c_u32, c_u64, c_char_p)
_sig("javm_memory_peek", c_int, c_void_p, c_u32, c_u64, c_void_p)
_sig("javm_run", Exit, c_void_p, P(State), c_int, c_void_p, c_void_p)
_sig("javm_jit_available", c_bool)
_sig("javm_engine_name", c_char_p, c_int)
_sig("javm_engine_resolve", c_int, c_int)
# caps, cache, stores
_sig("javm_store_mem_new", c_int, P(c_void_p))
_sig("javm_store_lmdb_open", c_int, c_char_p, P(LmdbOpts), P(c_void_p))
_sig("javm_store_close", None, c_void_p)
_sig("javm_store_errmsg", c_char_p, c_void_p)
_sig("javm_ka_mem_new", c_int, P(c_void_p))
_sig("javm_ka_store_new", c_int, c_void_p, P(c_void_p))
_sig("javm_ka_free", None, c_void_p)
_sig("javm_vm_new", c_int, P(c_void_p), c_u32)
_sig("javm_vm_free", None, c_void_p)
_sig("javm_vm_set_engine", c_int, c_void_p, c_int)
_sig("javm_abort", None, c_void_p, c_void_p, c_void_p)
_sig("javm_cache_open", c_int, c_void_p, P(c_void_p))
_sig("javm_cache_close", None, c_void_p)
_sig("javm_cache_get_hash", P(Cap), c_void_p, P(Hash32))
_sig("javm_cache_put_owned", c_int, c_void_p, c_void_p, P(Hash32))
_sig("javm_cache_decref", c_int, c_void_p, P(Key))
_sig("javm_cache_iter_blobs", c_int, c_void_p, BLOB_CB, c_void_p)
_sig("javm_data_new", c_int, c_char_p, c_u64, P(c_void_p))
_sig("javm_data_read", c_int, P(Cap), c_u64, c_void_p, c_u64)
_sig("javm_cap_free", None, c_void_p)
_sig("javm_cap_export", c_int, P(Cap), P(c_void_p), P(c_size))
_sig("javm_image_load", c_int, c_void_p, c_char_p, c_size, P(Hash32), P(DecodeErr))
_sig("javm_name_set", c_int, c_void_p, c_char_p, c_size, P(Hash32))
_sig("javm_name_get", c_int, c_void_p, c_char_p, c_size, P(Hash32))
_sig("javm_journal_begin", c_int, c_void_p, c_void_p)
_sig("javm_journal_commit", c_int, c_void_p, c_void_p)
_sig("javm_journal_abort", None, c_void_p, c_void_p)
_sig("javm_commit", c_int, c_void_p, c_void_p)
_sig("javm_gc", c_int, c_void_p, c_void_p, c_void_p, P(Hash32), c_size)
# VM
_sig("javm_spawn", c_int, c_void_p, P(Hash32), ctypes.c_uint, P(Hash32))
_sig("javm_invoke", c_int, c_void_p, c_void_p, c_void_p, P(Hash32), c_u32, c_u64 * 4, c_u64,
     P(Hash32), P(InvokeOpts), P(CallResult))
