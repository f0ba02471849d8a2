"""Test helpers: a fake QwQ-32B server, so code using qwq_jupyter can be tested offline.

`QwQTestServer` speaks the Workers AI native and OpenAI-compatible dialects over real HTTP and
can be scripted with `Reply` and `Fault` to misbehave the ways real servers do. It continues raw
prompts (Workers AI `raw`, OpenAI `/v1/completions`) from where QwQ's chat template leaves off,
as budget forcing needs. `long_reasoning` and `looping_reasoning` write thinking of any length,
healthy or stuck in a loop; `Reply(loop_passage=...)` loops until the client hangs up.
"""

from __future__ import annotations

from qwq_jupyter.testing._corpus import long_reasoning, looping_reasoning
from qwq_jupyter.testing._script import Fault, Reply, gzip_bomb, loop_copy
from qwq_jupyter.testing._server import QwQTestServer, RecordedRequest

__all__ = [
    "Fault",
    "QwQTestServer",
    "RecordedRequest",
    "Reply",
    "gzip_bomb",
    "long_reasoning",
    "loop_copy",
    "looping_reasoning",
]
