# SPDX-License-Identifier: MIT
"""javm: Python binding of libjavm, the C11 implementation of the JAVM capability VM.

A thin layer over libjavm.so through ctypes (no compiled extension). The objects:

* Store — an LMDB store (or Store.memory()) with its cache, kernel assist and VM: put an
  image file, spawn, invoke, cat caps, iterate names, files and blobs, quotas, gc.
* Program — a prepared raw PVM program; run() runs one on the bare interpreter.
* run(), run_vector() — one-call forms of the same.
* Hash — a 32-byte cap hash; str() gives its lowercase hex.
* JavmError — a failing libjavm status, with its name (JAVM_ERR_...) and message.

Handles are closed by close() or a with block; using a closed handle raises ClosedError.
"""
import ctypes
import json
import os

from . import _native as N
from ._status import STATUS_NAMES

__version__ = "0.1.0"
__all__ = ["version", "jit_available", "Hash", "JavmError", "ClosedError", "Store", "Cap", "InvokeResult",
           "Program", "RunResult", "VectorResult", "run", "run_vector", "STATUS_NAMES"]

_lib = N.lib


def version():
    """The version of the loaded libjavm, "MAJOR.MINOR.PATCH"."""
    return _lib.javm_version().decode()


def jit_available():
    """Whether this libjavm and CPU have the x86-64 JIT (engine="jit")."""
    return bool(_lib.javm_jit_available())


def _engine(v):
    """An engine name ("auto", "interp", "jit") as libjavm's javm_engine."""
    if not isinstance(v, str):
        raise TypeError(f"engine must be a str, not {type(v).__name__}")
    if v not in N.ENGINES:
        raise ValueError(f"engine must be one of {', '.join(N.ENGINES)}, not '{v}'")
    return N.ENGINES[v]


# ---- errors --------------------------------------------------------------------------------
class JavmError(Exception):
    """A libjavm call failed. status: the negative code; name: its JAVM_ERR_* name;
    message: javm_strerror's text; detail: more context (file offset, store message)."""

    def __init__(self, status, detail=""):
        self.status = status
        self.name = STATUS_NAMES.get(status, f"JAVM_STATUS_{status}")
        self.message = _lib.javm_strerror(status).decode()
        self.detail = detail
        super().__init__(f"{self.name}: {self.message}" + (f" ({detail})" if detail else ""))


class ClosedError(ValueError):
    """An operation on a Store or Program that was closed."""


def _check(rc, detail=""):
    if rc != 0:
        raise JavmError(rc, detail() if callable(detail) else detail)


# ---- hashes --------------------------------------------------------------------------------
class Hash:
    """A 32-byte cap hash. Compare, hash and print it like a value; str() is lowercase hex."""

    __slots__ = ("_b",)

    def __init__(self, value):
        if isinstance(value, Hash):
            value = value._b
        if isinstance(value, str):
            if len(value) != 64:
                raise ValueError(f"a hash is 64 hex digits, got {len(value)} characters")
            value = bytes.fromhex(value)
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"Hash() takes a Hash, 32 bytes or 64 hex digits, not {type(value).__name__}")
        if len(value) != 32:
            raise ValueError(f"a hash is 32 bytes, got {len(value)}")
        self._b = bytes(value)

    @classmethod
    def _from_c(cls, h):
        return cls(bytes(h.b))

    def _to_c(self):
        h = N.Hash32()
        ctypes.memmove(h.b, self._b, 32)
        return h

    def __bytes__(self):
        return self._b

    def __str__(self):
        return self._b.hex()

    def __repr__(self):
        return f"Hash('{self._b.hex()}')"

    def __eq__(self, other):
        return isinstance(other, Hash) and other._b == self._b

    def __hash__(self):
        return hash(self._b)


# ---- caps ----------------------------------------------------------------------------------
_KIND_NAMES = {N.KIND_INSTANCE: "Instance", N.KIND_IMAGE: "Image", N.KIND_DATA: "Data",
               N.KIND_CNODE: "CNode", N.KIND_TYPE: "Type"}


def _key(k):
    return Hash._from_c(k.hash) if k.tag == N.KEY_HASH else None


def _slots(arr, n):
    return [(arr[i].slot, Hash._from_c(arr[i].cap)) for i in range(n)]


class Cap:
    """A decoded cap, as `javm cat` prints it: kind ("Instance", "Image", "Data", "CNode",
    "Type"), hash, and the kind's fields as attributes (also in .fields)."""

    def __init__(self, kind, hash, fields):
        self.kind, self.hash, self.fields = kind, hash, fields

    def __getattr__(self, name):
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(f"{self.__dict__.get('kind', 'Cap')} has no field '{name}'") from None

    def __repr__(self):
        return f"<Cap {self.kind} {self.hash}>"


def _decode_cap(c, h):
    k = c.kind
    if k == N.KIND_INSTANCE:
        i = c.instance
        f = {"image_hash_chain": Hash._from_c(i.image_hash_chain), "image_hash": Hash._from_c(i.image_hash),
             "root_cnode": _key(i.root_cnode), "mem_size": i.mem_size, "regs": list(i.regs),
             "pc": i.pc, "gas_remaining": i.gas_remaining,
             "overlays": [(i.overlays[j].start, Hash._from_c(i.overlays[j].data)) for j in range(i.n_overlays)]}
    elif k == N.KIND_IMAGE:
        m = c.image
        f = {"code": ctypes.string_at(m.code, m.code_len) if m.code_len else b"",
             "bitmask": ctypes.string_at(m.bitmask, m.bitmask_len) if m.bitmask_len else b"",
             "jump_table": [m.jump_table[j] for j in range(m.jt_count)],
             "endpoints": [{"entry_pc": e.entry_pc, "stack_top": e.stack_top,
                            "arg_cnode_slot": e.arg_cnode_slot, "arg_cnode_size": e.arg_cnode_size,
                            "initial_regs": list(e.initial_regs)}
                           for e in (m.endpoints[j] for j in range(m.n_endpoints))],
             "mappings": [{"start": p.start, "size": p.size, "writable": bool(p.flags & 1),
                           "path": [p.path[x] for x in range(p.path_len)]}
                          for p in (m.mappings[j] for j in range(m.n_mappings))],
             "pinned": _slots(m.pinned, m.n_pinned), "initial": _slots(m.initial, m.n_initial),
             "yield_marker_slot": m.yield_marker_slot if m.has_yield_marker else None}
    elif k == N.KIND_DATA:
        d = c.data
        buf = ctypes.create_string_buffer(d.size or 1)
        ok = _lib.javm_data_read(ctypes.byref(c), 0, buf, d.size) == 0
        f = {"size": d.size, "paged": bool(d.paged), "bytes": buf.raw[:d.size] if ok else None}
    elif k == N.KIND_CNODE:
        n = c.cnode
        f = {"size_log": n.size_log, "slots": {n.slots[j].slot: _key(n.slots[j].target) for j in range(n.n_slots)}}
    elif k == N.KIND_TYPE:
        f = {"image_hash_chain": Hash._from_c(c.type.image_hash_chain)}
    else:
        f = {}
    return Cap(_KIND_NAMES.get(k, f"kind 0x{k:02x}"), h, f)


class InvokeResult:
    """What one invocation ended with. status: "halt", "fault" or "paused". On halt:
    return_value (φ7), post_instance, output (the bytes of the Data left in slot 0, or None).
    On fault: fault ("page-fault at 0x...", "trap (SLOT_EMPTY)", "out-of-gas", ...)."""

    def __init__(self, **kw):
        self.status = kw["status"]
        self.gas_used = kw["gas_used"]
        self.return_value = kw.get("return_value")
        self.post_instance = kw.get("post_instance")
        self.output_hash = kw.get("output_hash")
        self.output = kw.get("output")
        self.fault = kw.get("fault")

    @property
    def halted(self):
        return self.status == "halt"

    def __repr__(self):
        if self.halted:
            return f"<InvokeResult halt return={self.return_value} gas_used={self.gas_used}>"
        return f"<InvokeResult {self.status} {self.fault or ''} gas_used={self.gas_used}>"


def _read_path(path, what):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a path (str or os.PathLike), not {type(path).__name__}")
    with open(path, "rb") as f:
        return f.read()


def _u64(v, what):
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what} must be an int, not {type(v).__name__}")
    if not 0 <= v < 1 << 64:
        raise ValueError(f"{what} must be in [0, 2^64), got {v}")
    return v


# ---- the store -----------------------------------------------------------------------------
class Store:
    """A JAVM store with its cache, kernel assist and VM, like one `javm` command session.

    Store(path) opens (creating on first use) the LMDB store at path, as `javm --store PATH`
    does; Store.memory() makes an in-memory store. engine ("auto", "interp", "jit") chooses
    what runs the guests; every engine gives the same results. Changes are committed as each method
    returns (invoke: only when the guest halts). Use as a context manager, or call close().
    One Store per store and process: other writers' changes are seen after reopening."""

    def __init__(self, path, *, no_sync=False, map_size=0, read_only=False, engine="auto"):
        self._store = self._cache = self._ka = self._vm = None
        eng = _engine(engine)
        self.path = os.fspath(path) if path is not None else None
        store = ctypes.c_void_p()
        if path is None:
            _check(_lib.javm_store_mem_new(ctypes.byref(store)))
        else:
            if not isinstance(path, (str, os.PathLike)):
                raise TypeError(f"Store path must be str or os.PathLike, not {type(path).__name__}")
            opts = N.LmdbOpts(_u64(map_size, "map_size"), bool(no_sync), bool(read_only))
            _check(_lib.javm_store_lmdb_open(os.fsencode(path), ctypes.byref(opts), ctypes.byref(store)),
                   lambda: f"store {self.path}")
        self._store = store.value
        try:
            cache, ka, vm = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
            _check(_lib.javm_cache_open(self._store, ctypes.byref(cache)), self._errmsg)
            self._cache = cache.value
            if path is None:
                _check(_lib.javm_ka_mem_new(ctypes.byref(ka)))
            else:
                _check(_lib.javm_ka_store_new(self._store, ctypes.byref(ka)))
            self._ka = ka.value
            _check(_lib.javm_vm_new(ctypes.byref(vm), 0))
            self._vm = vm.value
            _check(_lib.javm_vm_set_engine(self._vm, eng))
        except BaseException:
            self.close()
            raise

    @classmethod
    def memory(cls, *, engine="auto"):
        """A new in-memory store (gone when closed)."""
        return cls(None, engine=engine)

    # -- lifecycle --
    def close(self):
        """Releases the VM, kernel assist, cache and store. Idempotent."""
        if self._vm and self._cache:
            _lib.javm_abort(self._vm, self._cache, self._ka)
        if self._vm:
            _lib.javm_vm_free(self._vm)
        if self._ka:
            _lib.javm_ka_free(self._ka)
        if self._cache:
            _lib.javm_cache_close(self._cache)
        if self._store:
            _lib.javm_store_close(self._store)
        self._store = self._cache = self._ka = self._vm = None

    @property
    def closed(self):
        return self._store is None

    def __enter__(self):
        self._live()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        where = self.path if self.path is not None else "memory"
        return f"<javm.Store {where}{' closed' if self.closed else ''}>"

    def _live(self):
        if self._store is None:
            raise ClosedError("operation on a closed javm.Store")

    def _errmsg(self):
        return _lib.javm_store_errmsg(self._store).decode(errors="replace") if self._store else ""

    def _atomically(self, fn):
        """Runs fn inside one journal: all of its cache changes are committed, or none."""
        _check(_lib.javm_journal_begin(self._cache, self._ka), self._errmsg)
        try:
            out = fn()
        except BaseException:
            _lib.javm_journal_abort(self._cache, self._ka)
            raise
        _check(_lib.javm_journal_commit(self._cache, self._ka), self._errmsg)
        return out

    # -- resolving user input --
    def _hash_of(self, target, what="target"):
        """A Hash from a Hash, 32 bytes, 64 hex digits or a unique hex prefix (>= 8 digits)."""
        if isinstance(target, Hash):
            return target
        if isinstance(target, (bytes, bytearray)):
            return Hash(target)
        if not isinstance(target, str):
            raise TypeError(f"{what} must be a Hash, bytes or a hex string, not {type(target).__name__}")
        t = target.lower()
        if len(t) == 64:
            return Hash(t)
        if len(t) < 8 or len(t) > 64 or any(ch not in "0123456789abcdef" for ch in t):
            raise ValueError(f"'{target}' is not a hash or a prefix of at least 8 hex digits")
        matches = [h for h, _, _ in self.blobs() if str(h).startswith(t)]
        if not matches:
            raise JavmError(-200, f"no cap has a hash starting with {target}")
        if len(matches) > 1:
            raise ValueError(f"prefix {target} is ambiguous ({len(matches)} caps match)")
        return matches[0]

    def resolve(self, target):
        """The Instance hash a name points at, else the hash target spells (see _hash_of)."""
        self._live()
        if isinstance(target, str) and 1 <= len(target.encode()) <= 255:
            h = self.lookup(target)
            if h is not None:
                return h
        return self._hash_of(target)

    def lookup(self, name):
        """The Instance a name points at, or None."""
        self._live()
        if not isinstance(name, (str, bytes)):
            raise TypeError(f"name must be str or bytes, not {type(name).__name__}")
        b = name.encode() if isinstance(name, str) else name
        if not 1 <= len(b) <= 255:
            raise ValueError("a name is 1 to 255 bytes")
        out = N.Hash32()
        rc = _lib.javm_name_get(self._cache, b, len(b), ctypes.byref(out))
        if rc == -200:
            return None
        _check(rc)
        return Hash._from_c(out)

    # -- the operations of the javm command --
    def put_image(self, image):
        """Loads a JIMG image file (a path, or its bytes) and returns the Image hash. Nothing is
        stored when any record fails to decode (JavmError with the byte offset)."""
        self._live()
        buf = bytes(image) if isinstance(image, (bytes, bytearray, memoryview)) else _read_path(image, "image")
        out, err = N.Hash32(), N.DecodeErr()

        def load():
            rc = _lib.javm_image_load(self._cache, buf, len(buf), ctypes.byref(out), ctypes.byref(err))
            if rc:
                detail = f"at byte {err.offset}"
                if err.has_missing:
                    detail += f", missing cap {Hash._from_c(err.missing)}"
                raise JavmError(err.reason or rc, detail)
        self._atomically(load)
        return Hash._from_c(out)

    def spawn(self, image, *, name=None, size_log=8):
        """The first Instance of an Image (root CNode of 2^size_log slots); name, if given, is
        pointed at it. Returns the Instance hash."""
        self._live()
        ih = self._hash_of(image, "image")._to_c()
        if isinstance(size_log, bool) or not isinstance(size_log, int):
            raise TypeError("size_log must be an int")
        if not 0 <= size_log <= 255:
            raise ValueError(f"size_log must be in [0, 16], got {size_log}")
        nb = None
        if name is not None:
            if not isinstance(name, (str, bytes)):
                raise TypeError(f"name must be str or bytes, not {type(name).__name__}")
            nb = name.encode() if isinstance(name, str) else bytes(name)
            if not 1 <= len(nb) <= 255:
                raise ValueError("a name is 1 to 255 bytes")
        out = N.Hash32()

        def spawn():
            _check(_lib.javm_spawn(self._cache, ctypes.byref(ih), size_log, ctypes.byref(out)))
            if nb is not None:
                _check(_lib.javm_name_set(self._cache, nb, len(nb), ctypes.byref(out)))
        self._atomically(spawn)
        return Hash._from_c(out)

    def invoke(self, target, *args, endpoint=0, input=None, gas=1_000_000_000):
        """Invokes an endpoint of an Instance (a name or a hash) with up to four u64 arguments
        (φ7..φ10) and optional input bytes (a Data cap in slot 0). On halt the post-instance is
        committed and a name given as target moves to it; any other end leaves no trace."""
        self._live()
        if len(args) == 1 and isinstance(args[0], (list, tuple)):
            args = tuple(args[0])
        if len(args) > 4:
            raise ValueError(f"at most 4 arguments, got {len(args)}")
        argv = (ctypes.c_uint64 * 4)(*[_u64(a, "argument") for a in args])
        _u64(endpoint, "endpoint")
        if _u64(gas, "gas") >= 1 << 63:
            raise ValueError("gas must be below 2^63")
        if input is not None and not isinstance(input, (bytes, bytearray, memoryview)):
            raise TypeError(f"input must be bytes, not {type(input).__name__}")
        # a name (moved to the post-instance on halt), else a hash or unique prefix
        named = None
        if isinstance(target, str) and 1 <= len(target.encode()) <= 255:
            named = self.lookup(target)
        if named is None and isinstance(target, str) and \
                (len(target) < 8 or any(ch not in "0123456789abcdefABCDEF" for ch in target)):
            raise JavmError(-200, f"no name '{target}' (and it is not a hash prefix)")
        inst = (named or self._hash_of(target))._to_c()
        opts = None
        if named is not None:
            nb = target.encode()
            name_buf = ctypes.create_string_buffer(nb, len(nb))
            opts = N.InvokeOpts(ctypes.cast(name_buf, ctypes.c_void_p), len(nb))
        slot0 = None
        if input is not None:
            data, h = ctypes.c_void_p(), N.Hash32()
            ib = bytes(input)
            _check(_lib.javm_data_new(ib, len(ib), ctypes.byref(data)))
            rc = _lib.javm_cache_put_owned(self._cache, data, ctypes.byref(h))
            if rc:
                _lib.javm_cap_free(data)
                _check(rc)
            slot0 = h
        r = N.CallResult()
        rc = _lib.javm_invoke(self._vm, self._cache, self._ka, ctypes.byref(inst), endpoint, argv, gas,
                              ctypes.byref(slot0) if slot0 is not None else None,
                              ctypes.byref(opts) if opts is not None else None, ctypes.byref(r))
        if slot0 is not None and (rc or r.kind != 0):
            # the input was never taken in: release its hold so no later commit keeps it
            k = N.Key()
            k.tag, k.hash = N.KEY_HASH, slot0
            _lib.javm_cache_decref(self._cache, ctypes.byref(k))
        _check(rc, self._errmsg)
        if r.kind == 0:
            out = None
            if r.has_slot0:
                c = _lib.javm_cache_get_hash(self._cache, ctypes.byref(r.slot0))
                if c and c.contents.kind == N.KIND_DATA:
                    out = _decode_cap(c.contents, None).fields["bytes"]
            return InvokeResult(status="halt", gas_used=r.gas_used, return_value=r.return_value,
                                post_instance=Hash._from_c(r.post_instance),
                                output_hash=Hash._from_c(r.slot0) if r.has_slot0 else None, output=out)
        if r.kind == 2:
            return InvokeResult(status="paused", gas_used=r.gas_used, fault="paused (not persisted)")
        if r.fault_reason == 3:  # JAVM_EXIT_PAGE_FAULT
            fault = f"page-fault at 0x{r.fault_addr:x}"
        elif r.fault_reason == 7 and r.trap:
            fault = f"trap ({_lib.javm_trap_name(r.trap).decode()})"
        else:
            fault = _lib.javm_exit_name(r.fault_reason).decode()
        return InvokeResult(status="fault", gas_used=r.gas_used, fault=fault)

    def cat(self, cap):
        """The cap with this hash (a Hash, bytes, hex or unique prefix), decoded."""
        self._live()
        h = self._hash_of(cap, "cap")
        hc = h._to_c()
        c = _lib.javm_cache_get_hash(self._cache, ctypes.byref(hc))
        if not c:
            raise JavmError(-200, f"no cap {h}")
        return _decode_cap(c.contents, h)

    def cat_raw(self, cap):
        """The JCAP export file bytes of a cap (`javm cat --raw`)."""
        self._live()
        hc = self._hash_of(cap, "cap")._to_c()
        c = _lib.javm_cache_get_hash(self._cache, ctypes.byref(hc))
        if not c:
            raise JavmError(-200, f"no cap {Hash._from_c(hc)}")
        p, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_lib.javm_cap_export(c, ctypes.byref(p), ctypes.byref(n)))
        try:
            return ctypes.string_at(p, n.value)
        finally:
            _lib.javm_free(p)

    def names(self):
        """Iterates (name, Instance hash) in name order; a name that is not UTF-8 is bytes."""
        self._live()
        found = []

        @N.SCAN_FN
        def cb(_arg, key, klen, val, vlen):
            k = ctypes.string_at(key, klen)
            try:
                k = k.decode()
            except UnicodeDecodeError:
                pass
            found.append((k, Hash(ctypes.string_at(val, vlen)) if vlen == 32 else None))
            return 0
        head = ctypes.cast(self._store, ctypes.POINTER(N.StoreHead)).contents
        _check(head.vtbl.contents.scan(self._store, N.TABLE_NAMES, cb, None), self._errmsg)
        return iter(found)

    def files(self):
        """Iterates (file id, Data hash, size in bytes) in id order (`javm files`)."""
        self._live()
        found = []

        @N.FILE_CB
        def cb(_arg, fid, h):
            c = _lib.javm_cache_get_hash(self._cache, h)
            size = c.contents.data.size if c and c.contents.kind == N.KIND_DATA else 0
            found.append((fid, Hash._from_c(h.contents), size))
            return 0
        head = ctypes.cast(self._ka, ctypes.POINTER(N.KaHead)).contents
        _check(head.vtbl.contents.file_iter(self._ka, cb, None))
        return iter(found)

    def read_file(self, file_id):
        """The bytes of the Data a file id names."""
        for fid, h, _ in self.files():
            if fid == file_id:
                return self.cat(h).bytes
        raise JavmError(-200, f"no file {file_id}")

    def blobs(self):
        """Iterates (hash, kind name, refcount) over every stored cap in hash order."""
        self._live()
        found = []

        @N.BLOB_CB
        def cb(_arg, h, cap, refcount):
            found.append((Hash._from_c(h.contents), _KIND_NAMES.get(cap.contents.kind, "?"), refcount))
            return 0
        _check(_lib.javm_cache_iter_blobs(self._cache, cb, None), self._errmsg)
        return iter(found)

    def quota(self, quota_id):
        """Storage quota quota_id: bytes guests may still mint or save under it."""
        self._live()
        head = ctypes.cast(self._ka, ctypes.POINTER(N.KaHead)).contents
        return head.vtbl.contents.storage_quota_get(self._ka, _u64(quota_id, "quota id"))

    def set_quota(self, quota_id, value):
        """Sets storage quota quota_id to value (committed at once); returns the old value."""
        self._live()
        _u64(quota_id, "quota id")
        _u64(value, "quota value")
        head = ctypes.cast(self._ka, ctypes.POINTER(N.KaHead)).contents
        return self._atomically(lambda: head.vtbl.contents.storage_quota_set(self._ka, quota_id, value))

    def gc(self):
        """Deletes every cap no name or file reaches (one transaction); returns how many."""
        self._live()
        before = sum(1 for _ in self.blobs())
        _check(_lib.javm_gc(self._vm, self._cache, self._ka, None, 0), self._errmsg)
        return before - sum(1 for _ in self.blobs())


# ---- raw programs on the bare interpreter --------------------------------------------------
_PROFILES = {"javm": 0, "gp": 1}
_GAS_MODELS = {"pipeline": 0, "instr": 1}
_STATUS_WORDS = {0: "halt", 1: "panic", 2: "out-of-gas", 3: "page-fault", 4: "host", 5: "ecall", 6: "?",
                 7: "trap", 8: "stopped"}


def _choice(v, table, what):
    if not isinstance(v, str):
        raise TypeError(f"{what} must be a str, not {type(v).__name__}")
    if v not in table:
        raise ValueError(f"{what} must be one of {', '.join(table)}, not '{v}'")
    return table[v]


class RunResult:
    """The end of one run: status (the vectors' word: "halt", "panic", "page-fault",
    "out-of-gas", "host", "ecall", "trap"), exit_arg (the host-call immediate or the fault
    address), pc, regs (13 ints), gas (left), instructions (executed, the last included),
    engine (the engine that ran: "interp" or "jit")."""

    def __init__(self, status, exit_arg, st):
        self.status, self.exit_arg = status, exit_arg
        self.pc, self.regs, self.gas, self.instructions = st.pc, list(st.regs), st.gas, st.steps
        self.engine = _lib.javm_engine_name(st.ran).decode() if st.ran else None

    def __repr__(self):
        return f"<RunResult {self.status} pc={self.pc} gas={self.gas} instructions={self.instructions}>"


class Program:
    """A prepared raw PVM program (a GP "deblob": jump table, code and bitmask), validated and
    predecoded once, run any number of times. Use as a context manager or call close()."""

    def __init__(self, blob, *, profile="javm", mem_latency=25):
        self._p = None
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise TypeError(f"Program() takes the program's bytes, not {type(blob).__name__}")
        self.profile = profile
        opts = N.PrepareOpts(_choice(profile, _PROFILES, "profile"), _u64(mem_latency, "mem_latency"))
        b = bytes(blob)
        p = ctypes.c_void_p()
        _check(_lib.javm_prepare_blob(b, len(b), ctypes.byref(opts), ctypes.byref(p)))
        self._p = p.value

    def close(self):
        if self._p:
            _lib.javm_program_free(self._p)
        self._p = None

    @property
    def closed(self):
        return self._p is None

    def __enter__(self):
        if self._p is None:
            raise ClosedError("operation on a closed javm.Program")
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def run(self, *, gas=1 << 50, gas_model="pipeline", regs=None, pc=0, pages=(), memory=(),
            engine="auto", _keep_memory=False):
        """Runs from pc with regs (13 ints, default zeros) and gas on a fresh memory where each
        of pages, (address, length[, writable=True]), is made accessible (whole pages) and each
        of memory, (address, bytes), is written first, on engine ("auto", "interp", "jit"). No
        host-call handler: ecalli ends the run with status "host". Returns a RunResult."""
        if self._p is None:
            raise ClosedError("operation on a closed javm.Program")
        model = _choice(gas_model, _GAS_MODELS, "gas_model")
        if isinstance(gas, bool) or not isinstance(gas, int):
            raise TypeError("gas must be an int")
        st = N.State()
        if regs is not None:
            regs = list(regs)
            if len(regs) != N.NUM_REGS:
                raise ValueError(f"regs must hold {N.NUM_REGS} values")
            for i, r in enumerate(regs):
                st.regs[i] = _u64(r, "register")
        st.pc, st.gas = _u64(pc, "pc"), gas
        st.engine = _engine(engine)
        mem = ctypes.c_void_p()
        _check(_lib.javm_memory_new(ctypes.byref(mem)))
        try:
            for pg in pages:
                addr, length = pg[0], pg[1]
                writable = pg[2] if len(pg) > 2 else True
                start = addr & ~0xFFF
                end = (addr + length + 0xFFF) & ~0xFFF
                _check(_lib.javm_memory_set_perm(mem, start, end - start, 2 if writable else 1))
            for addr, data in memory:
                _check(_lib.javm_memory_poke(mem, addr, len(data), bytes(data)))
            st.mem = mem.value
            ex = _lib.javm_run(self._p, ctypes.byref(st), model, None, None)
            status = _STATUS_WORDS.get(ex.reason, "?")
            if ex.reason == 7 and self.profile == "gp":
                status = "panic"
            res = RunResult(status, ex.arg, st)
            if _keep_memory:
                res._mem, mem = mem, None
            return res
        finally:
            if mem is not None and mem.value:
                _lib.javm_memory_free(mem)


def _peek(mem, addr, n):
    buf = ctypes.create_string_buffer(n or 1)
    _check(_lib.javm_memory_peek(mem, addr, n, buf))
    return buf.raw[:n]


def run(program, **kw):
    """Runs one raw program: program is its bytes, or the path of a .bin deblob (run as
    Program(...).run(**kw) with profile and mem_latency taken from kw)."""
    blob = bytes(program) if isinstance(program, (bytes, bytearray, memoryview)) else _read_path(program, "program")
    popts = {k: kw.pop(k) for k in ("profile", "mem_latency") if k in kw}
    with Program(blob, **popts) as p:
        return p.run(**kw)


class VectorResult:
    """A vector's run: result (RunResult), mismatches (one line per field that differs from
    the vector's expected-* keys) and passed (no mismatch)."""

    def __init__(self, name, result, mismatches):
        self.name, self.result, self.mismatches = name, result, mismatches

    @property
    def passed(self):
        return not self.mismatches

    def __repr__(self):
        return f"<VectorResult {self.name} {'passed' if self.passed else 'FAILED'}>"


def run_vector(path, *, profile="gp", gas_model="instr", engine="auto"):
    """Runs a JAM PVM test vector (JSON) and compares every expected-* field, as `javm vectors`
    does by default (GP profile, one gas per instruction); a blob that fails to prepare is an
    immediate panic. For the benchmark programs pass profile="javm", gas_model="pipeline"."""
    v = json.loads(_read_path(path, "vector"))
    if not isinstance(v, dict) or "program" not in v:
        raise ValueError(f"{path}: not a PVM test vector (no 'program' key)")
    pages = [(p["address"], p["length"], p["is-writable"]) for p in v.get("initial-page-map", [])]
    memory = [(m["address"], bytes(m["contents"])) for m in v.get("initial-memory", [])]
    st_kw = dict(gas=v.get("initial-gas", 0), gas_model=gas_model, regs=v.get("initial-regs"),
                 pc=v.get("initial-pc", 0), pages=pages, memory=memory, engine=engine)
    mism = []
    try:
        prog = Program(bytes(v["program"]), profile=profile)
    except JavmError:
        prog = None
    if prog is None:  # an undecodable blob panics at once with the state untouched
        st = N.State()
        for i, r in enumerate(st_kw["regs"] or []):
            st.regs[i] = r
        st.pc, st.gas = st_kw["pc"], st_kw["gas"]
        res, mem = RunResult("panic", 0, st), None
    else:
        with prog:
            res = prog.run(_keep_memory=True, **st_kw)
        mem = res.__dict__.pop("_mem")
    try:
        def want(key, got, show=str):
            if key in v and v[key] != got:
                mism.append(f"{key[9:]}: expected {show(v[key])}, got {show(got)}")
        want("expected-status", res.status)
        want("expected-pc", res.pc)
        want("expected-regs", res.regs)
        gas_key = "expected-gas-1pi" if gas_model == "instr" and "expected-gas-1pi" in v else "expected-gas"
        want(gas_key, res.gas)
        want("expected-instructions", res.instructions)
        fault = v.get("expected-page-fault-address")
        if fault is not None or res.status == "page-fault":
            got = res.exit_arg if res.status == "page-fault" else None
            if got != fault:
                mism.append(f"page-fault-address: expected {fault}, got {got}")
        fnv = v.get("expected-memory-fnv1a64")
        if fnv and mem is not None:
            h = 0xcbf29ce484222325
            for byte in _peek(mem, fnv["address"], fnv["length"]):
                h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
            if h != int(fnv["hash"], 16):
                mism.append(f"memory: FNV-1a expected {fnv['hash']}, got 0x{h:016x}")
        elif mem is not None:
            # every accessible page must hold the expected chunks and zeros elsewhere
            exp = v.get("expected-memory", [])
            for addr, length, _ in pages:
                for pg in range((addr & ~0xFFF), (addr + length + 0xFFF) & ~0xFFF, 4096):
                    want = bytearray(4096)
                    for m in exp:
                        for i, b in enumerate(m["contents"]):
                            if pg <= m["address"] + i < pg + 4096:
                                want[m["address"] + i - pg] = b
                    if _peek(mem, pg, 4096) != want:
                        mism.append(f"memory: page 0x{pg:x} differs")
                        break
    finally:
        if mem is not None:
            _lib.javm_memory_free(mem)
    return VectorResult(v.get("name", os.path.basename(os.fspath(path))), res, mism)
