"""Test helpers: a fake QwQ-32B server, so code using qwq_jupyter can be tested offline.

`QwQTestServer` speaks the Workers AI native and OpenAI-compatible dialects over real HTTP and
can be scripted with `Reply` and `Fault` to misbehave the ways real servers do.
"""

from __future__ import annotations

from qwq_jupyter.testing._script import Fault, Reply, gzip_bomb
from qwq_jupyter.testing._server import QwQTestServer, RecordedRequest

__all__ = ["Fault", "QwQTestServer", "RecordedRequest", "Reply", "gzip_bomb"]
