"""Shared fixtures: a local QwQ server (from our pytest plugin) and an IPython shell using it."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from qwq_jupyter.testing import QwQTestServer


@pytest.fixture
def qwq_env(qwq_server: QwQTestServer, monkeypatch: pytest.MonkeyPatch) -> QwQTestServer:
    """Credentials for the local server in the environment."""
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", qwq_server.account_id)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", qwq_server.token)
    monkeypatch.delenv("QWQ_JUPYTER_DEMO", raising=False)
    return qwq_server


@pytest.fixture
def shell(qwq_env: QwQTestServer):
    """A terminal-style IPython shell with the extension loaded and pointed at the server."""
    shell = InteractiveShell.instance()
    shell.config.pop("QwQSettings", None)  # %config values of an earlier test must not leak
    shell.run_line_magic("load_ext", "qwq_jupyter")
    shell.run_line_magic("config", f"QwQSettings.api_base = {qwq_env.api_base!r}")
    shell.run_line_magic("config", f"QwQSettings.base_url = {qwq_env.openai_base_url!r}")
    shell.run_line_magic("config", f"QwQSettings.gateway_base = {qwq_env.gateway_base!r}")
    yield shell
    shell.run_line_magic("unload_ext", "qwq_jupyter")
    shell.config.pop("QwQSettings", None)
    shell.user_ns.pop("result", None)
