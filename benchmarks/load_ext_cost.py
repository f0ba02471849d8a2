"""How much `%load_ext qwq_jupyter` costs in a kernel, next to `import httpx`.

Each measurement runs in a fresh interpreter that first imports what a running kernel already
holds (IPython with a shell, ipykernel), then times one of the two statements. The goal: the
extension costs at most 1.3x `import httpx`, because it defers httpx, ipywidgets and the
renderers to first use.

    python benchmarks/load_ext_cost.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

SETUP = """
import time
import ipykernel.ipkernel  # what a running kernel has imported already
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
"""

STATEMENTS = {
    "import httpx": "import httpx",
    "%load_ext qwq_jupyter": "shell.run_line_magic('load_ext', 'qwq_jupyter')",
}


def measure(statement: str) -> float:
    code = SETUP + f"t = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    medians = {}
    for label, statement in STATEMENTS.items():
        times = sorted(measure(statement) for _ in range(args.runs))
        medians[label] = statistics.median(times)
        print(
            f"{label:<24} median {1000 * medians[label]:6.1f} ms "
            f"(min {1000 * times[0]:.1f}, max {1000 * times[-1]:.1f}, {args.runs} runs)"
        )
    ratio = medians["%load_ext qwq_jupyter"] / medians["import httpx"]
    print(f"ratio: {ratio:.2f}x  (goal: at most 1.3x)")
    check = "import sys; print(sorted(m for m in ('httpx', 'ipywidgets') if m in sys.modules))"
    code = SETUP + STATEMENTS["%load_ext qwq_jupyter"] + "\n" + check
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    print(f"heavy modules imported by %load_ext: {loaded.stdout.strip()}")


if __name__ == "__main__":
    main()
