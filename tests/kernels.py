"""A real IPython kernel driven over ZeroMQ, for tests that need what a notebook sees."""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

from qwq_jupyter.testing import QwQTestServer


@dataclass
class Execution:
    msg_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] | None = None

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream"))

    def last_display(self) -> dict[str, Any]:
        return self.of_type("display_data")[-1]["content"]["data"]

    def result(self) -> dict[str, Any]:
        return self.of_type("execute_result")[-1]["content"]["data"]

    def raise_on_error(self) -> Execution:
        errors = self.of_type("error")
        if errors or (self.reply and self.reply["content"]["status"] != "ok"):
            detail = errors[0]["content"] if errors else self.reply
            raise AssertionError(f"kernel error: {detail}")
        return self


class Kernel:
    """Start a kernel whose QwQ settings point at `server`; execute code and read IOPub."""

    def __init__(self, server: QwQTestServer, cwd: str, *, credentials: bool = True) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "QWQ_"))}
        if credentials:
            env.update(CLOUDFLARE_ACCOUNT_ID=server.account_id, CLOUDFLARE_API_TOKEN=server.token)
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env, cwd=cwd)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.execute(
            "%load_ext qwq_jupyter\n"
            f"%config QwQSettings.api_base = {server.api_base!r}\n"
            f"%config QwQSettings.base_url = {server.openai_base_url!r}"
        ).raise_on_error()

    def send(self, code: str, cell_id: str | None = None) -> str:
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        metadata = {"cellId": cell_id} if cell_id else {}
        message = self.client.session.msg("execute_request", content, metadata=metadata)
        self.client.shell_channel.send(message)
        return message["header"]["msg_id"]

    def collect(self, msg_id: str, timeout: float = 30.0) -> Execution:
        """IOPub messages of one request until the kernel is idle again, then its reply."""
        execution = Execution(msg_id)
        deadline = time.monotonic() + timeout
        while True:
            message = self.client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            execution.messages.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        execution.reply = self.shell_reply(msg_id, deadline)
        return execution

    def shell_reply(self, msg_id: str, deadline: float) -> dict[str, Any]:
        while True:
            reply = self.client.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def execute(self, code: str, cell_id: str | None = None, timeout: float = 30.0) -> Execution:
        return self.collect(self.send(code, cell_id), timeout)

    def wait_for(self, msg_id: str, predicate: Any, timeout: float = 10.0) -> list[dict]:
        """Read IOPub messages of `msg_id` until `predicate(message)` holds; return them."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.client.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            seen.append(message)
            if predicate(message):
                return seen
        raise TimeoutError(f"no matching IOPub message within {timeout} s")

    def comm_msg(self, comm_id: str, data: dict[str, Any]) -> None:
        message = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.client.shell_channel.send(message)

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
