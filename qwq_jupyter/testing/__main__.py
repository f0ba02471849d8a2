"""Run a fake QwQ server from the command line, for offline demos without a Cloudflare account."""

from __future__ import annotations

import argparse
import contextlib
import threading

from qwq_jupyter.testing._script import Reply
from qwq_jupyter.testing._server import QwQTestServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m qwq_jupyter.testing", description="Serve a fake QwQ-32B until Ctrl-C."
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    parser.add_argument("--pace", type=float, default=None, help="tokens per second to stream")
    parser.add_argument("--token", default="test-token", help="API token clients must send")
    parser.add_argument("--account-id", default="test-account", help="Cloudflare account id")
    args = parser.parse_args(argv)
    server = QwQTestServer(
        token=args.token,
        account_id=args.account_id,
        default=Reply(tokens_per_second=args.pace),
        port=args.port,
    )
    with server:
        print(f"url:             {server.url}", flush=True)
        print(f"api_base:        {server.api_base}")
        print(f"gateway_base:    {server.gateway_base}")
        print(f"openai_base_url: {server.openai_base_url}")
        print(f"token:           {server.token}")
        print(f"account_id:      {server.account_id}")
        print("Serving until Ctrl-C.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
