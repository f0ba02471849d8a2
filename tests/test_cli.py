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
        demo = banner.split(" at ")[1].split(": ")[0]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("JupyterLab did not start")
        reply = httpx.post(
            f"{demo}/client/v4/accounts/test-account/ai/run/@cf/qwen/qwq-32b",
            json={"messages": [{"role": "user", "content": "What is 12 x 12?"}]},
            headers={"Authorization": "Bearer test-token"},
        )
        assert "144" in reply.json()["result"]["response"]
        assert "Scripted by the qwq-jupyter offline demo" in reply.json()["result"]["response"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    # JupyterLab went down with the wrapper: nothing answers on its port any more.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api", timeout=1)
