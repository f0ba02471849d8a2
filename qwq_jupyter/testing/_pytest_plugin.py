"""pytest plugin (registered as a `pytest11` entry point) providing the `qwq_server` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qwq_jupyter.testing._server import QwQTestServer


@pytest.fixture
def qwq_server() -> Iterator[QwQTestServer]:
    """A running fake QwQ server, stopped after the test; script it with `push(...)`."""
    with QwQTestServer() as server:
        yield server
