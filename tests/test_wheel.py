"""Installed from a wheel, not only from a clone: the examples and the license travel along.

The wheel is built from this checkout, installed into a fresh virtual environment (its own
`qwq_jupyter`, with the test environment's packages for the dependencies), and used from there.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("qwq_jupyter-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; dependencies come from the test environment."""
    home = tmp_path_factory.mktemp("fresh-venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return home


def test_the_wheel_carries_the_examples_and_the_license(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for notebook in NOTEBOOKS:
        assert f"qwq_jupyter/examples/{notebook}" in names
    assert any(name.endswith("licenses/LICENSE") for name in names), names[-5:]
    assert not any(name.startswith("qwq_jupyter/testing/") and "demo" in name for name in names)


def test_examples_are_copied_out_of_the_installed_package(installed: Path, tmp_path) -> None:
    command = [str(installed / "bin" / "qwq-jupyter"), "examples", str(tmp_path / "mine")]
    located = subprocess.run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import qwq_jupyter; print(qwq_jupyter.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert str(installed) in located  # the wheel's copy, not the checkout's
    first = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert f"copied {len(NOTEBOOKS)} notebook(s)" in first.stdout
    edited = tmp_path / "mine" / "quickstart.ipynb"
    edited.write_text("{}")  # the user's own version
    again = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert "copied 0 notebook(s)" in again.stdout and "quickstart.ipynb" in again.stdout
    assert edited.read_text() == "{}"  # never overwritten
