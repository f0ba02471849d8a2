"""`qwq-jupyter lab`: JupyterLab on the example notebooks, with a backend chosen for you.

With Cloudflare credentials (environment or `.env`) kernels use Workers AI; with `QWQ_BASE_URL`
they use that OpenAI-compatible server; with neither, this process serves the offline demo
(scripted replies from `qwq_jupyter.testing`) and every output says so.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

from .core.credentials import Credentials
from .session.session import DEMO_ENV

__all__ = ["main"]


def _default_notebooks() -> Path:
    checkout = Path(__file__).resolve().parent.parent / "notebooks"
    return checkout if checkout.is_dir() else Path.cwd()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qwq-jupyter", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lab = commands.add_parser("lab", help="start JupyterLab on the example notebooks")
    lab.add_argument("--dir", type=Path, default=None, help="notebook folder to open")
    lab.add_argument("--pace", type=float, default=60.0, help="offline demo tokens per second")
    lab.add_argument("--demo", action="store_true", help="use the offline demo even with keys")
    args, jupyter_args = parser.parse_known_args(argv)
    return _lab(args, jupyter_args)


def _lab(args: argparse.Namespace, jupyter_args: list[str]) -> int:
    env = dict(os.environ)
    credentials = Credentials.from_env()
    server = None
    if not args.demo and env.get("QWQ_BASE_URL"):
        print(f"qwq-jupyter: kernels use the OpenAI-compatible server at {env['QWQ_BASE_URL']}")
    elif not args.demo and credentials.account_id and credentials.api_token:
        # Kernels start in the notebook folder, where this .env is not: hand the values on.
        env.setdefault("CLOUDFLARE_ACCOUNT_ID", credentials.account_id)
        env.setdefault("CLOUDFLARE_API_TOKEN", credentials.api_token.reveal())
        print("qwq-jupyter: kernels use Cloudflare Workers AI (@cf/qwen/qwq-32b)")
    else:
        from .testing import QwQTestServer
        from .testing._demo import demo_reply

        server = QwQTestServer(responder=functools.partial(demo_reply, pace=args.pace)).start()
        env.update(
            {
                DEMO_ENV: "1",
                "QWQ_BACKEND": "workers-ai",
                "QWQ_API_BASE": server.api_base,
                "CLOUDFLARE_ACCOUNT_ID": server.account_id,
                "CLOUDFLARE_API_TOKEN": server.token,
            }
        )
        print(
            "qwq-jupyter: no CLOUDFLARE_ACCOUNT_ID/CLOUDFLARE_API_TOKEN and no QWQ_BASE_URL, so "
            f"kernels use the offline demo at {server.url}: replies are scripted, not QwQ's."
        )
    root = (args.dir or _default_notebooks()).resolve()
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", *jupyter_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in jupyter_args:
        command.append("--allow-root")  # containers and CI machines often run as root
    lab_process = subprocess.Popen(command, env=env)
    # A SIGTERM to this wrapper must reach JupyterLab too, or it would outlive the demo server.
    signal.signal(signal.SIGTERM, lambda *_: lab_process.terminate())
    try:
        return lab_process.wait()
    except KeyboardInterrupt:
        lab_process.send_signal(signal.SIGINT)  # JupyterLab asks to confirm; a second ^C ends it
        return lab_process.wait()
    finally:
        if lab_process.poll() is None:
            lab_process.terminate()
            lab_process.wait(timeout=30)
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
