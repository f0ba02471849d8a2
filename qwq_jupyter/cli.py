"""`qwq-jupyter lab`: JupyterLab on the example notebooks, with a backend chosen for you.

With Cloudflare credentials (environment or `.env`) kernels use Workers AI; with `QWQ_BASE_URL`
they use that OpenAI-compatible server; with neither, kernels use the offline demo
(`QWQ_BACKEND=demo`: scripted replies answered inside each kernel) and every output says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from .core.credentials import Credentials

__all__ = ["main"]


#: Where `qwq-jupyter lab` puts the examples when it is not run from a checkout.
EXAMPLES_DIR = "qwq-jupyter-examples"


def examples_source() -> Path:
    """The example notebooks: inside the installed package, or the checkout's `notebooks/`."""
    package = Path(__file__).resolve().parent
    installed = package / "examples"
    return installed if installed.is_dir() else package.parent / "notebooks"


def copy_examples(target: Path) -> tuple[list[str], list[str]]:
    """Copy the example notebooks into `target`; a file already there is left as it is.

    Returns (copied, kept): the user's edits to an example are never overwritten.
    """
    target.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for notebook in sorted(examples_source().glob("*.ipynb")):
        destination = target / notebook.name
        if destination.exists():
            kept.append(notebook.name)
        else:
            shutil.copyfile(notebook, destination)
            copied.append(notebook.name)
    return copied, kept


def _default_notebooks() -> Path:
    """The checkout's notebooks when run from one; else a working copy of the examples."""
    source = examples_source()
    if source.name == "notebooks":
        return source
    target = Path.cwd() / EXAMPLES_DIR
    copy_examples(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qwq-jupyter", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lab = commands.add_parser(
        "lab",
        help="start JupyterLab on the example notebooks",
        epilog="Any other option (--port 8890, --no-browser, …) is passed on to JupyterLab.",
    )
    lab.add_argument("--dir", type=Path, default=None, help="notebook folder to open")
    lab.add_argument("--demo", action="store_true", help="use the offline demo even with keys")
    examples = commands.add_parser(
        "examples", help="copy the example notebooks into a folder (never overwriting)"
    )
    examples.add_argument("dir", nargs="?", type=Path, default=Path(EXAMPLES_DIR))
    policy = commands.add_parser(
        "policy",
        help="write a class policy into a notebook (a classroom aid, not a security boundary)",
        epilog="e.g. qwq-jupyter policy set lesson.ipynb lock.temperature=0.6 "
        "lock.max_tokens=[1000,8000] code=false fold_answers=true budget=0.5 "
        "system_prompt='\"Give hints, not solutions.\"'",
    )
    policy.add_argument("action", choices=("set", "show"))
    policy.add_argument("notebook")
    policy.add_argument("fields", nargs="*", metavar="KEY=JSON")
    args, jupyter_args = parser.parse_known_args(argv)
    if args.command == "policy":
        return _policy(args)
    if args.command == "examples":
        copied, kept = copy_examples(args.dir)
        print(f"qwq-jupyter: copied {len(copied)} notebook(s) into {args.dir}", end="")
        print(f"; kept your {', '.join(kept)}" if kept else "")
        return 0
    return _lab(args, jupyter_args)


def _policy(args: argparse.Namespace) -> int:
    """`qwq-jupyter policy set|show NOTEBOOK [KEY=JSON …]`: one line per outcome."""
    import json

    from .core.errors import ConfigurationError
    from .session.policy import find_policy, write_policy

    try:
        if args.action == "show":
            found = find_policy(args.notebook)
            print(found.summary() if found else f"qwq-jupyter: {args.notebook} has no policy")
            return 0
        policy: dict[str, object] = {}
        for pair in args.fields:
            key, equals, text = pair.partition("=")
            if not equals:
                raise ConfigurationError(f"{pair!r} is not KEY=JSON")
            try:
                value = json.loads(text)
            except ValueError:
                value = text  # a bare word is text
            if key.startswith("lock."):
                lock = policy.setdefault("lock", {})
                assert isinstance(lock, dict)
                lock[key.removeprefix("lock.")] = value
            else:
                policy[key] = value
        written = write_policy(args.notebook, policy)
    except ConfigurationError as err:
        print(f"qwq-jupyter: {err}", file=sys.stderr)
        return 2
    print(f"qwq-jupyter: wrote the {written.summary()}")
    return 0


def kernel_environment(environ: dict[str, str], demo: bool = False) -> tuple[dict[str, str], str]:
    """The environment JupyterLab hands its kernels, and one line saying which backend."""
    env = dict(environ)
    credentials = Credentials.from_env()
    if not demo and env.get("QWQ_BASE_URL"):
        return env, f"kernels use the OpenAI-compatible server at {env['QWQ_BASE_URL']}"
    if not demo and credentials.account_id and credentials.api_token:
        # Kernels start in the notebook folder, where this .env is not: hand the values on.
        env.setdefault("CLOUDFLARE_ACCOUNT_ID", credentials.account_id)
        env.setdefault("CLOUDFLARE_API_TOKEN", credentials.api_token.reveal())
        return env, "kernels use Cloudflare Workers AI (@cf/qwen/qwq-32b)"
    env["QWQ_BACKEND"] = "demo"
    return env, (
        "no CLOUDFLARE_ACCOUNT_ID/CLOUDFLARE_API_TOKEN and no QWQ_BASE_URL, so kernels use the "
        "offline demo: replies are scripted, not QwQ's."
    )


def _lab(args: argparse.Namespace, jupyter_args: list[str]) -> int:
    env, which = kernel_environment(dict(os.environ), demo=args.demo)
    print(f"qwq-jupyter: {which}", flush=True)
    root = (args.dir or _default_notebooks()).resolve()
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", *jupyter_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in jupyter_args:
        command.append("--allow-root")  # containers and CI machines often run as root
    lab_process = subprocess.Popen(command, env=env)
    # A SIGTERM to this wrapper must reach JupyterLab too, or it would outlive this process.
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


if __name__ == "__main__":
    sys.exit(main())
