# SPDX-License-Identifier: MIT
"""Raw programs on the bare interpreter: the conformance vectors, the benchmark programs, and
the bad inputs of Program and run()."""
import pytest

import javm

FIB90 = bytes([0, 0, 24, 51, 7, 51, 8, 1, 51, 9, 90, 1, 200, 0x87, 10, 100, 0x87, 100, 0xA8, 149,
               0x99, 0xFF, 82, 0x09, 0xF6, 10, 0, 0x25, 0x53, 0x49])  # the program of `javm demo`


def test_version_matches_the_package():
    assert javm.version() == javm.__version__


ENGINES = ["interp", pytest.param("jit", marks=pytest.mark.skipif(not javm.jit_available(),
                                                                 reason="no JIT in this build or CPU"))]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_conformance_vector_passes(root, engine):
    files = sorted((root / "tests" / "vectors" / "v0.4-w3f-pr3" / "programs").glob("*.json"))
    assert len(files) == 307
    failed = [(f.name, r.mismatches) for f in files if not (r := javm.run_vector(f, engine=engine)).passed]
    assert failed == []


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["fib", "muldiv", "sieve"])
def test_benchmark_programs_under_the_javm_profile(root, name, engine):
    r = javm.run_vector(root / "bench" / "programs" / f"{name}.json", profile="javm", gas_model="pipeline",
                        engine=engine)
    assert r.passed, r.mismatches
    assert (r.result.status, r.result.engine) == ("host", engine)


def test_a_vector_that_does_not_match_is_reported(root, tmp_path):
    import json
    v = json.loads((root / "tests" / "vectors" / "v0.4-w3f-pr3" / "programs" / "inst_add_64.json").read_text())
    v["expected-regs"][9] += 1
    v["expected-pc"] += 1
    (tmp_path / "bad.json").write_text(json.dumps(v))
    r = javm.run_vector(tmp_path / "bad.json")
    assert not r.passed
    assert [m.split(":")[0] for m in r.mismatches] == ["pc", "regs"]


@pytest.mark.parametrize("engine", ENGINES)
def test_run_a_raw_program(engine):
    r = javm.run(FIB90, gas=100000, engine=engine)
    assert r.engine == engine
    assert (r.status, r.exit_arg, r.regs[7]) == ("host", 0, 2880067194370816120)
    assert r.pc == 24 and r.instructions > 90 and 0 < r.gas < 100000


def test_run_a_bin_file_with_pages(root):
    r = javm.run(root / "bench" / "programs" / "sieve.bin", pages=[(0x10000, 1 << 20)], gas_model="instr")
    assert r.status == "host" and r.regs[6] == 82025 and r.instructions == 14404819
    # without its memory the first store faults on the page at 0x10000
    r = javm.run(root / "bench" / "programs" / "sieve.bin")
    assert (r.status, r.exit_arg) == ("page-fault", 0x10000)


def test_out_of_gas():
    assert javm.run(FIB90, gas=10).status == "out-of-gas"


def test_program_is_a_context_manager_and_reusable():
    with javm.Program(FIB90) as p:
        assert p.run(gas=100000).regs[7] == p.run(gas=100000).regs[7] == 2880067194370816120
    assert p.closed
    with pytest.raises(javm.ClosedError):
        p.run()
    with pytest.raises(javm.ClosedError):
        with p:
            pass
    p.close()  # idempotent


def test_bad_program_bytes_raise_with_the_status_name():
    with pytest.raises(javm.JavmError) as e:
        javm.Program(b"\x05")
    assert e.value.name == "JAVM_ERR_BLOB_TRUNCATED" and e.value.status == -100
    assert "JAVM_ERR_BLOB_TRUNCATED" in str(e.value)


def test_wrong_types_and_values():
    with pytest.raises(TypeError):
        javm.Program("not bytes")
    with pytest.raises(TypeError):
        javm.run(FIB90, gas="lots")
    with pytest.raises(ValueError):
        javm.run(FIB90, gas_model="fast")
    with pytest.raises(ValueError):
        javm.run(FIB90, profile="other")
    with pytest.raises(ValueError):
        javm.run(FIB90, engine="fast")
    with pytest.raises(TypeError):
        javm.run(FIB90, engine=2)
    with pytest.raises(ValueError):
        javm.run(FIB90, regs=[1, 2, 3])
    with pytest.raises(ValueError):
        javm.run(FIB90, regs=[-1] * 13)
    with pytest.raises(TypeError):
        javm.run(12345)
    with pytest.raises(FileNotFoundError):
        javm.run("/nonexistent/program.bin")
