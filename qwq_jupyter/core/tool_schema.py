"""JSON schema for tools: from Python types and docstrings, and values checked against it.

`describe(tp)` gives a type's schema and what turns a checked JSON value into that type; it
raises `TypeError` with the reason when a model cannot send the type. `parse_docstring` reads
Google, NumPy and Sphinx docstrings. `mismatch(value, schema)` is a small validator for the subset
of JSON Schema tools use; its line names the argument and is meant for the model. Pure.
"""

from __future__ import annotations

import datetime
import enum
import functools
import inspect
import json
import math
import operator
import re
import types
import typing
from collections import abc
from collections.abc import Callable
from typing import Any

from .errors import server_text

__all__ = ["DESCRIPTION_LIMIT", "USE", "Convert", "bounded", "describe", "is_json_scalar",
           "mismatch", "parse_docstring", "quoted", "shown"]  # fmt: skip

#: The most characters a description taken from a docstring keeps.
DESCRIPTION_LIMIT = 1000
#: What a refusal of a type suggests instead.
USE = "use str, int, float, bool, list, dict, Literal or an Enum, or give it a default"
Convert = Callable[[Any], Any]


def quoted(key: object) -> str:
    """A name from outside, quoted for one line: bounded, control characters shown."""
    return repr(server_text(key, 64)) if isinstance(key, str) else server_text(repr(key), 64)


class _Undescribable(TypeError):
    """Why a type cannot be sent as JSON (control flow inside this module only)."""


_SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARRAYS: dict[Any, Any] = {list: None, abc.Sequence: None, abc.MutableSequence: None,
                           abc.Iterable: None, abc.Collection: None, set: set, frozenset: frozenset,
                           abc.Set: frozenset, abc.MutableSet: set}  # fmt: skip
_MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)
_DATES = {datetime.datetime: "date-time", datetime.date: "date", datetime.time: "time"}


def describe(tp: Any) -> tuple[dict[str, Any], Convert | None]:
    """The JSON schema of `tp`, and what turns a checked JSON value into it (None: as is).

    Raises `TypeError` saying why (one phrase) when a model cannot send a `tp`.
    """
    try:
        return _describe(tp)
    except _Undescribable as err:
        if str(err):
            raise
        name = tp.__qualname__ if isinstance(tp, type) and not typing.get_args(tp) else repr(tp)
        name = re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", name)  # list[pandas.….DataFrame]
        why = f"is annotated {server_text(name, 100)}, which a model cannot send as JSON; {USE}"
        raise _Undescribable(why) from None


def _describe(tp: Any) -> tuple[dict[str, Any], Convert | None]:
    try:
        hash(tp)
    except TypeError:
        raise _Undescribable() from None  # the whole annotation is named by `describe`
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        schema, convert = _describe(args[0])
        notes = [n if isinstance(n, str) else getattr(n, "description", None) for n in args[1:]]
        text = next((n for n in notes if isinstance(n, str) and n.strip()), None)
        return ({**schema, "description": bounded(text)} if text else schema), convert
    if hasattr(tp, "__supertype__"):  # typing.NewType
        return _describe(tp.__supertype__)
    if tp in (Any, object, inspect.Parameter.empty):
        return {}, None
    if tp in (None, type(None)):
        return {"type": "null"}, None
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}, _to_int if tp is int else None
    if tp in _DATES:
        return {"type": "string", "format": _DATES[tp]}, functools.partial(_read_date, tp)
    values = [m.value for m in tp] if isinstance(tp, type) and issubclass(tp, enum.Enum) else args
    if (origin is typing.Literal or values is not args) and all(map(is_json_scalar, values)):
        kinds = {_json_type(v) for v in values}
        typed = {"type": kinds.pop()} if len(kinds) == 1 else {}
        return {**typed, "enum": list(values)}, None if values is args else tp
    if origin is typing.Union or origin is types.UnionType:
        return _union(args)
    if (
        tp in _ARRAYS
        or origin in _ARRAYS
        or ((tp is tuple or origin is tuple) and (not args or args[1:] == (Ellipsis,)))
    ):
        item, convert = _describe(args[0]) if args else ({}, None)
        collect = tuple if tuple in (tp, origin) else _ARRAYS[origin if origin in _ARRAYS else tp]
        array = {"type": "array", "items": item} if args else {"type": "array"}
        if convert is None and collect is None:
            return array, None
        return array, lambda v: (collect or list)(v if convert is None else map(convert, v))
    if origin is tuple:
        described = [_describe(arg) for arg in args]
        fixed = {"type": "array", "prefixItems": [schema for schema, _ in described]}
        converters = [convert or (lambda v: v) for _, convert in described]
        return {**fixed, "minItems": len(args), "maxItems": len(args)}, lambda v: tuple(
            convert(item) for convert, item in zip(converters, v, strict=False)
        )
    if (tp in _MAPPINGS or origin in _MAPPINGS) and (not args or args[0] in (str, Any)):
        value, convert = _describe(args[1]) if args else ({}, None)
        return {"type": "object", "additionalProperties": value}, None if convert is None else (
            lambda v: {key: convert(item) for key, item in v.items()}
        )
    if values is not args:
        name = server_text(tp.__qualname__, 80)
        raise _Undescribable(f"is an Enum ({name}) whose values are not JSON; {USE}")
    raise _Undescribable()


def is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or type(value) in (str, int, bool)


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
             tuple: "array", dict: "object"}  # fmt: skip
    return next((name for kind, name in names.items() if isinstance(value, kind)), "null")


def _to_int(value: Any) -> Any:
    return int(value) if isinstance(value, float) else value  # 3.0 is an integer in JSON


def _read_date(kind: Any, value: str) -> Any:
    try:  # before 3.11, fromisoformat does not read "Z"
        return kind.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise ValueError(f"must be a {_DATES[kind]} in ISO 8601, got {shown(value)}") from None


def _union(args: tuple[Any, ...]) -> tuple[dict[str, Any], Convert | None]:
    """`anyOf` the choices; a None among them allows null (as a second type where it can)."""
    described = [_describe(arg) for arg in args if arg is not type(None)]
    if len(described) == 1:
        schema, convert = described[0]
    else:
        schema = {"anyOf": [schema for schema, _ in described]}
        convert = _first_fitting(described) if any(c for _, c in described) else None
    if len(described) == len(args) or not schema or schema.get("type") == "null":
        return schema, convert
    if isinstance(schema.get("type"), str):
        schema = {**schema, "type": [schema["type"], "null"]}
        schema.update({"enum": [*schema["enum"], None]} if "enum" in schema else {})
    elif "anyOf" in schema:
        schema = {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    else:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema, None if convert is None else (lambda v: None if v is None else convert(v))


def _first_fitting(described: list[tuple[dict[str, Any], Convert | None]]) -> Convert:
    def convert(value: Any) -> Any:  # as the first choice that fits
        for choice, each in described:
            if mismatch(value, choice, "") is None:
                return value if each is None else each(value)
        return value

    return convert


# --- Docstrings: the summary, and each parameter's text (Google, NumPy, Sphinx) -------------

_GOOGLE = re.compile(r"(args|arguments|parameters|params|keyword args|keyword arguments|"
                     r"other parameters)\s*:", re.I)  # fmt: skip
_OTHER = re.compile(r"(returns?|yields?|raises|examples?|notes?|warnings?|see also|references|"
                    r"attributes|todo|methods)\s*:", re.I)  # fmt: skip
_NUMPY = re.compile(r"(parameters|other parameters|keyword arguments)", re.I)
_GOOGLE_ENTRY = re.compile(r"\*{0,2}([A-Za-z_]\w*)\s*(?:\([^)]*\))?\s*:(.*)")
_NUMPY_ENTRY = re.compile(r"\*{0,2}([A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)\s*(?::.*)?")
_SPHINX = re.compile(r":param\s+(?:[^:]*\s)?\*{0,2}([A-Za-z_]\w*)\s*:(.*)")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and the parameters' descriptions, each one line and bounded."""
    lines = [line.rstrip() for line in doc[:100_000].expandtabs().splitlines()]
    summary: list[str] = []
    found: dict[str, list[str]] = {}
    mode, base, entry_indent = "summary", 0, 1 << 30
    current: list[str] | None = None
    for number, line in enumerate(lines):
        text, indent = line.strip(), len(line) - len(line.lstrip())
        underlined = number + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[number + 1].strip())
        if re.fullmatch(r"-{3,}", text) or (mode != "summary" and not text):
            continue  # a NumPy title's underline (read with the title), or a blank line
        if underlined or _GOOGLE.fullmatch(text) or _OTHER.fullmatch(text):
            numpy, google = underlined and _NUMPY.fullmatch(text), _GOOGLE.fullmatch(text)
            mode = "numpy" if numpy else "google" if google and not underlined else ""
            base, entry_indent, current = indent, 1 << 30, None
        elif re.match(r":\w", text):  # a Sphinx field: `:param x: …`, `:returns: …`
            mode, base, sphinx = "sphinx", indent, _SPHINX.fullmatch(text)
            current = found.setdefault(sphinx.group(1), []) if sphinx else None
            if sphinx and current is not None:
                current.append(sphinx.group(2))
        elif mode == "summary":
            summary.append(text)
            mode = "summary" if text or not any(summary) else ""
        elif mode == "google" and indent > base:
            entry = _GOOGLE_ENTRY.fullmatch(text)
            if entry and indent <= entry_indent:
                entry_indent, current = indent, found.setdefault(entry.group(1), [])
                current.append(entry.group(2))
            elif current is not None:
                current.append(text)
        elif mode == "numpy" and indent <= base:
            entry = _NUMPY_ENTRY.fullmatch(text)
            current = [] if entry else None
            for name in re.split(r"\s*,\s*", entry.group(1)) if entry else ():
                found[name.lstrip("*")] = typing.cast(list[str], current)
        elif mode in ("numpy", "sphinx") and indent > base and current is not None:
            current.append(text)
        else:
            mode, current = ("" if mode == "google" else mode), None
    described = {name: bounded(" ".join(parts)) for name, parts in found.items()}
    return bounded(" ".join(summary)), {name: text for name, text in described.items() if text}


def bounded(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- Checking the model's arguments ---------------------------------------------------------

_KINDS = {"string": "a string", "integer": "an integer", "number": "a number", "null": "null",
          "boolean": "true or false", "array": "an array", "object": "an object"}  # fmt: skip
_CLASSES: dict[str, Any] = {"string": str, "boolean": bool, "array": (list, tuple),
                            "object": dict, "null": type(None)}  # fmt: skip
_BOUNDS = (("minimum", "at least", operator.ge), ("maximum", "at most", operator.le),
           ("exclusiveMinimum", "more than", operator.gt),
           ("exclusiveMaximum", "less than", operator.lt))  # fmt: skip


def shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)[:400]
    except (ValueError, RecursionError):
        text = repr(value)[:400]
    return server_text(text, 60)


def _is(value: Any, kind: str) -> bool:
    """Whether `value` is of JSON type `kind`: true is not an integer, 3.0 is, NaN is no number."""
    if kind in ("integer", "number"):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        finite = number and (not isinstance(value, float) or math.isfinite(value))
        return finite and (kind == "number" or not isinstance(value, float) or value.is_integer())
    return kind not in _CLASSES or isinstance(value, _CLASSES[kind])  # unknown types: no rule


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, and lists and objects compare item by item."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    numbers = {_json_type(a), _json_type(b)} <= {"integer", "number"}
    return (type(a) is type(b) or numbers) and a == b


def _types(schema: Any) -> list[str]:
    kinds = schema.get("type") if isinstance(schema, dict) else None
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return [kind for kind in kinds if isinstance(kind, str)] if isinstance(kinds, list) else []


def _kind(schema: Any) -> str:
    if _types(schema):
        return " or ".join(_KINDS.get(kind, kind) for kind in _types(schema))
    if isinstance(schema, dict) and isinstance(schema.get("enum"), list):
        return "one of " + ", ".join(shown(v) for v in schema["enum"][:8])
    return "a value of another shape"


def mismatch(value: Any, schema: Any, path: str) -> str | None:
    """Why `value` does not fit `schema` (one line naming where), or None when it does."""
    name = f"argument '{path}'" if path else "arguments"
    got = f"got {shown(value)}"
    if not isinstance(schema, dict):
        return f"{name} is not allowed" if schema is False else None
    if _types(schema) and not any(_is(value, kind) for kind in _types(schema)):
        return f"{name} must be {_kind(schema)}, {got}"
    options = schema.get("enum")
    if isinstance(options, list) and not any(_same(value, option) for option in options):
        listed = ", ".join(shown(v) for v in options[:12]) + (", …" if options[12:] else "")
        return f"{name} must be one of {listed}, {got}"
    if "const" in schema and not _same(value, schema["const"]):
        return f"{name} must be {shown(schema['const'])}, {got}"
    for word in ("anyOf", "oneOf", "allOf"):
        choices = schema.get(word)
        if not isinstance(choices, list) or not choices:
            continue
        problems = [mismatch(value, choice, path) for choice in choices]
        if word == "allOf" and any(problems):
            return next(p for p in problems if p)
        if word == "oneOf" and problems.count(None) > 1:
            return f"{name} fits more than one of its choices, {got}"
        if word != "allOf" and None not in problems:
            typed = [p for c, p in zip(choices, problems, strict=True) if _is_any(value, c)]
            wanted = " or ".join(dict.fromkeys(_kind(choice) for choice in choices))
            return typed[0] if len(typed) == 1 else f"{name} must be {wanted}, {got}"
    if isinstance(value, str):
        return _size_problem(len(value), schema, name, "Length", "characters long")
    if isinstance(value, (list, tuple)):
        problem = _size_problem(len(value), schema, name, "Items", "items")
        prefix, items = schema.get("prefixItems"), schema.get("items")
        if isinstance(items, list):  # the older spelling of prefixItems
            prefix, items = items, schema.get("additionalItems")
        prefix = prefix if isinstance(prefix, list) else []
        for number, item in enumerate(value):
            rule = prefix[number] if number < len(prefix) else items
            problem = problem or mismatch(item, rule, f"{path}[{number}]")
        return problem
    if isinstance(value, dict):
        return _object_problem(value, schema, path)
    for word, phrase, holds in _BOUNDS if _is(value, "number") else ():
        bound: Any = schema.get(word)
        if _is(bound, "number") and not holds(value, bound):
            return f"{name} must be {phrase} {shown(bound)}, {got}"
    return None


def _is_any(value: Any, schema: Any) -> bool:
    return any(_is(value, kind) for kind in _types(schema))


def _size_problem(size: int, schema: dict[str, Any], name: str, word: str, unit: str) -> str | None:
    low: Any = schema.get(f"min{word}")
    high: Any = schema.get(f"max{word}")
    verb = "have" if word == "Items" else "be"
    if _is(low, "integer") and size < low:
        return f"{name} must {verb} at least {low} {unit}, got {size}"
    if _is(high, "integer") and size > high:
        return f"{name} must {verb} at most {high} {unit}, got {size}"
    return None


def _object_problem(value: dict[str, Any], schema: dict[str, Any], path: str) -> str | None:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    extra = schema.get("additionalProperties", True)
    inside, word = (f" in argument '{path}'", "key") if path else ("", "argument")
    for key in value:
        if key not in properties and extra is False:
            expected = ", ".join(server_text(k, 40) for k in list(properties)[:20]) or "none"
            return f"unknown {word} {quoted(key)}{inside} (expected: {expected})"
    required = schema.get("required")
    for key in required if isinstance(required, list) else []:
        if key not in value:
            return f"missing required {word} {quoted(key)}{inside}"
    for key, item in value.items():
        problem = mismatch(item, properties.get(key, extra), f"{path}.{key}" if path else str(key))
        if problem:
            return problem
    return None
