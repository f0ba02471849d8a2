"""One `%%qwq` cell, parsed once into one value: what to ask, with which settings, how to run.

The flags become a `CellRequest` before anything happens: this cell's settings (validated),
where its turn goes, and exactly one mode. Flags that ask for two modes at once are refused
here, in one line, so the order of `if`s further on can never decide what a cell does.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from IPython.core.error import UsageError

from ..core.settings import NUMERIC_PARAMETERS, QwQSettings

__all__ = ["CellRequest", "Mode", "cell_request"]

#: How a cell runs: stream one answer, compare settings, show the request, or in the background.
Mode = Literal["answer", "compare", "vote", "dry_run", "background"]
_MODE_FLAGS: dict[Mode, str] = {
    "compare": "--compare",
    "vote": "--vote",
    "dry_run": "--dry-run",
    "background": "--background",
}
#: How the thinking is steered: a flag each (`--think-budget N`, …), like the model parameters.
STEERING = ("think_budget", "think_min", "max_cost", "on_loop")
#: Settings with one flag each whose help and range come from the trait: steering, and tools.
RANGED_FLAGS = (*STEERING, "max_tool_rounds")
#: Names IPython keeps its own history in: `_`, `__`, `___`, `_12`, `_i`, `_ii`, `_i12`, `_oh`…
_IPYTHON_HISTORY = re.compile(r"_{1,3}|_i{1,3}|_i?\d+|_[ido]h")


@dataclass(frozen=True)
class CellRequest:
    """A parsed cell. `settings` already carry the cell's flags; `mode` is the one way it runs."""

    prompt: str
    settings: QwQSettings
    mode: Mode = "answer"
    chat: str | None = None
    new: bool = False
    history: bool = True
    append: bool = False
    compare: str = ""  # PARAM=V1,V2,… when mode == "compare"
    vote: int = 0  # how many runs when mode == "vote"
    out: str | None = None
    code: bool = False
    interpolate: bool = True

    def but(self, **changes: Any) -> CellRequest:
        """A copy with some fields changed (`%qwq retry` and `explain` adjust a parsed cell)."""
        return replace(self, **changes)


def cell_request(
    args: Any, prompt: str, *, settings: QwQSettings, namespace: dict[str, Any], hidden: Any = ()
) -> CellRequest:
    """The flags `args` (argparse) and the cell's text as one `CellRequest`, or one UsageError.

    `namespace` is where `--json VAR` and `--tools VAR` are looked up; `hidden` are the names
    IPython keeps for itself, which `--out` may not overwrite.
    """
    # A mode flag is asked for when given at all: `--vote 0` is refused by the vote, not ignored.
    modes = [mode for mode in _MODE_FLAGS if getattr(args, mode, None) not in (None, False)]
    _refuse_mode_conflicts(args, modes)
    _check_out_name(args.out, hidden)
    cell_settings = settings.override(**_overrides(args, namespace))
    mode: Mode = modes[0] if modes else "background" if cell_settings.background else "answer"
    return CellRequest(
        prompt=prompt,
        settings=cell_settings,
        mode=mode,
        chat=args.chat,
        new=args.new,
        history=not args.no_history,
        append=args.append,
        compare=args.compare or "",
        vote=getattr(args, "vote", None) or 0,
        out=args.out,
        code=args.code,
        interpolate=not args.no_interpolate,
    )


def _refuse_mode_conflicts(args: Any, modes: list[Mode]) -> None:
    if modes == ["compare", "dry_run"]:
        name = args.compare.partition("=")[0].strip().replace("_", "-") or "PARAM"
        raise UsageError(
            f"--dry-run and --compare cannot be combined; dry-run one value with --{name} X"
        )
    if len(modes) > 1:
        flags = " and ".join(_MODE_FLAGS[mode] for mode in modes)
        raise UsageError(f"{flags} cannot be combined: a cell runs one way; choose one")
    if args.code and modes:
        raise UsageError(
            f"--code and {_MODE_FLAGS[modes[0]]} cannot be combined: --code puts the answer "
            "of one call, as it ends, into a new cell"
        )


def _overrides(args: Any, namespace: dict[str, Any]) -> dict[str, Any]:
    """The settings this cell's flags change, for `QwQSettings.override` to validate."""
    changes: dict[str, Any] = {
        name: getattr(args, name)
        for name in (*NUMERIC_PARAMETERS, *RANGED_FLAGS)
        if getattr(args, name, None) is not None
    }
    if args.raw:
        changes["raw"] = True
    if args.no_stream:
        changes["stream"] = False
    if args.hide_reasoning or args.show_reasoning:
        changes["show_reasoning"] = args.show_reasoning
    if args.background:
        changes["background"] = True
    if getattr(args, "confirm_tools", False):
        changes["confirm_tools"] = True
    if getattr(args, "anatomy", False):
        changes["anatomy"] = True
    if getattr(args, "reuse", False):
        changes["reuse"] = "saved"
    if args.system is not None:
        changes["system_prompt"] = args.system
    for flag in ("backend", "base_url", "model", "server"):
        if getattr(args, flag):
            changes[flag] = getattr(args, flag)
    if args.json:
        changes["guided_json"] = _schema(_variable(namespace, args.json, "--json"))
    if args.tools:
        tools = _variable(namespace, args.tools, "--tools")
        if callable(tools) and not isinstance(tools, type):
            tools = [tools]  # one function: `--tools count_rows`
        if not isinstance(tools, (list, tuple, dict)):
            raise UsageError(
                f"--tools {args.tools}: needs a list of functions or tool dicts, or a dict of "
                f"name -> function, not {type(tools).__name__}"
            )
        changes["tools"] = tools
    return changes


def _variable(namespace: dict[str, Any], name: str, flag: str) -> Any:
    if name not in namespace:
        raise UsageError(f"{flag}: no variable named {name!r}")
    return namespace[name]


def _schema(value: Any) -> dict[str, Any]:
    """A JSON schema from a dict, or from a pydantic model class."""
    if isinstance(value, dict):
        return value
    to_schema = getattr(value, "model_json_schema", None)
    if callable(to_schema):
        schema: dict[str, Any] = to_schema()
        return schema
    raise UsageError("--json needs a dict holding a JSON schema (or a pydantic model class)")


def _check_out_name(name: str | None, hidden: Any) -> None:
    """`--out NAME` must be an ordinary variable: not a keyword, dunder or IPython's own."""
    if name is None:
        return
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(
            f"--out must be a Python variable name (letters, digits and _, not a keyword), "
            f"not {name!r}"
        )
    if name.startswith("__") or _IPYTHON_HISTORY.fullmatch(name):
        raise UsageError(f"--out {name}: names like this belong to Python or IPython; pick another")
    if name in hidden:
        raise UsageError(f"--out {name}: {name} is IPython's own; pick another name")
