# SPDX-License-Identifier: MIT
"""The binding's status table is the header's, and errors carry name, code and message."""
import re

import pytest

import javm


def test_status_names_match_the_header(root):
    text = (root / "include" / "javm" / "status.h").read_text()
    header = {int(v): n for n, v in re.findall(r"^\s+(JAVM_(?:OK|ERR_[A-Z0-9_]+)) = (-?\d+),?", text, re.M)}
    assert len(header) > 40
    assert javm.STATUS_NAMES == header


def test_error_fields():
    e = javm.JavmError(-200, "detail here")
    assert (e.status, e.name) == (-200, "JAVM_ERR_NOT_FOUND")
    assert e.message and e.message != "unknown status"
    assert str(e) == f"JAVM_ERR_NOT_FOUND: {e.message} (detail here)"
    assert javm.JavmError(-9999).name == "JAVM_STATUS_-9999"


def test_hash_values():
    h = javm.Hash(bytes(range(32)))
    assert str(h) == bytes(range(32)).hex() and javm.Hash(str(h)) == h and bytes(h) == bytes(range(32))
    assert len({h, javm.Hash(bytes(h))}) == 1
    for bad, exc in ((b"short", ValueError), ("zz" * 32, ValueError), (42, TypeError)):
        with pytest.raises(exc):
            javm.Hash(bad)
