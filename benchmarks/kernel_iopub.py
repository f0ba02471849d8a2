"""A real kernel pointed at a local server, and a raw subscriber that counts its IOPub bytes.

Shared by the benchmarks that measure what the live view costs on the wire.
"""

from __future__ import annotations

import os
import tempfile
import time

import zmq
from jupyter_client.manager import KernelManager

from qwq_jupyter.testing import QwQTestServer


def start_kernel(server: QwQTestServer) -> tuple[KernelManager, object]:
    env = dict(
        os.environ, CLOUDFLARE_ACCOUNT_ID=server.account_id, CLOUDFLARE_API_TOKEN=server.token
    )
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=tempfile.mkdtemp())
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    client.execute_interactive(
        f"%load_ext qwq_jupyter\n%config QwQSettings.api_base = {server.api_base!r}", timeout=60
    )
    return manager, client


def subscribe(manager: KernelManager) -> zmq.Socket:
    info = manager.get_connection_info()
    socket = zmq.Context.instance().socket(zmq.SUB)
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.connect(f"{info['transport']}://{info['ip']}:{info['iopub_port']}")
    time.sleep(0.5)  # let the subscription reach the kernel
    return socket
