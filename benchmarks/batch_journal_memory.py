"""What a journal costs a big batch: 10,000 short items at concurrency 32 against a local server
with 20 ms of latency per reply, without a journal, with one, and run again from it.

Each run is a fresh interpreter, so its peak RSS (getrusage) is its own; the server runs in
another process, so neither its CPU nor the requests it records count against the client. The
ideal wall time is items × latency / concurrency; on a machine where the client's CPU is the
limit the run without a journal is the fairer yardstick. Rounds alternate the three runs, and
the best wall time of each is reported, as a shared machine's neighbours come and go.

    python benchmarks/batch_journal_memory.py [--items 10000] [--latency 0.02]
        [--concurrency 32] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

SERVER = """
import sys, threading
from qwq_jupyter.testing import QwQTestServer, Reply
reply = Reply(reasoning="Short thought.", answer="ok", latency=float(sys.argv[1]))
with QwQTestServer(default=reply) as server:
    print(server.api_base, server.account_id, server.token, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""


def rss_now_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def one_run(args: argparse.Namespace) -> None:
    """In a fresh interpreter: one batch, then its numbers as JSON on stdout."""
    from qwq_jupyter import Credentials, QwQSettings, batch

    api_base, account, token = args.server.split()
    journal = args.journal or None
    before = rss_now_mb()
    start, cpu = time.perf_counter(), time.process_time()
    result = batch(
        "Question {@item}",
        range(args.items),
        concurrency=args.concurrency,
        rpm=0,
        settings=QwQSettings(api_base=api_base, max_retries=0),
        credentials=Credentials(account, token),
        journal=journal,
        progress=True,  # a \r line on stderr, computed five times a second over every item
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({
        "wall": wall, "cpu": cpu, "rss_before": before, "rss_peak": peak,
        "answered": sum(item.answer == "ok" for item in result),
        "from_journal": len(result.from_journal), "failed": len(result.failed),
        "journal_bytes": os.path.getsize(journal) if journal else 0,
    }))  # fmt: skip


def run(args: argparse.Namespace, server: str, journal: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--one", "--server", server, "--journal", journal]
    command += ["--items", str(args.items), "--concurrency", str(args.concurrency)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.splitlines()[-1]))


def show(label: str, numbers: dict[str, float], ideal: float) -> None:
    print(
        f"{label:>10}: {numbers['wall']:6.2f} s wall ({numbers['wall'] / ideal:.2f}x ideal), "
        f"client CPU {numbers['cpu']:6.2f} s, peak RSS {numbers['rss_peak']:5.1f} MB "
        f"({numbers['rss_before']:.1f} before), {numbers['answered']:,} answered, "
        f"{numbers['from_journal']:,} from the journal, {numbers['failed']} failed"
        + (f", file {numbers['journal_bytes'] / 1e6:.1f} MB" if numbers["journal_bytes"] else ""),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--server", default="", help=argparse.SUPPRESS)
    parser.add_argument("--journal", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_run(args)
        return
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        address = server.stdout.readline().strip()
        ideal = args.items * args.latency / args.concurrency
        print(
            f"{args.items:,} items, {1000 * args.latency:.0f} ms latency per reply, concurrency "
            f"{args.concurrency}, {os.cpu_count()} CPUs; ideal {ideal:.2f} s"
        )
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory() as folder:
                journal = os.path.join(folder, "bench.qwq")
                for label, path in (("no journal", ""), ("journal", journal), ("re-run", journal)):
                    numbers = run(args, address, path)
                    show(label, numbers, ideal)
                    if label not in best or numbers["wall"] < best[label]["wall"]:
                        best[label] = numbers
        print(f"best of {args.rounds}:")
        for label, numbers in best.items():
            show(label, numbers, ideal)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)


if __name__ == "__main__":
    main()
