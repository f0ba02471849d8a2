"""Kernel values in prompts: `{@name}` interpolation and compact summaries of data.

The syntax is `{@expression}`: an opening brace, an at sign, then a name. Python dicts, sets,
f-strings, JSON, LaTeX (`{@{}l@{}}` column specs), Jinja and shell (`${@:2}`) never contain
`{@` followed by a letter or underscore, so ordinary text and code pass through untouched.
`{@@name}` writes a literal `{@name}`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from ..core.errors import ConfigurationError
from ..core.public import publish

__all__ = ["code_blocks", "interpolate", "summarize"]

# `{{@index}}` (Handlebars) is not ours: no brace may stand right outside the placeholder.
_PLACEHOLDER = re.compile(r"(?<!\{)\{@(@?)([A-Za-z_][^{}\n]*?)\}(?!\})")
_CODE_BLOCK = re.compile(r"^(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)
_CODE_LANGUAGES = {"", "python", "py", "python3", "ipython", "pycon"}
_CHARS_PER_TOKEN = 3  # like the window estimator: a budget errs on the small side


def interpolate(text: str, namespace: Mapping[str, Any], *, budget: int = 1000) -> str:
    """Replace each `{@expression}` with a summary of its value in `namespace`."""

    def substitute(match: re.Match[str]) -> str:
        escaped, expression = match.groups()
        if escaped:
            return "{@" + expression + "}"
        if not _is_expression(expression):
            return match.group()  # {@link Foo#bar}, {@html x}: other languages' syntax
        try:
            scope = namespace if isinstance(namespace, dict) else dict(namespace)
            value = eval(expression, scope)  # the user's own kernel and expression, by design
        except NameError as err:
            raise ConfigurationError(
                f"{{@{expression}}}: {err} (write {{@@{expression}}} or use --no-interpolate "
                "to send it as it is)"
            ) from None
        except Exception as err:
            raise ConfigurationError(f"{{@{expression}}} failed: {_describe(err)}") from None
        try:
            return summarize(value, budget=budget)
        except Exception as err:  # the value's own repr or len raised
            raise ConfigurationError(
                f"{{@{expression}}}: its value cannot be shown: {_describe(err)}"
            ) from None

    return _PLACEHOLDER.sub(substitute, text)


def _describe(err: BaseException) -> str:
    """`Type: message`, on one line, whatever the exception's own str does."""
    try:
        message = str(err)
    except Exception:
        message = ""
    first = message.strip().split("\n")[0]
    if len(first) > 200:
        first = first[:199] + "…"
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def _is_expression(text: str) -> bool:
    """A single Python expression with no comment (Javadoc's `{@value #MAX}` is not one)."""
    if "#" in text:
        return False
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def summarize(value: Any, *, budget: int = 1000) -> str:
    """A compact, budgeted description of a value, with a notice when it was cut."""
    limit = budget * _CHARS_PER_TOKEN
    kind = type(value)
    module = kind.__module__.split(".")[0]
    if module == "pandas" and kind.__name__ == "DataFrame":
        text = _pandas_frame(value, limit)
    elif module == "pandas" and kind.__name__ == "Series":
        text = _pandas_series(value, limit)
    elif module == "numpy" and kind.__name__ == "ndarray":
        text = _numpy_array(value)
    elif module == "polars" and kind.__name__ == "DataFrame":
        text = _polars_frame(value)
    elif isinstance(value, str):
        text = value
    elif isinstance(value, (list, tuple, set, frozenset, dict)):
        text = _container(value, limit)
    else:
        text = repr(value)
    return _cut(text, limit, budget)


def _cut(text: str, limit: int, budget: int) -> str:
    if len(text) <= limit:
        return text
    return (
        text[:limit] + f"\n[… cut to fit the {budget:,}-token budget; {len(text):,} chars in all]"
    )


def _pandas_frame(frame: Any, limit: int) -> str:
    rows, columns = frame.shape
    lines = [f"pandas DataFrame: {rows:,} rows × {columns:,} columns"]
    nulls = frame.isna().sum()
    lines.append("columns (dtype, nulls):")
    lines += [
        f"  {name}: {dtype}, {int(nulls[name]):,} null" for name, dtype in frame.dtypes.items()
    ]
    lines.append("first rows:")
    lines.append(frame.head(5).to_string(max_colwidth=40))
    numeric = frame.select_dtypes("number")
    if not numeric.empty:
        lines.append("numeric summary:")
        lines.append(numeric.describe().round(4).to_string())
    return "\n".join(lines)


def _pandas_series(series: Any, limit: int) -> str:
    lines = [
        f"pandas Series {series.name!r}: {len(series):,} values, dtype {series.dtype}, "
        f"{int(series.isna().sum()):,} null",
        "first values:",
        series.head(5).to_string(),
    ]
    if series.dtype.kind in "iufc":
        lines += ["summary:", series.describe().round(4).to_string()]
    return "\n".join(lines)


def _numpy_array(array: Any) -> str:
    lines = [f"numpy array: shape {array.shape}, dtype {array.dtype}"]
    if array.size and array.dtype.kind in "iuf":
        lines.append(
            f"min {array.min():.6g}, max {array.max():.6g}, mean {array.mean():.6g}, "
            f"std {array.std():.6g}"
        )
    flat = array.ravel()
    sample = ", ".join(str(v) for v in flat[:10])
    more = f", … ({flat.size - 10:,} more)" if flat.size > 10 else ""
    lines.append(f"values: [{sample}{more}]")
    return "\n".join(lines)


def _polars_frame(frame: Any) -> str:
    rows, columns = frame.shape
    lines = [f"polars DataFrame: {rows:,} rows × {columns:,} columns", "columns (dtype, nulls):"]
    nulls = frame.null_count().row(0)
    lines += [
        f"  {name}: {dtype}, {count:,} null"
        for (name, dtype), count in zip(frame.schema.items(), nulls, strict=False)
    ]
    lines += ["first rows:", str(frame.head(5)), "summary:", str(frame.describe())]
    return "\n".join(lines)


def _container(value: Any, limit: int) -> str:
    items = list(value.items()) if isinstance(value, dict) else list(value)
    shown: list[str] = []
    size = 0
    room = limit - 40  # leave space for the "… and N more" tail
    for item in items:
        text = f"{item[0]!r}: {item[1]!r}" if isinstance(value, dict) else repr(item)
        if size + len(text) > room:
            break
        shown.append(text)
        size += len(text) + 2
    left = len(items) - len(shown)
    tail = f", … and {left:,} more of {len(items):,}" if left else ""
    brackets: dict[type, tuple[str, str]] = {dict: ("{", "}"), list: ("[", "]"), tuple: ("(", ")")}
    opening, closing = brackets.get(type(value), ("{", "}"))
    return f"{opening}{', '.join(shown)}{tail}{closing}"


def code_blocks(markdown: str) -> list[str]:
    """The Python (or unlabelled) fenced code blocks of a Markdown answer, in order."""
    return [
        body.rstrip("\n")
        for _fence, language, body in _CODE_BLOCK.findall(markdown)
        if language.lower() in _CODE_LANGUAGES
    ]


publish(globals())
