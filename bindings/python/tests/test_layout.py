# SPDX-License-Identifier: MIT
"""The ctypes structures of javm/_native.py have the C layout: a small C program prints the
size of each structure and the offset of each field, and they must equal ctypes' figures."""
import ctypes
import shutil
import subprocess

import pytest

from javm import _native as N

STRUCTS = {  # C type -> (ctypes class, fields to check)
    "javm_key": (N.Key, ["tag", "hash", "ref"]),
    "javm_exit": (N.Exit, ["reason", "arg"]),
    "javm_prepare_opts": (N.PrepareOpts, ["profile", "mem_latency"]),
    "javm_state": (N.State, ["regs", "pc", "gas", "mem", "steps", "engine", "ran"]),
    "javm_lmdb_opts": (N.LmdbOpts, ["map_size", "no_sync", "read_only"]),
    "javm_decode_err": (N.DecodeErr, ["reason", "offset", "has_missing", "missing"]),
    "javm_invoke_opts": (N.InvokeOpts, ["name", "name_len"]),
    "javm_call_result": (N.CallResult, ["kind", "gas_used", "return_value", "post_instance", "has_slot0",
                                        "slot0", "fault_reason", "fault_addr", "trap", "marker",
                                        "catcher_position"]),
    "javm_overlay": (N.Overlay, ["start", "data"]),
    "javm_instance": (N.Instance, ["root_cnode", "overlays", "n_overlays", "mem_size", "regs", "pc",
                                   "gas_remaining"]),
    "javm_endpoint": (N.Endpoint, ["entry_pc", "stack_top", "arg_cnode_slot", "arg_cnode_size",
                                   "initial_regs"]),
    "javm_mapping": (N.Mapping, ["start", "size", "flags", "path_len", "path"]),
    "javm_slot_cap": (N.SlotCap, ["slot", "cap"]),
    "javm_image": (N.Image, ["code", "code_len", "bitmask", "bitmask_len", "jump_table", "jt_count",
                             "endpoints", "n_endpoints", "mappings", "n_mappings", "pinned", "n_pinned",
                             "initial", "n_initial", "has_yield_marker", "yield_marker_slot"]),
    "javm_page": (N.Page, ["state", "bytes", "hash"]),
    "javm_data": (N.Data, ["size", "paged", "bytes", "chunks", "n_pages", "n_missing", "top"]),
    "javm_cnode_slot": (N.CNodeSlot, ["slot", "target"]),
    "javm_cnode": (N.CNode, ["size_log", "n_slots", "cap_slots", "slots"]),
    "javm_cap": (N.Cap, ["kind", "instance", "image", "data", "cnode", "type"]),
    "javm_store_vtbl": (N.StoreVtbl, ["scan", "close", "touch", "collect", "put_stream",
                                      "get_stream"]),
    "struct javm_store": (N.StoreHead, ["vtbl", "errmsg", "txn_end", "txn_end_arg"]),
    "javm_ka_vtbl": (N.KaVtbl, ["storage_quota_get", "storage_quota_set", "file_iter", "destroy",
                                "storage_quota_read"]),
}


def test_structures_match_the_c_layout(root, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <javm.h>", "int main(void) {"]
    for ctype, (_, fields) in STRUCTS.items():
        lines.append(f'printf("{ctype} size %zu\\n", sizeof({ctype}));')
        for f in fields:
            lines.append(f'printf("{ctype} {f} %zu\\n", offsetof({ctype}, {f}));')
    lines.append("return 0; }")
    (tmp_path / "layout.c").write_text("\n".join(lines))
    subprocess.run([cc, "-std=gnu11", f"-I{root / 'include'}", str(tmp_path / "layout.c"), "-o",
                    str(tmp_path / "layout")], check=True)
    c = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout
    py = []
    for ctype, (cls, fields) in STRUCTS.items():
        py.append(f"{ctype} size {ctypes.sizeof(cls)}")
        for f in fields:
            # fields of anonymous unions sit at the union's offset plus their own
            if hasattr(cls, f):
                off = getattr(cls, f).offset
            else:
                off = cls.u.offset + getattr(cls._fields_[-1][1], f).offset
            py.append(f"{ctype} {f} {off}")
    assert c.split("\n")[:-1] == py
