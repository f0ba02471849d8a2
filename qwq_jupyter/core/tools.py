"""Plain Python callables as tools QwQ may call: what the model is told, and running them.

`tools_from(value)` turns what a user gives (functions, tool descriptions, or a dict naming
either) into `Tool`s, refusing what a model could not call with one `ConfigurationError` line.
`Tool.check_arguments` holds the model's arguments against the schema (`core/tool_schema.py`);
`run_tool` calls the function and makes its result text. Pure: no IO, no threads. Bad arguments
are a `ValueError` whose one line goes back to the model as the tool's message.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import re
import time
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigurationError, server_text
from .tool_schema import (
    USE,
    Convert,
    describe,
    is_json_scalar,
    mismatch,
    parse_docstring,
    quoted,
    shown,
)

__all__ = [
    "RESULT_CHARS",
    "Tool",
    "ToolOutcome",
    "all_tools",
    "error_line",
    "has_functions",
    "result_text",
    "run_tool",
    "tools_from",
    "unknown_tool_error",
]  # fmt: skip

#: The most characters of a tool's result the model is sent, by default.
RESULT_CHARS = 4000
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Tool:
    """One tool: what the model is told (`schema()`) and, unless described only, what runs."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any] | None = None
    #: By parameter: what turns a checked JSON value into the type the function names.
    converters: dict[str, Convert] = field(default_factory=dict, repr=False, compare=False)
    #: Positional-only parameters in order, each with its default (or `Parameter.empty`).
    positional: tuple[tuple[str, Any], ...] = field(default=(), repr=False, compare=False)
    #: A description the user wrote, sent as written (fields we do not read included).
    given: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def schema(self) -> dict[str, Any]:
        """The Workers AI shape; the OpenAI dialect wraps it in {type: function, function: …}."""
        if self.given is not None:
            return {**self.given, "name": self.name, "parameters": self.parameters}
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def check_arguments(self, arguments: Any) -> dict[str, Any]:
        """The keyword arguments to call with, or `ValueError` with one line for the model.

        `arguments` is a dict or JSON text of one (None or "" mean none). Enum values become
        members, arrays tuples or sets, ISO text dates, where the function's annotations say so.
        """
        if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
            arguments = {}
        elif isinstance(arguments, (str, bytes)):
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError) as err:
                raise ValueError(f"arguments are not valid JSON: {server_text(err, 80)}") from None
        if not isinstance(arguments, dict):
            raise ValueError(f"arguments must be a JSON object, got {shown(arguments)}")
        problem = mismatch(arguments, self.parameters, "")
        if problem:
            raise ValueError(server_text(problem, 300))
        checked = dict(arguments)
        for name, convert in self.converters.items():
            try:
                checked.update({name: convert(checked[name])} if name in checked else {})
            except (ValueError, TypeError) as err:
                raise ValueError(f"argument '{name}' {server_text(err, 160)}") from None
        return checked


@dataclass(frozen=True)
class ToolOutcome:
    """One call: `result` (text for the model), or `error` (one line) and an empty result."""

    result: str
    error: str | None
    seconds: float

    @property
    def for_model(self) -> str:
        """The text to send back as the tool's message."""
        return f"error: {self.error}" if self.error is not None else self.result


# --- What the user gives, made Tools --------------------------------------------------------


def tools_from(value: Any) -> list[Tool]:
    """Tools from None, a list/tuple of callables or descriptions, or {name: either}."""
    if value is None:
        return []
    items: list[tuple[str, Any, Any]]
    if isinstance(value, dict):
        if (value.get("type") == "function" and isinstance(value.get("function"), dict)) or (
            isinstance(value.get("name"), str) and isinstance(value.get("parameters", {}), dict)
        ):
            raise ConfigurationError("tools: this is one tool's description; give a list: [{…}]")
        items = [(f"tools[{quoted(key)}]", key, item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"tools[{number}]", None, item) for number, item in enumerate(value)]
    else:
        raise ConfigurationError(
            "tools must be a list of functions or tool descriptions, or a dict {name: function}; "
            f"not {type(value).__name__}" + ("; give a list: [function]" if callable(value) else "")
        )
    tools: list[Tool] = []
    for where, key, item in items:
        if key is not None and not isinstance(key, str):
            raise ConfigurationError(f"{where}: a tool's name must be text")
        tool = _one_tool(item, key, where)
        if any(known.name == tool.name for known in tools):
            raise ConfigurationError(f"tools: two tools are named '{tool.name}'; names must differ")
        tools.append(tool)
    return tools


def has_functions(value: Any) -> bool:
    """Whether tools given as `value` (already checked by `tools_from`) include a function:
    cheap, without building any schema."""
    items = value.values() if isinstance(value, dict) else value or ()
    return any(
        item.function is not None if isinstance(item, Tool) else callable(item)
        for item in items
        if not isinstance(item, dict)
    )


def all_tools(*values: Any) -> list[Tool]:
    """The tools of several settings (`tools`, and the deprecated `functions`) together."""
    tools: list[Tool] = []
    for value in values:
        for tool in tools_from(value):
            if any(known.name == tool.name for known in tools):
                raise ConfigurationError(
                    f"tools: two tools are named '{tool.name}'; names must differ"
                )
            tools.append(tool)
    return tools


def _named(name: str, where: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{where}: {quoted(name)} is not a usable tool name: use 1 to 64 letters, digits, "
            "'_' or '-'"
        )
    return name


def _one_tool(item: Any, key: str | None, where: str) -> Tool:
    if isinstance(item, Tool):
        return item if key is None else dataclasses.replace(item, name=_named(key, where))
    if inspect.isclass(item):
        shown_name = server_text(item.__name__, 64)
        raise ConfigurationError(
            f"{where}: {shown_name} is a class; a tool is a function or a method"
        )
    if callable(item):
        return _from_callable(item, key, where)
    if not isinstance(item, dict):
        raise ConfigurationError(
            f"{where} must be a function or a dict describing a tool, not {type(item).__name__}"
        )
    body: Any = item.get("function") if item.get("type") == "function" else item
    if not isinstance(body, dict):
        raise ConfigurationError(f"{where}: 'function' must be a dict {{name, parameters, …}}")
    name = key if key is not None else body.get("name")
    if not isinstance(name, str):
        raise ConfigurationError(f"{where}: a tool's description needs a 'name' (text)")
    where = f"tools: {_named(name, where)}"
    description = body.get("description", "")
    parameters = body.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(description, str):
        raise ConfigurationError(f"{where}: 'description' must be text")
    if not isinstance(parameters, dict) or parameters.get("type", "object") != "object":
        raise ConfigurationError(f"{where}: 'parameters' must be a JSON schema of type 'object'")
    try:  # a copy, and proof it can be sent
        parameters = json.loads(json.dumps(parameters, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as err:
        problem = server_text(err, 80)
        raise ConfigurationError(f"{where}: 'parameters' is not JSON: {problem}") from None
    try:
        given = json.loads(json.dumps(body, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as err:
        problem = server_text(err, 80)
        raise ConfigurationError(f"{where}: the description is not JSON: {problem}") from None
    return Tool(name, description, parameters, given=given)


def _from_callable(function: Callable[..., Any], key: str | None, where: str) -> Tool:
    own = getattr(function, "__name__", None)
    if key is None and (own == "<lambda>" or not isinstance(own, str)):
        what = "a lambda" if own == "<lambda>" else f"this {type(function).__name__} object"
        raise ConfigurationError(
            f"{where}: {what} has no usable name; give tools as a dict {{'name': function}}"
        )
    name = _named(key if key is not None else typing.cast(str, own), where)
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise ConfigurationError(f"tools: {name}: Python cannot read its parameters") from None
    shown = ", ".join(p.name for p in signature.parameters.values())
    where = f"tools: {server_text(f'{name}({shown})', 120)}"
    target = function
    while isinstance(target, functools.partial):
        target = target.func
    hints = _hints(target, signature)
    try:  # a partial's own docstring describes functools.partial
        doc = inspect.getdoc(target if isinstance(function, functools.partial) else function)
    except Exception:
        doc = None
    summary, documented = parse_docstring(doc or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    positional: list[tuple[str, Any]] = []
    converters: dict[str, Convert] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        has_default = parameter.default is not parameter.empty
        try:
            hint = hints.get(parameter.name, Any)
            if isinstance(hint, TypeError):
                raise hint
            schema, convert = describe(hint)
        except TypeError as err:
            if has_default:
                continue  # the model cannot send it; the function's default is used
            raise ConfigurationError(f"{where}: parameter '{parameter.name}' {err}") from None
        if parameter.kind is parameter.POSITIONAL_ONLY:
            positional.append((parameter.name, parameter.default))
        if "description" not in schema and parameter.name in documented:
            schema["description"] = documented[parameter.name]
        if has_default and is_json_scalar(parameter.default):
            schema["default"] = parameter.default
        properties[parameter.name] = schema
        if convert is not None:
            converters[parameter.name] = convert
        if not has_default:
            required.append(parameter.name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    parameters.update(required=required, additionalProperties=False)
    return Tool(name, summary, parameters, function, converters, tuple(positional))


def _hints(target: Any, signature: inspect.Signature) -> dict[str, Any]:
    """Resolved annotations; one that cannot be resolved becomes the reason, refused if needed."""
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = type(target).__call__  # a callable object
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # a string annotation names what is not defined: resolve one by one
        namespace = dict(getattr(inspect.unwrap(target), "__globals__", {}))
    hints: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        annotation = parameter.annotation
        try:
            value = eval(annotation, namespace)  # as get_type_hints does
            hints[parameter.name] = eval(value, namespace) if isinstance(value, str) else value
        except TypeError:  # not a string
            if annotation is not parameter.empty:
                hints[parameter.name] = annotation
        except Exception as err:
            reason = server_text(f"{type(err).__name__}: {err}", 80)
            hints[parameter.name] = TypeError(
                f"has the annotation {quoted(annotation)}, which cannot be resolved ({reason}); "
                + USE
            )
    return hints


# --- Running a tool -------------------------------------------------------------------------


def run_tool(
    tool: Tool,
    arguments: Any,
    *,
    result_chars: int = RESULT_CHARS,
    mask: Callable[[str], str] = str,
) -> ToolOutcome:
    """Call the tool with the model's arguments; bad arguments or a raise become `error`.

    `mask` is applied to the whole result or error before either is cut to its length, so a
    secret at the cut cannot leave half masked. A tool that calls `sys.exit` has failed (the
    cell goes on); `KeyboardInterrupt` passes through: ■ stops the cell, not only the tool.
    """
    if tool.function is None:
        return ToolOutcome("", f"'{tool.name}' is described only (a schema): nothing runs it", 0.0)
    try:
        checked = tool.check_arguments(arguments)
    except ValueError as err:
        return ToolOutcome("", str(err), 0.0)
    positional = [checked.pop(name, default) for name, default in tool.positional]
    started = time.perf_counter()
    try:
        value = tool.function(*positional, **checked)
    except (Exception, SystemExit) as err:
        return ToolOutcome("", error_line(err, mask), time.perf_counter() - started)
    seconds = time.perf_counter() - started
    try:
        text = mask(result_text(value))
    except Exception as err:
        line = error_line(err, mask)
        return ToolOutcome("", f"its result cannot be made text: {line}", seconds)
    if len(text) > result_chars:
        note = f"\n[… cut: {len(text):,} characters in all]"
        text = text[: max(0, result_chars - len(note))] + note
    return ToolOutcome(text, None, seconds)


def error_line(err: BaseException, mask: Callable[[str], str] = str) -> str:
    """What went wrong, in one bounded printable line: `KeyError: 'price'` (masked first)."""
    try:
        said = str(err)
    except Exception:
        said = "(its message cannot be shown)"
    line = f"{type(err).__name__}: {said}" if said else type(err).__name__
    return server_text(mask(line), 500)


def result_text(value: Any) -> str:
    """A tool's return value as text: JSON for plain data, a table for a DataFrame, else repr."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float, dict, list, tuple)):
        return json.dumps(_plain(value), default=str, ensure_ascii=False, allow_nan=False)
    to_string = getattr(value, "to_string", None)
    if callable(to_string) and not isinstance(value, type):
        for options in ({"max_rows": 50, "max_cols": 20}, {"max_rows": 50}, {}):
            try:
                return str(to_string(**options))
            except TypeError:
                continue
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return result_text(value.item())
    return repr(value)


def _plain(value: Any, depth: int = 0) -> Any:
    """`value` as JSON can hold it: NaN and infinities null, sets lists, odd keys text."""
    if depth > 100:
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        keys = [k if isinstance(k, (str, int, float, bool)) or k is None else str(k) for k in value]
        return {
            key: _plain(item, depth + 1) for key, item in zip(keys, value.values(), strict=True)
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item, depth + 1) for item in value]
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return _plain(value.item(), depth + 1)
    return value


def unknown_tool_error(name: Any, tools: Iterable[Tool | str]) -> str:
    """The line the model is sent when it calls a tool that was not offered."""
    offered = [tool.name if isinstance(tool, Tool) else str(tool) for tool in tools]
    listed = ", ".join(offered[:40]) + (", …" if offered[40:] else "")
    said = f"the tools offered are: {listed}" if offered else "no tools are offered"
    return server_text(f"there is no tool {quoted(str(name))}; {said}", 1000)
