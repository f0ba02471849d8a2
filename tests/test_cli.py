"""`qwq-jupyter lab`: with no credentials it serves the offline demo and says so."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_lab_starts_jupyterlab_with_the_offline_demo(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "QWQ_"))}
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("qwq-jupyter")),
        "lab",
        "--dir",
        str(tmp_path),
        "--no-browser",
        f"--ServerApp.port={port}",
        "--ServerApp.token=",
        "--LabApp.news_url=None",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        banner = process.stdout.readline()
        assert "offline demo" in banner and "scripted" in banner
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("JupyterLab did not start")
    finally:
        process.terminate()
        process.wait(timeout=30)
    # JupyterLab went down with the wrapper: nothing answers on its port any more.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api", timeout=1)


def test_kernels_get_the_in_process_demo_without_keys(monkeypatch, tmp_path) -> None:
    from qwq_jupyter.cli import kernel_environment

    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "QWQ_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    env, which = kernel_environment({"PATH": "/bin"})
    assert env["QWQ_BACKEND"] == "demo" and "offline demo" in which
    assert not any(name.startswith("CLOUDFLARE_") for name in env)  # no stand-in keys
    env, which = kernel_environment({"QWQ_BASE_URL": "http://127.0.0.1:1/v1"})
    assert "QWQ_BACKEND" not in env and "OpenAI-compatible" in which


def test_lab_help_says_jupyterlabs_options_pass_through() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("qwq-jupyter")), "lab", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "passed on to JupyterLab" in " ".join(result.stdout.split())
