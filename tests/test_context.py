"""Kernel values in prompts: `{@name}` only, everything else passes through untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qwq_jupyter import ConfigurationError
from qwq_jupyter.session.context import code_blocks, interpolate, summarize

UNTOUCHED = [
    "d = {'a': 1, 'b': {'c': 2}}",
    "s = {x for x in range(3)}",
    'f"{name!r:>10} {value:.2f} {{literal}}"',
    '{"key": [1, 2, {"nested": true}], "@type": "x"}',
    r"\begin{tabular}{@{}ll@{}} a & b \\ \end{tabular}",
    r"$\frac{a}{b} + \sum_{i=0}^{n} x_i$ and \boxed{42}",
    "{% for x in xs %}{{ x }}{# comment #}{% endfor %}",
    'echo "${@:2}" ${HOME} $(date) `ls` ${arr[@]}',
    "email me@{example}.com",
    "{@ } and {@} and {@1abc} and {@-x}",
    "{{#each items}}{{@index}}: {{@key}}{{/each}}",
    "/** {@value #MAX} and {@link Foo#bar()} and {@code x < y} */",
    "{#if ok}{@html content}{@const total = a + b}{/if}",
    "decorator:\n@property\ndef x(self): return {1: 2}",
    "matrix a @ {b} and css a{color:red} @media{x}",
]


@pytest.mark.parametrize("text", UNTOUCHED)
def test_code_and_text_pass_through_unchanged(text: str) -> None:
    assert interpolate(text, {"name": "n", "value": 1}) == text


def test_variables_and_expressions() -> None:
    namespace = {"n": 42, "words": ["a", "b"]}
    assert interpolate("n is {@n}, first {@words[0]}, len {@len(words)}", namespace) == (
        "n is 42, first a, len 2"
    )


def test_escape_writes_the_literal() -> None:
    assert interpolate("write {@@n} to get {@n}", {"n": 1}) == "write {@n} to get 1"


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match=r"\{@dff\}: name 'dff' is not defined"):
        interpolate("look at {@dff}", {"df": 1})


def test_failing_expression_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match=r"\{@x\[5\]\} failed: IndexError"):
        interpolate("{@x[5]}", {"x": [1]})


def frame(rows: int = 50) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "region": ["north", "south", None, "east", "west"] * (rows // 5),
            "sales": np.arange(rows, dtype=float),
            "units": np.arange(rows),
            "note": ["x" * 30] * rows,
        }
    )


def test_dataframe_summary_has_shape_columns_nulls_rows_and_numbers() -> None:
    text = summarize(frame())
    assert "50 rows × 4 columns" in text
    assert "region: object" in text or "region: str" in text
    assert "10 null" in text  # the region column's Nones
    assert "first rows:" in text and "numeric summary:" in text and "mean" in text


@pytest.mark.parametrize("budget", [60, 200, 1000])
def test_summaries_stay_within_budget_with_a_notice(budget: int) -> None:
    big = pd.DataFrame(np.random.default_rng(0).random((500, 40)))
    text = summarize(big, budget=budget)
    body = text.split("\n[… cut")[0]
    assert len(body) <= budget * 3
    assert f"cut to fit the {budget:,}-token budget" in text


def test_series_array_strings_and_containers() -> None:
    series = summarize(pd.Series([1.0, None, 3.0], name="x"))
    assert "Series 'x': 3 values" in series and "1 null" in series
    array = summarize(np.arange(100).reshape(10, 10))
    assert "shape (10, 10)" in array and "90 more" in array
    assert "cut to fit" in summarize("y" * 10_000, budget=100)
    listing = summarize(list(range(10_000)), budget=100)
    assert listing.startswith("[0, 1, 2") and "more of 10,000" in listing


def test_interpolating_a_dataframe_summarises_it() -> None:
    text = interpolate("Describe {@df}", {"df": frame(10)})
    assert "10 rows × 4 columns" in text


def test_code_blocks() -> None:
    answer = "Try:\n```python\nx = 1\n```\nthen\n```\ny = 2\n```\nnot\n```bash\nls\n```"
    assert code_blocks(answer) == ["x = 1", "y = 2"]
    assert code_blocks("````python\nprint('```')\n````") == ["print('```')"]


class _Unshowable:
    def __repr__(self) -> str:
        raise ValueError("no repr\nsecond line")


class _UnshowableMessage(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str of the error fails too")


class _Worse:
    def __repr__(self) -> str:
        raise _UnshowableMessage


def test_a_value_whose_repr_raises_is_one_line() -> None:
    with pytest.raises(ConfigurationError) as info:
        interpolate("see {@v}", {"v": _Unshowable()})
    assert str(info.value) == "{@v}: its value cannot be shown: ValueError: no repr"
    with pytest.raises(ConfigurationError) as info:
        interpolate("see {@v}", {"v": [_Worse()]})
    assert str(info.value) == "{@v}: its value cannot be shown: _UnshowableMessage"
