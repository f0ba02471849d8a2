"""CPU time per streamed token: our client next to a bare httpx loop.

The local server runs in a child process and streams 20,000 tokens (18,000 reasoning, 2,000
answer, native Workers AI shape) as fast as it can. This process reads them twice over:

- bare: httpx, split on blank lines, `json.loads` each `data:` payload, keep its text;
- ours: `QwQClient.complete()`: byte-level SSE decoding, reasoning splitting, typed events,
  the response builder, through the loop thread of the synchronous facade.

CPU time is `time.process_time()` of this process (all threads). Goal: ours at most 1.5x.

    python benchmarks/client_cpu.py [--tokens 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import httpx

from qwq_jupyter import Credentials, QwQClient, QwQSettings

SERVER = """
import sys, time
from qwq_jupyter.testing import QwQTestServer, Reply
tokens = int(sys.argv[1])
reasoning = "".join(f" r{i}" for i in range(tokens * 9 // 10))
answer = "".join(f" a{i}" for i in range(tokens - tokens * 9 // 10))
with QwQTestServer(default=Reply(reasoning=reasoning, answer=answer)) as server:
    print(server.api_base, server.account_id, server.token, flush=True)
    sys.stdin.read()
"""

QUESTION = [{"role": "user", "content": "count"}]


def bare_loop(url: str, token: str, body: dict) -> int:
    """Only what any client must do: read the stream and decode each event's JSON."""
    pieces = 0
    buffer = b""
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", url, json=body, headers=headers) as reply,
    ):
        for chunk in reply.iter_raw():
            buffer += chunk
            *events, buffer = buffer.split(b"\n\n")
            for event in events:
                data = event.removeprefix(b"data: ")
                if data == b"[DONE]":
                    continue
                payload = json.loads(data)
                if payload.get("response"):
                    pieces += 1
    return pieces


def ours(client: QwQClient) -> int:
    response = client.complete(QUESTION)
    return response.reasoning_chunks + response.answer_chunks


def cpu(function, *args) -> tuple[float, int]:
    start = time.process_time()
    count = function(*args)
    return time.process_time() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.tokens)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        api_base, account, token = server.stdout.readline().split()
        settings = QwQSettings(api_base=api_base, max_tokens=23_500)
        client = QwQClient(settings, Credentials(account, token))
        request = client.prepare(QUESTION)
        ours(client)  # warm up: imports, connection, loop thread
        bare_loop(request.url, token, request.body)
        bare_times, our_times = [], []
        for _ in range(args.rounds):
            seconds, count = cpu(bare_loop, request.url, token, request.body)
            bare_times.append(seconds / count)
            seconds, count = cpu(ours, client)
            our_times.append(seconds / count)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    print(f"tokens per run: {count:,}; rounds: {args.rounds}")
    # The minimum is the run least disturbed by the rest of the machine; the median shows
    # how much that matters on a shared one.
    for label, pick in (("min", min), ("median", statistics.median)):
        bare, mine = pick(bare_times), pick(our_times)
        print(
            f"{label:>6}: bare httpx loop {1e6 * bare:6.2f} us, qwq_jupyter {1e6 * mine:6.2f} us "
            f"CPU per token: ratio {mine / bare:.2f}x  (goal: at most 1.5x)"
        )


if __name__ == "__main__":
    main()
