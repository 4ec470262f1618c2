# SPDX-License-Identifier: MIT
"""Fixtures of the binding's tests. ctest runs them with JAVM_LIBRARY (the built libjavm.so),
JAVM_CLI (the built javm command) and JAVM_SOURCE_DIR set; see CMakeLists.txt."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(os.environ.get("JAVM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(ROOT / "bindings" / "python"))


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("JAVM_CLI")
    if not path:
        pytest.fail("JAVM_CLI is not set (run through ctest, or set it to build/javm)")
    return path


@pytest.fixture(scope="session")
def guests(tmp_path_factory, cli):
    """The example guests of guest/examples built into .jimg files with guest/build.sh."""
    if not shutil.which("clang-19") or not shutil.which("ld.lld-19"):
        pytest.skip("clang-19 not installed (scripts/deps.sh guest)")
    out = tmp_path_factory.mktemp("guests")
    ex = ROOT / "guest" / "examples"
    recipes = {"counter": [ex / "counter.c"], "notes": [ex / "notes.c"], "fib": [ex / "fib.c"],
               "blake2b": [ex / "blake2b.c", ex / "lib" / "blake2b.c", "--", f"-I{ex}"],
               "sort": [ex / "sort.c", ex / "lib" / "kernels.c", "--", f"-I{ex}"]}
    files = {}
    for name, srcs in recipes.items():
        files[name] = out / f"{name}.jimg"
        subprocess.run(["bash", str(ROOT / "guest" / "build.sh"), cli, str(files[name]), *map(str, srcs)],
                       check=True, capture_output=True)
    return files
