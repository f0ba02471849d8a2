"""What the live view costs on the wire: IOPub bytes, messages, latency, and linearity.

A real kernel runs `%%qwq` against the local server, which streams a reasoning of N tokens and
an answer of N/10 tokens at 150 tokens/s. A raw ZeroMQ subscriber counts the exact bytes of
every IOPub message. Each token is a numbered marker, and the server records when it wrote
each one, so the delay until a marker first shows up on IOPub is that token's latency.
Run twice, at N and 2N, to check that the cost grows linearly.

    python benchmarks/iopub_live_view.py            # N = 10,000 (about 4 minutes in all)
    python benchmarks/iopub_live_view.py --tokens 2000
"""

from __future__ import annotations

import argparse
import json
import re
import time

from kernel_iopub import start_kernel, subscribe

from qwq_jupyter.testing import QwQTestServer, Reply

MARKER = re.compile(r"([ra])(\d+)\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_once(server, client, socket, reasoning_tokens: int, rate: float) -> dict[str, float]:
    answer_tokens = reasoning_tokens // 10
    reasoning = "".join(f" r{i}" for i in range(reasoning_tokens))
    answer = "".join(f" a{i}" for i in range(answer_tokens))
    text_bytes = len(reasoning.encode()) + len(answer.encode())
    server.push(Reply(reasoning=reasoning, answer=answer, tokens_per_second=rate))
    msg_id = client.execute("%%qwq --no-history --max-tokens 23900\nthink")
    total_bytes = messages = 0
    first = last = None
    seen = {"r": -1, "a": -1}
    latencies: list[float] = []
    while True:
        frames = socket.recv_multipart()
        now = time.monotonic()
        delimiter = frames.index(b"<IDS|MSG>")
        header = json.loads(frames[delimiter + 2])
        parent = json.loads(frames[delimiter + 3])
        if parent.get("msg_id") != msg_id:
            continue
        total_bytes += sum(len(frame) for frame in frames)
        messages += 1
        first = first if first is not None else now
        last = now
        content = json.loads(frames[delimiter + 5])
        kind = header["msg_type"]
        if kind == "status" and content["execution_state"] == "idle":
            break
        text = content.get("text", "") if kind == "stream" else ""
        if kind == "display_data":
            text = content["data"].get("text/html", "")
        for letter, number in MARKER.findall(ANSI.sub("", text)):
            index = int(number)
            if index > seen[letter]:
                for newly in range(seen[letter] + 1, index + 1):
                    event = newly if letter == "r" else reasoning_tokens + 1 + newly
                    latencies.append(now - server.event_times[event])
                seen[letter] = index
    duration = last - first
    latencies.sort()
    return {
        "reasoning_tokens": reasoning_tokens,
        "answer_tokens": answer_tokens,
        "text_bytes": text_bytes,
        "iopub_bytes": total_bytes,
        "bytes_ratio": total_bytes / text_bytes,
        "messages": messages,
        "messages_per_s": messages / duration,
        "seconds": duration,
        "latency_p50_ms": 1000 * latencies[len(latencies) // 2],
        "latency_max_ms": 1000 * latencies[-1],
        "tokens_seen": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=10_000, help="reasoning tokens (N)")
    parser.add_argument("--rate", type=float, default=150.0, help="tokens per second")
    args = parser.parse_args()
    with QwQTestServer() as server:
        manager, client = start_kernel(server)
        socket = subscribe(manager)
        try:
            runs = [
                run_once(server, client, socket, n, args.rate)
                for n in (args.tokens, 2 * args.tokens)
            ]
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    for run in runs:
        print(
            f"N={run['reasoning_tokens']:>6,} reasoning + {run['answer_tokens']:,} answer tokens: "
            f"text {run['text_bytes']:,} B, IOPub {run['iopub_bytes']:,} B "
            f"({run['bytes_ratio']:.2f}x the text), {run['messages']} messages in "
            f"{run['seconds']:.1f} s ({run['messages_per_s']:.1f}/s), token latency "
            f"p50 {run['latency_p50_ms']:.0f} ms, max {run['latency_max_ms']:.0f} ms "
            f"({run['tokens_seen']:,} tokens)"
        )
    doubling = runs[1]["iopub_bytes"] / runs[0]["iopub_bytes"]
    print(f"doubling ratio (IOPub bytes at 2N / at N): {doubling:.3f}  (goal: at most 2.2)")


if __name__ == "__main__":
    main()
