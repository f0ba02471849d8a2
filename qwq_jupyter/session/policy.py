"""An instructor's policy: class settings a notebook carries.

A teacher writes it into the notebook's metadata (under "qwq-jupyter" → "policy", with
`qwq-jupyter policy set NOTEBOOK …` or `%qwq policy set …`) or into a file beside it
(`lesson.qwq-policy.json` for `lesson.ipynb`). `%load_ext` applies it and says so in one line;
`%qwq policy` shows it.

    {"lock": {"temperature": 0.6, "max_tokens": [1000, 8000]},
     "system_prompt": "Give hints, never the full solution.",
     "code": false, "fold_answers": true, "budget": 0.5, "replay_only": false}

- `lock`: a setting fixed at a value, or held within [low, high]; `%config`, the flags and the
  panel cannot change it (the panel shows it disabled).
- `system_prompt`: fixed for every conversation. `code: false`: `--code` is refused.
- `fold_answers`: answers arrive folded until `%qwq reveal`. `budget`: the session's spending
  cap. `replay_only`: only recorded answers (`%qwq replay`) or the notebook's saved turns.

It is a classroom aid, not a security boundary: the kernel runs the student's own Python, and
anyone can unload the extension, edit the file, or call the API directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigurationError
from ..core.printable import printable
from ..core.public import publish
from ..core.settings import QwQSettings

__all__ = ["METADATA_KEY", "Policy", "find_policy", "policy_file", "write_policy"]

METADATA_KEY = "qwq-jupyter"
_FIELDS = ("lock", "system_prompt", "code", "fold_answers", "budget", "replay_only")
#: Settings a policy may not lock: where requests go and what keys they carry are the
#: machine's business, not the class's.
_UNLOCKABLE = {"backend", "base_url", "api_base", "gateway_base", "gateway_id", "server", "model"}


@dataclass(frozen=True)
class Policy:
    """What the class's notebook allows; see the module docstring."""

    locked: dict[str, Any] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    system_prompt: str | None = None
    code: bool = True
    fold_answers: bool = False
    budget: float | None = None
    replay_only: bool = False
    source: str = ""

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Policy:
        """A policy from its JSON, or ConfigurationError naming what is wrong, in one line."""
        if not isinstance(data, dict):
            raise ConfigurationError(f"the policy in {source} is not a JSON object")
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise ConfigurationError(
                f"the policy in {source} has unknown fields: {', '.join(sorted(unknown))}"
            )
        locked, ranges = _locks(data.get("lock", {}), source)
        prompt = data.get("system_prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise ConfigurationError(f"the policy in {source}: system_prompt must be text")
        flags = {name: data.get(name, default) for name, default in
                 (("code", True), ("fold_answers", False), ("replay_only", False))}  # fmt: skip
        for name, value in flags.items():
            if not isinstance(value, bool):
                raise ConfigurationError(f"the policy in {source}: {name} must be true or false")
        budget = data.get("budget")
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, (int, float)) or not budget >= 0
        ):
            raise ConfigurationError(f"the policy in {source}: budget must be dollars from 0 up")
        if prompt is not None:
            locked["system_prompt"] = prompt
        return cls(locked, ranges, prompt, flags["code"], flags["fold_answers"],
                   budget, flags["replay_only"], source)  # fmt: skip

    def refusal(self, name: str, value: Any) -> str | None:
        """Why `name` may not become `value` under this policy; None if it may."""
        if name in self.locked and value != self.locked[name]:
            return f"{name} is fixed at {self.locked[name]!r} by the class's policy ({self.source})"
        if name in self.ranges:
            low, high = self.ranges[name]
            if value is None or not low <= value <= high:
                return (
                    f"{name} must stay from {low:g} to {high:g} under the class's policy "
                    f"({self.source}), got {value!r}"
                )
        return None

    def apply(self, settings: QwQSettings) -> None:
        """Set the fixed values, then hold every later change to the policy."""
        settings.lock(None)
        for name, value in self.locked.items():
            setattr(settings, name, value)
        for name, (low, high) in self.ranges.items():
            current = getattr(settings, name)
            if current is None or not low <= current <= high:
                setattr(settings, name, type(low)(min(max(current or low, low), high)))
        settings.lock(self.refusal)

    def lines(self) -> list[str]:
        """The policy in sentences, for `%qwq policy`."""
        lines = [f"{name} fixed at {value!r}" for name, value in self.locked.items()
                 if name != "system_prompt"]  # fmt: skip
        lines += [f"{name} from {lo:g} to {hi:g}" for name, (lo, hi) in self.ranges.items()]
        if self.system_prompt is not None:
            lines.append(f"system prompt fixed: {self.system_prompt!r}")
        if not self.code:
            lines.append("--code is off")
        if self.fold_answers:
            lines.append("answers arrive folded until %qwq reveal")
        if self.budget is not None:
            lines.append(f"the session may spend ${self.budget:,.2f} at most")
        if self.replay_only:
            lines.append("replay only: recorded answers, or the notebook's saved turns")
        return lines

    def summary(self) -> str:
        """One line for `%load_ext`."""
        shown = "; ".join(self.lines()) or "nothing locked"
        # The values and the path come from a file anyone can edit: control characters shown.
        return printable(f"class policy from {self.source}: {shown} (%qwq policy shows it)")


def _locks(data: Any, source: str) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
    if not isinstance(data, dict):
        raise ConfigurationError(f"the policy in {source}: lock must be an object")
    locked: dict[str, Any] = {}
    ranges: dict[str, tuple[float, float]] = {}
    probe = QwQSettings()
    for name, value in data.items():
        if not probe.has_trait(name) or name in _UNLOCKABLE:
            raise ConfigurationError(f"the policy in {source} cannot lock {name!r}")
        if isinstance(value, list):
            if len(value) != 2 or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
            ):
                raise ConfigurationError(
                    f"the policy in {source}: lock {name} takes a value or [low, high]"
                )
            low, high = sorted(value)
            for bound in (low, high):
                probe.override(**{name: bound})  # each bound must itself be a valid value
            ranges[name] = (low, high)
        else:
            probe.override(**{name: value})  # refused in one line if the value is invalid
            locked[name] = value
    return locked, ranges


def policy_file(notebook: str) -> Path:
    """Where a notebook's policy file goes: `lesson.qwq-policy.json` beside `lesson.ipynb`."""
    path = Path(notebook)
    return path.with_name(path.stem + ".qwq-policy.json")


def find_policy(notebook: str) -> Policy | None:
    """The policy a notebook carries, in its metadata or in a file beside it; None if none."""
    beside = policy_file(notebook)
    if beside.is_file():
        return Policy.from_dict(_json(beside), str(beside))
    data = _json(Path(notebook))
    metadata = data.get("metadata") if isinstance(data, dict) else None
    found = metadata.get(METADATA_KEY, {}) if isinstance(metadata, dict) else {}
    if isinstance(found, dict) and "policy" in found:
        return Policy.from_dict(found["policy"], notebook)
    return None


def write_policy(notebook: str, policy: dict[str, Any]) -> Policy:
    """Check `policy` and write it into the notebook's metadata; the notebook is kept whole."""
    checked = Policy.from_dict(policy, notebook)
    path = Path(notebook)
    data = _json(path)
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ConfigurationError(f"{notebook} is not a notebook")
    data.setdefault("metadata", {}).setdefault(METADATA_KEY, {})["policy"] = policy
    temporary = path.with_name(f".{path.name}.policy-tmp")
    temporary.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)
    return checked


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigurationError(f"cannot read {path}: {err}") from None


publish(globals())
