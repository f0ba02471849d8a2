"""What a hostile server costs a real kernel and the browser: IOPub bytes and kernel memory.

A real kernel runs `%%qwq` cells, back to back for `--seconds`, against a local server that
streams reasoning at full speed and never ends it. Two variants: small tokens (" thinking123")
and fat ones (4 KB each). A raw ZeroMQ subscriber counts every IOPub byte of those cells; the
kernel's RSS is read from /proc before and after. Each call ends by itself, cut off once past
what max_tokens allows (the client's bound), and the live view streams at most `LIVE_LIMIT`
characters (the view's bound); the final output then holds what was kept.

Goals (issue "model text is untrusted"): RSS growth at most 100 MB and IOPub at most 5 MB for
one endless stream.

    python benchmarks/hostile_live_view.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import zmq
from jupyter_client.manager import KernelManager
from kernel_iopub import start_kernel, subscribe

from qwq_jupyter.testing import Fault, QwQTestServer, Reply

MB = 1024 * 1024
FAT = json.dumps({"response": " " + "x" * 4096})


def kernel_rss(manager: KernelManager) -> float:
    pid = manager.provisioner.process.pid  # type: ignore[union-attr]
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def start(server: QwQTestServer) -> tuple[KernelManager, Any, zmq.Socket]:
    manager, client = start_kernel(server)
    # Only our own subscriber from here on: a connected one that nobody reads would make the
    # kernel queue every message for it (up to ZeroMQ's high-water mark), and that is not a
    # cost a browser, which reads everything, would cause.
    client.iopub_channel.stop()  # type: ignore[attr-defined]
    return manager, client, subscribe(manager)


def one_call(server: QwQTestServer, client, socket: zmq.Socket, reply: Reply) -> tuple[int, str]:
    """IOPub bytes of one `%%qwq` cell, and how it finished."""
    server.push(reply)
    msg_id = client.execute("%%qwq --no-history\ngo")
    total = 0
    finish = "?"
    while True:
        frames = socket.recv_multipart()
        delimiter = frames.index(b"<IDS|MSG>")
        header = json.loads(frames[delimiter + 2])
        parent = json.loads(frames[delimiter + 3])
        if parent.get("msg_id") != msg_id:
            continue
        total += sum(len(frame) for frame in frames)
        content = json.loads(frames[delimiter + 5])
        if header["msg_type"] == "display_data":
            plain = content["data"].get("text/plain", "")
            finish = plain.rsplit("·", 1)[-1].strip(" ]") if "·" in plain else finish
        if header["msg_type"] == "status" and content["execution_state"] == "idle":
            return total, finish


def run(name: str, reply: Reply, seconds: float, server, manager, client, socket) -> None:
    before = kernel_rss(manager)
    started = time.monotonic()
    size, finish = one_call(server, client, socket, reply)
    print(
        f"{name:>12}, one call: ended {finish!r} after {time.monotonic() - started:.2f} s; "
        f"IOPub {size / MB:.2f} MB; kernel RSS {kernel_rss(manager) - before:+.1f} MB"
    )
    before = kernel_rss(manager)
    started = time.monotonic()
    calls: list[int] = []
    finish = "?"
    while time.monotonic() - started < seconds:
        size, finish = one_call(server, client, socket, reply)
        calls.append(size)
    after = kernel_rss(manager)
    print(
        f"{name:>12}, back to back: {len(calls)} calls in {time.monotonic() - started:.1f} s, "
        f"each ended {finish!r}; IOPub per call max {max(calls) / MB:.2f} MB, mean "
        f"{sum(calls) / len(calls) / MB:.2f} MB; kernel RSS {before:.0f} → {after:.0f} MB "
        f"({after - before:+.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--no-output-cache",
        action="store_true",
        help="keep no Out[n] history (IPython keeps every cell's value, each reply included)",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    with QwQTestServer() as server:
        manager, client, socket = start(server)
        if args.no_output_cache:
            client.execute("get_ipython().displayhook.do_full_cache = False")
        try:
            small = Reply(fault=Fault(endless=True))
            fat = Reply(fault=Fault(events=[FAT] * 5000))  # 20 MB of reasoning, 4 KB a token
            run("small tokens", small, args.seconds, server, manager, client, socket)
            run("4 KB tokens", fat, args.seconds, server, manager, client, socket)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
