"""Wall time of `batch()` for 200 prompts against a server with 50 ms of latency per reply.

Goal: within 1.3x of latency × ceil(200 / concurrency) at concurrency 1 and 8. At 32 the
ideal is 0.35 s, and what remains is this machine's CPU (client and server share it).

    python benchmarks/batch_throughput.py [--prompts 200] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import math
import os
import time

from qwq_jupyter import Credentials, QwQSettings, batch
from qwq_jupyter.testing import QwQTestServer, Reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    reply = Reply(reasoning="Short thought.", answer="ok", latency=args.latency)
    with QwQTestServer(default=reply) as server:
        settings = QwQSettings(api_base=server.api_base)
        credentials = Credentials(server.account_id, server.token)
        print(
            f"{args.prompts} prompts, {1000 * args.latency:.0f} ms latency per reply, "
            f"{os.cpu_count()} CPUs"
        )
        for concurrency in (1, 8, 32):
            server.reset_stats()
            start = time.perf_counter()
            cpu = time.process_time()
            result = batch(
                "Question {@item}",
                range(args.prompts),
                concurrency=concurrency,
                rpm=0,
                settings=settings,
                credentials=credentials,
                progress=False,
            )
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu
            ideal = args.latency * math.ceil(args.prompts / concurrency)
            print(
                f"concurrency {concurrency:>2}: {wall:6.2f} s wall (ideal {ideal:.2f} s, "
                f"{wall / ideal:.2f}x), client CPU {cpu:.2f} s, peak open {server.peak_open}, "
                f"failed {len(result.failed)}"
            )


if __name__ == "__main__":
    main()
