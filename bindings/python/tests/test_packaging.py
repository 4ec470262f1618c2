# SPDX-License-Identifier: MIT
"""`pip install --no-build-isolation ./bindings/python` works offline (Debian's setuptools and
no index), and the installed package loads libjavm and runs."""
import os
import shutil
import subprocess
import sys

import pytest


def test_pip_install_offline(root, tmp_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip("pip is not installed for this Python (python3-pip)")
    src = tmp_path / "src"  # a copy, so the build leaves nothing in the repository
    shutil.copytree(root / "bindings" / "python", src, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                        "--target", str(tmp_path / "site"), str(src)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "javm" / "__init__.py").is_file()
    code = "import javm; print(javm.__file__); print(javm.run(bytes([0, 0, 1, 0, 1])).status)"  # one trap instruction
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0].startswith(str(tmp_path / "site")) and lines[1] == "trap"
