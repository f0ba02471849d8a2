"""Kinds of OpenAI-compatible server, and what `GET {base_url}/models` says about one.

OpenAI's API has no `top_k` or `repetition_penalty`. vLLM, SGLang and llama.cpp take them as
extensions (llama.cpp spells the second `repeat_penalty`); Ollama's OpenAI layer and servers we
do not know may refuse or silently ignore them, so they are not sent there. Which kind a server
is comes from the `server` setting, or from its model list (`detect`): every one of these
servers answers `GET /models`, and says who it is in `owned_by`.

Pure functions of bytes already read: the client (`client/client.py`) does the asking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..core.errors import server_text

__all__ = [
    "EXTENSIONS",
    "GENERIC",
    "SERVER_KINDS",
    "ServerInfo",
    "ServerKind",
    "detect",
    "read_models",
    "served_models",
    "shown_ids",
]

#: Model parameters that are not part of OpenAI's API: sent only to servers that take them.
EXTENSIONS = frozenset({"top_k", "repetition_penalty"})


@dataclass(frozen=True)
class ServerKind:
    """One kind of OpenAI-compatible server: which extensions it takes, under which names."""

    name: str  # as the `server` setting spells it
    label: str  # as messages say it
    accepts: frozenset[str] = frozenset()  # which of EXTENSIONS it takes
    renames: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def sends(self, parameter: str) -> bool:
        return parameter not in EXTENSIONS or parameter in self.accepts

    def wire_name(self, parameter: str) -> str:
        return self.renames.get(parameter, parameter)


GENERIC = ServerKind("generic", "this OpenAI-compatible server")
SERVER_KINDS: Mapping[str, ServerKind] = MappingProxyType(
    {
        "vllm": ServerKind("vllm", "vLLM", EXTENSIONS),
        "sglang": ServerKind("sglang", "SGLang", EXTENSIONS),
        "llama.cpp": ServerKind(
            "llama.cpp",
            "llama.cpp",
            EXTENSIONS,
            MappingProxyType({"repetition_penalty": "repeat_penalty"}),
        ),
        "ollama": ServerKind("ollama", "Ollama"),
        "generic": GENERIC,
    }
)

# What each server writes in `owned_by` (read in their sources): vLLM "vllm", SGLang "sglang",
# llama.cpp "llamacpp"; Ollama writes the model's namespace, "library" for its own models.
_OWNERS = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llama.cpp", "llama.cpp": "llama.cpp"}
_OLLAMA_OWNERS = {"library", "ollama"}
# Ollama's ids always carry a tag: "qwq:latest", "qwq:32b-q4_K_M".
_OLLAMA_ID = re.compile(r"[^\s:/]+(/[^\s:/]+)*:[\w.\-]+")


@dataclass(frozen=True)
class ServerInfo:
    """What asking `GET /models` found: the server's kind and the model ids it serves.

    `models` is None when the server did not list them; `problem` then says why, in words
    that hold nothing secret (a status code, an exception's type).
    """

    kind: str = "generic"
    models: tuple[str, ...] | None = None
    problem: str = ""


def served_models(body: Any) -> tuple[str, ...] | None:
    """The model ids of an OpenAI model list, {"data": [{"id": …}, …]}; None if it is none."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    entries = [entry for entry in body["data"] if isinstance(entry, dict)]
    return tuple(entry["id"] for entry in entries if isinstance(entry.get("id"), str))


def detect(body: Any) -> str:
    """The server kind a model list reveals: its `owned_by`, else its shape; else generic."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return "generic"
    entries = [entry for entry in body["data"] if isinstance(entry, dict)]
    owners = {entry.get("owned_by") for entry in entries}
    for owner in owners:
        if isinstance(owner, str) and owner.lower() in _OWNERS:
            return _OWNERS[owner.lower()]
    if owners & _OLLAMA_OWNERS:
        return "ollama"
    if "models" in body and all("meta" in entry for entry in entries):
        return "llama.cpp"  # older llama.cpp: a second, `models` list beside `data`
    ids = [entry.get("id") for entry in entries]
    if ids and all(isinstance(i, str) and _OLLAMA_ID.fullmatch(i) for i in ids):
        return "ollama"
    return "generic"


def read_models(status: int, content: bytes | None) -> ServerInfo:
    """The `ServerInfo` of an answer to `GET /models`: its status and body (None: not read)."""
    if not 200 <= status < 300:
        return ServerInfo(problem=f"GET /models answered HTTP {status}")
    try:
        body = json.loads(content) if content else None
    except (ValueError, RecursionError):
        body = None
    models = served_models(body)
    if models is None:
        return ServerInfo(problem="GET /models answered no model list")
    return ServerInfo(kind=detect(body), models=models)


def shown_ids(models: tuple[str, ...], most: int = 5) -> str:
    """Up to `most` served ids for a message line, each made printable (a server wrote them)."""
    shown = ", ".join(repr(server_text(model, 80)) for model in models[:most])
    return shown + (f" and {len(models) - most} more" if len(models) > most else "")
