"""What a hostile server costs the client: memory of an endless stream, CPU of one huge SSE line,
peak memory of a gzip bomb. Prints numbers; not a test.

The server (`qwq_jupyter.testing`) runs in a child process; this process is the client, so RSS
and CPU time are the client's alone.

- endless: `Fault(endless=True)` streams reasoning tokens at full speed forever; calls are made
  back to back for `--seconds` (each stops once past what max_tokens allows). Goal: RSS growth
  at most 100 MB.
- long line: one 8 MB `data:` line, through `SSEDecoder` in 64 KB reads (cap raised so it is
  decoded whole) and through the client (refused at the event cap). Goal: at most 0.2 s CPU.
- gzip bomb: a 300 MB gzip body (about 300 KB on the wire) as a non-streamed reply and as an
  error body. Reported: peak RSS of this process.

    python benchmarks/hostile_server.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

from qwq_jupyter import Credentials, QwQClient, QwQSettings
from qwq_jupyter.wire.sse import SSEDecoder

SERVER = """
import json, sys
from qwq_jupyter.testing import Fault, QwQTestServer, Reply, gzip_bomb
bomb = gzip_bomb(300 * 1024 * 1024)
line = json.dumps({"response": "a" * (8 * 1024 * 1024)})
replies = {
    "endless": Reply(fault=Fault(endless=True)),
    "line": Reply(fault=Fault(events=[line])),
    "bomb": Reply(fault=Fault(raw_body=bomb, content_encoding="gzip")),
    "bomb-error": Reply(fault=Fault(raw_body=bomb, status=500, content_encoding="gzip")),
}
with QwQTestServer() as server:
    print(server.api_base, server.account_id, server.token, len(bomb), flush=True)
    for name in sys.stdin:
        server.push(replies[name.strip()])
        print("ok", flush=True)
"""

QUESTION = [{"role": "user", "content": "go"}]
MB = 1024 * 1024


def rss() -> float:
    """Current resident set size in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / MB


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Server:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        api_base, account, token, bomb = self.process.stdout.readline().split()
        self.bomb_bytes = int(bomb)
        self.settings = QwQSettings(api_base=api_base, max_retries=0, max_tokens=24_000)
        self.credentials = Credentials(account, token)

    def script(self, name: str) -> None:
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        self.process.stdout.readline()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def endless(server: Server, seconds: float) -> None:
    client = QwQClient(server.settings, server.credentials)
    start_rss, start = rss(), time.monotonic()  # before the first call: its growth counts
    calls = chunks = 0
    highest = start_rss
    while time.monotonic() - start < seconds:
        server.script("endless")
        response = client.complete(QUESTION)
        calls += 1
        chunks += response.reasoning_chunks
        highest = max(highest, rss())
    print(
        f"endless stream, {seconds:g} s: {calls} calls, {chunks:,} chunks read, each call ended "
        f"{response.finish_reason!r} ({response.error}); RSS {start_rss:.0f} MB -> peak "
        f"{highest:.0f} MB: growth {highest - start_rss:.1f} MB (goal: at most 100 MB)"
    )


def long_line(server: Server) -> None:
    line = b"data: " + json.dumps({"response": "a" * (8 * MB)}).encode() + b"\n\n"
    decoder = SSEDecoder(max_event=16 * MB)
    start = time.process_time()
    events = [e for i in range(0, len(line), 65536) for e in decoder.feed(line[i : i + 65536])]
    decoded = time.process_time() - start
    assert len(events) == 1
    client = QwQClient(server.settings, server.credentials)
    server.script("line")
    start = time.process_time()
    stream = client.stream(QUESTION)
    response = stream.wait()
    refused = time.process_time() - start
    print(
        f"one 8 MB SSE line: SSEDecoder in 64 KB reads {decoded:.3f} s CPU; through the client "
        f"{refused:.3f} s CPU, ended {response.finish_reason!r}: {stream.last_error} "
        "(goal: at most 0.2 s)"
    )


def bomb(server: Server) -> None:
    client = QwQClient(server.settings.override(stream=False), server.credentials)
    for name in ("bomb", "bomb-error"):
        before = peak_rss()
        server.script(name)
        stream = client.stream(QUESTION)
        stream.wait()
        print(
            f"gzip bomb ({server.bomb_bytes // 1024} KB inflating to 300 MB), {name}: "
            f"{stream.last_error}; peak RSS {before:.0f} MB -> {peak_rss():.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}")
    server = Server()
    try:
        bomb(server)  # first: peak RSS only grows, so measure it before the others
        long_line(server)
        endless(server, args.seconds)
    finally:
        server.close()


if __name__ == "__main__":
    main()
