"""What `pip install .` puts in site-packages: the package and the two lab modules it imports,
never the programs (a top-level `Client`, `Server` or `Demo` would shadow any other)."""

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

INSTALLED_LAB_MODULES = {"RtpPacket.py", "VideoStream.py"}  # what the package imports
PROGRAMS = {"Client.py", "ClientLauncher.py", "Demo.py", "MakeVideo.py", "Server.py",
            "ServerWorker.py"}  # fmt: skip


def test_the_build_holds_the_package_and_the_lab_modules_it_imports_not_the_programs(tmp_path):
    pytest.importorskip("setuptools")  # the build backend, taken from this environment
    source = tmp_path / "source"  # a copy: a build writes its scratch files beside the source
    shutil.copytree(ROOT / "rtsplab", source / "rtsplab",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for path in [ROOT / "pyproject.toml", ROOT / "README.md", *ROOT.glob("*.py")]:
        shutil.copy(path, source)
    built = tmp_path / "lib"
    # build_py lays out what a wheel holds and an install copies, from pyproject.toml alone
    # (offline, and without the `wheel` package that bdist_wheel needs on older setuptools).
    done = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
         "--build-lib", str(built)],
        cwd=source, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = {path.relative_to(built).as_posix() for path in built.rglob("*.py")}
    top_modules = {name for name in names if "/" not in name}
    assert top_modules == INSTALLED_LAB_MODULES
    assert not PROGRAMS & top_modules
    packaged = {name for name in names if name.startswith("rtsplab/")}
    in_checkout = {path.relative_to(ROOT).as_posix() for path in (ROOT / "rtsplab").rglob("*.py")}
    assert packaged == in_checkout  # every module of the package, and nothing else
