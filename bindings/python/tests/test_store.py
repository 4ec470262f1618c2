# SPDX-License-Identifier: MIT
"""Stores: the demo guests' round trip (put, spawn, invoke with arguments and input bytes,
output, names, files, cat), persistence across reopening and with the javm command, and the
bad inputs (closed handle, wrong types, a store that is a file, junk images, unknown hashes)."""
import hashlib
import subprocess

import pytest

import javm


@pytest.fixture
def store(tmp_path):
    with javm.Store(tmp_path / "store") as s:
        yield s


def spawn(store, guests, name):
    return store.spawn(store.put_image(guests[name]), name=name)


def test_counter_state_persists_between_invocations(store, guests):
    inst = spawn(store, guests, "counter")
    assert store.lookup("counter") == inst
    assert [store.invoke("counter", n).return_value for n in (5, 10, 27)] == [1005, 1015, 1042]
    r = store.invoke("counter", endpoint=1)
    assert r.halted and r.return_value == 3 and r.gas_used > 0
    assert store.lookup("counter") == r.post_instance != inst


def test_fib_recursive_and_iterative(store, guests):
    spawn(store, guests, "fib")
    assert store.invoke("fib", 25).return_value == 75025
    assert store.invoke("fib", [90], endpoint=1).return_value == 2880067194370816120


def test_notes_input_files_and_output(store, guests):
    spawn(store, guests, "notes")
    store.set_quota(0, 1_000_000)
    ids = [store.invoke("notes", input=t).return_value for t in (b"buy milk", b"call bob")]
    assert store.invoke("notes", endpoint=2).return_value == 2
    files = list(store.files())
    assert [f[0] for f in files] == ids and all(isinstance(h, javm.Hash) for _, h, _ in files)
    r = store.invoke("notes", ids[0], endpoint=1)
    assert r.output == b"note 1: buy milk" and r.return_value == len(r.output)
    assert store.read_file(ids[1]) == b"note 2: call bob"
    assert store.quota(0) < 1_000_000


def test_blake2b_guest_matches_hashlib(store, guests):
    spawn(store, guests, "blake2b")
    store.set_quota(0, 1_000_000)  # the guest mints its digest as a Data cap
    blob = bytes((i * 7 + 3) & 0xFF for i in range(100_000))
    r = store.invoke("blake2b", input=blob)
    assert r.output == hashlib.blake2b(blob, digest_size=32).digest()


def test_sort_guest_halts(store, guests):
    spawn(store, guests, "sort")
    store.set_quota(0, 10_000_000)
    assert store.invoke("sort", 1000, 42).halted


def test_names_and_cat(store, guests):
    img = store.put_image(guests["counter"])
    a = store.spawn(img, name="a")
    b = store.spawn(img, name="b", size_log=4)
    assert a != b
    assert list(store.names()) == [("a", a), ("b", b)]
    inst = store.cat(a)
    assert inst.kind == "Instance" and inst.image_hash == img and inst.hash == a
    assert store.cat(inst.root_cnode).kind == "CNode" and store.cat(b).fields["root_cnode"] != inst.root_cnode
    assert store.cat(store.cat(b).root_cnode).size_log == 4
    image = store.cat(str(img)[:12])  # a unique prefix
    assert image.kind == "Image" and image.code and len(image.endpoints) == 2
    kinds = {k for _, k, _ in store.blobs()}
    assert {"Instance", "Image", "CNode"} <= kinds
    with pytest.raises(AttributeError):
        image.no_such_field


def test_store_outlives_the_handle_and_matches_the_cli(tmp_path, guests, cli):
    path = tmp_path / "store"
    with javm.Store(path) as s:
        img = s.put_image(guests["counter"])
        s.spawn(img, name="counter")
        s.invoke("counter", 7)
    with javm.Store(path) as s:
        assert s.invoke("counter", endpoint=1).return_value == 1
        raw = s.cat_raw(img)
    out = subprocess.run([cli, "invoke", "counter", "--endpoint", "1", "--store", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert "return: 1" in out  # one counted call, made by the first handle
    cat = subprocess.run([cli, "cat", str(img), "--raw", "--store", str(path)], capture_output=True, check=True)
    assert cat.stdout == raw and raw.startswith(b"JCAP")


def test_a_fault_leaves_no_trace(store, guests):
    spawn(store, guests, "counter")
    before = store.lookup("counter")
    blobs = list(store.blobs())
    r = store.invoke("counter", 1, gas=5, input=b"unused input")
    assert r.status == "fault" and r.fault == "out-of-gas" and not r.halted
    assert store.lookup("counter") == before and list(store.blobs()) == blobs


def test_gc_deletes_unreachable_caps(store, guests):
    img = store.put_image(guests["fib"])
    assert store.gc() >= 1  # the image was reachable from no name
    with pytest.raises(javm.JavmError) as e:
        store.cat(img)
    assert e.value.name == "JAVM_ERR_NOT_FOUND"


@pytest.mark.parametrize("engine", ["interp", pytest.param("jit", marks=pytest.mark.skipif(
    not javm.jit_available(), reason="no JIT in this build or CPU"))])
def test_memory_store_on_each_engine(guests, engine):
    with javm.Store.memory(engine=engine) as s:
        s.spawn(s.put_image(guests["counter"]), name="c")
        assert s.invoke("c", 2).return_value == 1002
        s.spawn(s.put_image(guests["fib"]), name="fib")
        assert s.invoke("fib", 25).return_value == 75025
        assert repr(s) == "<javm.Store memory>"


def test_closed_handle(tmp_path):
    s = javm.Store(tmp_path / "s")
    s.close()
    assert s.closed
    for call in (lambda: s.names(), lambda: s.put_image(b""), lambda: s.invoke("x"), lambda: s.cat("0" * 64),
                 lambda: s.files(), lambda: s.quota(0), lambda: s.gc()):
        with pytest.raises(javm.ClosedError):
            call()
    with pytest.raises(javm.ClosedError):
        with s:
            pass
    s.close()


def test_a_store_that_is_a_file(tmp_path):
    f = tmp_path / "plain-file"
    f.write_text("not a store")
    with pytest.raises(javm.JavmError) as e:
        javm.Store(f)
    assert e.value.name.startswith("JAVM_ERR_STORE")


def test_wrong_types(store, guests):
    with pytest.raises(TypeError):
        javm.Store(42)
    with pytest.raises(ValueError):
        javm.Store.memory(engine="turbo")
    with pytest.raises(TypeError):
        store.put_image(3.5)
    with pytest.raises(TypeError):
        store.spawn(12345)
    img = store.put_image(guests["counter"])
    with pytest.raises(TypeError):
        store.spawn(img, name=7)
    with pytest.raises(ValueError):
        store.spawn(img, name="")
    store.spawn(img, name="c")
    with pytest.raises(TypeError):
        store.invoke("c", "five")
    with pytest.raises(ValueError):
        store.invoke("c", -1)
    with pytest.raises(ValueError):
        store.invoke("c", 1, 2, 3, 4, 5)
    with pytest.raises(TypeError):
        store.invoke("c", input="text, not bytes")
    with pytest.raises(TypeError):
        store.cat(None)


def test_bad_input_raises_with_the_status_name(store, guests, tmp_path):
    with pytest.raises(javm.JavmError) as e:
        store.put_image(b"JUNK" * 10)
    assert e.value.name == "JAVM_ERR_BAD_MAGIC" and "at byte" in e.value.detail
    truncated = guests["counter"].read_bytes()[:-5]
    with pytest.raises(javm.JavmError):
        store.put_image(truncated)
    assert list(store.blobs()) == []  # nothing of a failed put is kept
    with pytest.raises(javm.JavmError) as e:
        store.cat("ab" * 32)
    assert e.value.name == "JAVM_ERR_NOT_FOUND"
    with pytest.raises(ValueError):
        store.cat("abc")  # too short a prefix
    with pytest.raises(javm.JavmError):
        store.invoke("no-such-name")
    img = store.put_image(guests["counter"])
    store.spawn(img, name="c")
    with pytest.raises(javm.JavmError) as e:
        store.invoke("c", endpoint=9)
    assert e.value.name == "JAVM_ERR_NO_SUCH_ENDPOINT"
    with pytest.raises(javm.JavmError) as e:
        store.spawn(img, size_log=17)
    assert e.value.name == "JAVM_ERR_INVALID_CNODE_SIZE"
    with pytest.raises(FileNotFoundError):
        store.put_image(tmp_path / "missing.jimg")
