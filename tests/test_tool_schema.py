"""Python callables as tools: their schema, checking the model's arguments, running them."""

from __future__ import annotations

import datetime
import enum
import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwq_jupyter.core.errors import ConfigurationError
from qwq_jupyter.core.tool_schema import mismatch, parse_docstring
from qwq_jupyter.core.tools import Tool, run_tool, tools_from, unknown_tool_error


class Region(enum.Enum):
    NORTH = "North"
    SOUTH = "South"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Frame:
    """Stands for a DataFrame: a type a model cannot send."""


class Note:
    def __init__(self, description: str) -> None:
        self.description = description


def _tool(function: Any) -> Tool:
    (tool,) = tools_from([function])
    return tool


def _params(function: Any) -> dict[str, Any]:
    return _tool(function).parameters


def _refusal(value: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        tools_from(value)
    line = str(caught.value)
    assert "\n" not in line
    return line


# --- Schemas --------------------------------------------------------------------------------


def google(region: Region, year: int, scale: float = 1.0, *, verbose: bool = False) -> str:
    """Total sales of a region
    in one year.

    Reads the table.

    Args:
        region (Region): Where the sales
            were made.
        year: The year, e.g.
            2024.
        scale: A factor.

    Returns:
        The total.
    """
    return ""


def test_a_google_docstring_gives_the_summary_and_each_parameter() -> None:
    tool = _tool(google)
    assert tool.name == "google"
    assert tool.description == "Total sales of a region in one year."
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "region": {
                "type": "string",
                "enum": ["North", "South"],
                "description": "Where the sales were made.",
            },
            "year": {"type": "integer", "description": "The year, e.g. 2024."},
            "scale": {"type": "number", "description": "A factor.", "default": 1.0},
            "verbose": {"type": "boolean", "default": False},
        },
        "required": ["region", "year"],
        "additionalProperties": False,
    }
    assert tool.schema() == {
        "name": "google",
        "description": tool.description,
        "parameters": tool.parameters,
    }


def numpy_style(rows: list[dict[str, float]], names: Sequence[str] = ()) -> None:
    """Summary.

    Parameters
    ----------
    rows : list of dict
        The rows,
        one dict each.
    names, other : sequence
        Labels.

    Returns
    -------
    None
        nothing to see
    """


def sphinx(x: float, y: set[int]) -> None:
    """Sphinx summary.

    :param x: the x
        continued.
    :type x: float
    :param set[int] y: the y
    :returns: nothing
    """


def test_numpy_and_sphinx_docstrings() -> None:
    rows = _params(numpy_style)["properties"]
    assert rows["rows"] == {
        "type": "array",
        "items": {"type": "object", "additionalProperties": {"type": "number"}},
        "description": "The rows, one dict each.",
    }
    assert rows["names"] == {"type": "array", "items": {"type": "string"}, "description": "Labels."}
    assert _tool(numpy_style).description == "Summary."
    tool = _tool(sphinx)
    assert tool.description == "Sphinx summary."
    assert tool.parameters["properties"]["x"]["description"] == "the x continued."
    assert tool.parameters["properties"]["y"]["description"] == "the y"


def test_docstring_parser_edges() -> None:
    assert parse_docstring("") == ("", {})
    assert parse_docstring("\n\n  Only a summary.  \n") == ("Only a summary.", {})
    assert parse_docstring("Args:\n    a: first\n    b (int): second\n") == (
        "",
        {"a": "first", "b": "second"},
    )
    summary, found = parse_docstring("S.\nArguments:\n  *args: all\n  **kw: rest\nText after.")
    assert (summary, found) == ("S.", {"args": "all", "kw": "rest"})
    long = parse_docstring("x" * 5000 + "\n\nArgs:\n    a: " + "y " * 3000)
    assert len(long[0]) == 1000 and long[0].endswith("…")
    assert len(long[1]["a"]) == 1000


def kinds(
    choice: Literal["a", "b"],
    mixed: Literal[1, "x"],
    level: Level,
    maybe: Optional[int],  # noqa: UP045  (the typing spelling, too)
    either: Union[int, str],  # noqa: UP007
    pair: tuple[int, str],
    many: tuple[float, ...],
    table: Mapping[str, list[bool]],
    when: datetime.datetime,
    day: datetime.date,
    anything: Any,
    bare,
    nothing: None,
    note: Annotated[int, "how many"],
    other: Annotated[str, Note("described")],
    frame: Frame | None = None,
) -> None:
    pass


def test_each_kind_of_annotation() -> None:
    properties = _params(kinds)["properties"]
    assert properties["choice"] == {"type": "string", "enum": ["a", "b"]}
    assert properties["mixed"] == {"enum": [1, "x"]}
    assert properties["level"] == {"type": "integer", "enum": [1, 2]}
    assert properties["maybe"] == {"type": ["integer", "null"]}
    assert properties["either"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert properties["pair"] == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert properties["many"] == {"type": "array", "items": {"type": "number"}}
    assert properties["table"] == {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "boolean"}},
    }
    assert properties["when"] == {"type": "string", "format": "date-time"}
    assert properties["day"] == {"type": "string", "format": "date"}
    assert properties["anything"] == properties["bare"] == {}
    assert properties["nothing"] == {"type": "null"}
    assert properties["note"] == {"type": "integer", "description": "how many"}
    assert properties["other"] == {"type": "string", "description": "described"}
    assert "frame" not in properties  # has a default: the function's own is used
    assert "maybe" in _params(kinds)["required"]  # Optional without a default is still required


def test_optional_with_a_default_is_not_required_and_nullable_literal() -> None:
    def pick(size: Literal["s", "m"] | None = None, top: int | str | None = 3) -> None:
        pass

    params = _params(pick)
    assert params["required"] == []
    assert params["properties"]["size"] == {
        "type": ["string", "null"],
        "enum": ["s", "m", None],
        "default": None,
    }
    assert params["properties"]["top"]["anyOf"][-1] == {"type": "null"}


def test_self_args_and_kwargs_are_left_out() -> None:
    class Shop:
        def price(self, item: str, *extra: int, **options: Any) -> int:
            return len(item)

    tool = tools_from([Shop().price])[0]
    assert tool.parameters["properties"] == {"item": {"type": "string"}}
    assert run_tool(tool, {"item": "abc"}).result == "3"


def test_string_annotations_resolve_or_are_refused_in_one_line() -> None:
    namespace: dict[str, Any] = {}
    source = "def f(a: 'int', b: 'Missing' = 1):\n    return a\n"  # as in a notebook's cell
    exec(compile(source, "<cell>", "exec", dont_inherit=True), namespace)
    assert _params(namespace["f"])["properties"] == {"a": {"type": "integer"}}
    source = "def g(a: 'int', b: 'Missing'):\n    return a\n"
    exec(compile(source, "<cell>", "exec", dont_inherit=True), namespace)
    assert _refusal([namespace["g"]]) == (
        "tools: g(a, b): parameter 'b' has the annotation 'Missing', which cannot be resolved "
        "(NameError: name 'Missing' is not defined); use str, int, float, bool, list, dict, "
        "Literal or an Enum, or give it a default"
    )


# --- Refusals -------------------------------------------------------------------------------


def count_rows(frame: Frame) -> int:
    return 0


def test_an_undescribable_parameter_is_refused_naming_tool_and_parameter() -> None:
    assert _refusal([count_rows]) == (
        "tools: count_rows(frame): parameter 'frame' is annotated Frame, which a model cannot "
        "send as JSON; use str, int, float, bool, list, dict, Literal or an Enum, or give it a "
        "default"
    )

    def nested(frames: list[Frame]) -> None:
        pass

    assert "parameter 'frames' is annotated list[Frame]," in _refusal([nested])

    def keyed(table: dict[int, str]) -> None:
        pass

    assert "is annotated dict[int, str]," in _refusal({"keyed": keyed})


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("f", "tools must be a list of functions or tool descriptions, or a dict "
              "{name: function}; not str"),
        (count_rows, "tools must be a list of functions or tool descriptions, or a dict "
                     "{name: function}; not function; give a list: [function]"),
        ([lambda x: x], "tools[0]: a lambda has no usable name; give tools as a dict "
                        "{'name': function}"),
        ([functools.partial(google, year=1)], "tools[0]: this partial object has no usable name; "
                                              "give tools as a dict {'name': function}"),
        ([Frame], "tools[0]: Frame is a class; a tool is a function or a method"),
        ([3], "tools[0] must be a function or a dict describing a tool, not int"),
        ([google, google], "tools: two tools are named 'google'; names must differ"),
        ({"bad name": google}, "tools['bad name']: 'bad name' is not a usable tool name: use 1 "
                               "to 64 letters, digits, '_' or '-'"),
        ({"x" * 65: google}, f"tools['{'x' * 63}…']: '{'x' * 63}…' is not a usable tool "
                             "name: use 1 to 64 letters, digits, '_' or '-'"),
        ({3: google}, "tools[3]: a tool's name must be text"),
        ({"name": "f", "parameters": {}}, "tools: this is one tool's description; give a list: "
                                          "[{…}]"),
        ([{"description": "d"}], "tools[0]: a tool's description needs a 'name' (text)"),
        ([{"name": "f", "parameters": {"type": "array"}}], "tools: f: 'parameters' must be a "
                                                          "JSON schema of type 'object'"),
        ([{"name": "f", "parameters": {"type": "object", "x": float("nan")}}],
         "tools: f: 'parameters' is not JSON: Out of range float values are not JSON compliant"
         + ": nan"),
        ([{"type": "function", "function": "f"}], "tools[0]: 'function' must be a dict {name, "
                                                  "parameters, …}"),
    ],
)  # fmt: skip
def test_refusals_are_one_clear_line(value: Any, line: str) -> None:
    refusal = _refusal(value)
    assert refusal == line or (line.endswith(": nan") and refusal.startswith(line[:40]))


def test_a_lambda_or_partial_is_fine_with_a_dict_key() -> None:
    tools = tools_from({"double": lambda x: x * 2, "sales_2024": functools.partial(google, year=1)})
    assert [tool.name for tool in tools] == ["double", "sales_2024"]
    assert tools[1].description.startswith("Total sales")  # the wrapped function's docstring
    assert tools[1].parameters["properties"]["year"]["default"] == 1
    assert run_tool(tools[0], {"x": 21}).result == "42"


# --- Both input shapes ----------------------------------------------------------------------

SCHEMA = {
    "name": "lookup",
    "description": "Look a word up.",
    "parameters": {
        "type": "object",
        "properties": {"word": {"type": "string", "x-exotic": [1, 2]}},
        "required": ["word"],
    },
}


def test_descriptions_in_both_shapes_and_in_a_dict() -> None:
    assert tools_from(None) == [] and tools_from([]) == []
    workers = tools_from([SCHEMA])[0]
    openai = tools_from([{"type": "function", "function": SCHEMA}])[0]
    assert workers == openai and workers.schema() == SCHEMA
    assert workers.function is None
    renamed = tools_from({"define": SCHEMA})[0]
    assert renamed.name == "define"
    bare = tools_from([{"name": "ping", "strict": True}])[0]
    assert bare.schema() == {  # as written (fields we do not read kept), with parameters
        "name": "ping",
        "strict": True,
        "parameters": {"type": "object", "properties": {}},
    }
    assert renamed.schema()["name"] == "define"
    mixed = tools_from((google, SCHEMA))
    assert [tool.name for tool in mixed] == ["google", "lookup"]
    assert tools_from(tools_from([google])) == tools_from([google])


def test_duplicates_across_shapes_are_refused() -> None:
    assert "two tools are named 'lookup'" in _refusal(
        [SCHEMA, {"type": "function", "function": SCHEMA}]
    )


def test_a_schema_only_tool_is_checked_but_never_run() -> None:
    tool = tools_from([SCHEMA])[0]
    assert tool.check_arguments({"word": "qwq"}) == {"word": "qwq"}
    outcome = run_tool(tool, {"word": "qwq"})
    assert outcome.error == "'lookup' is described only (a schema): nothing runs it"
    assert outcome.result == "" and outcome.for_model.startswith("error: ")


# --- Checking arguments ---------------------------------------------------------------------


def sales(region: Region, year: int, months: tuple[int, ...] = (), level: Level = Level.LOW):
    return {"region": region.name, "year": year, "months": months, "level": level.name}


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        ({"region": "North", "year": "3"}, "argument 'year' must be an integer, got \"3\""),
        ({"region": "North", "year": True}, "argument 'year' must be an integer, got true"),
        ({"region": "North", "year": 2.5}, "argument 'year' must be an integer, got 2.5"),
        ({"year": 3}, "missing required argument 'region'"),
        ({"regon": "North", "year": 3},
         "unknown argument 'regon' (expected: region, year, months, level)"),
        ({"region": "Nort", "year": 3},
         "argument 'region' must be one of \"North\", \"South\", got \"Nort\""),
        ({"region": "North", "year": 3, "months": [1, "2"]},
         "argument 'months[1]' must be an integer, got \"2\""),
        ({"region": "North", "year": 3, "level": True},
         "argument 'level' must be an integer, got true"),
        ({"region": "North", "year": float("nan")}, "argument 'year' must be an integer, got NaN"),
        ("[1, 2]", "arguments must be a JSON object, got [1, 2]"),
        ("{oops", "arguments are not valid JSON: Expecting property name enclosed in double "
                  "quotes: line 1 column 2 (char 1)"),
        (42, "arguments must be a JSON object, got 42"),
    ],
)  # fmt: skip
def test_bad_arguments_get_one_line_the_model_can_act_on(arguments: Any, line: str) -> None:
    with pytest.raises(ValueError) as caught:
        _tool(sales).check_arguments(arguments)
    assert str(caught.value) == line


def test_arguments_are_converted_to_what_the_function_names() -> None:
    checked = _tool(sales).check_arguments('{"region": "South", "year": 2024.0, "months": [1, 2]}')
    assert checked == {"region": Region.SOUTH, "year": 2024, "months": (1, 2)}
    assert type(checked["year"]) is int

    def shapes(
        tags: set[str],
        pair: tuple[Region, int],
        when: datetime.datetime,
        by: dict[str, Level],
        maybe: Region | None = None,
        either: Level | str = "x",
    ) -> None:
        pass

    checked = _tool(shapes).check_arguments(
        {
            "tags": ["a", "b", "a"],
            "pair": ["North", 1],
            "when": "2024-05-01T10:00:00Z",
            "by": {"k": 2},
            "maybe": None,
            "either": 1,
        }
    )
    assert checked == {
        "tags": {"a", "b"},
        "pair": (Region.NORTH, 1),
        "when": datetime.datetime(2024, 5, 1, 10, tzinfo=datetime.timezone.utc),
        "by": {"k": Level.HIGH},
        "maybe": None,
        "either": Level.LOW,
    }
    with pytest.raises(ValueError, match=r"^argument 'when' must be a date-time in ISO 8601"):
        _tool(shapes).check_arguments({"tags": [], "pair": ["North", 1], "when": "soon", "by": {}})
    ping = tools_from([{"name": "ping"}])[0]
    assert ping.check_arguments(None) == ping.check_arguments(" ") == ping.check_arguments({}) == {}


def test_the_validator_subset() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "number", "minimum": 0, "maximum": 10, "x-unknown": True},
            "s": {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^ignored$"},
            "l": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
            "c": {"const": "fixed"},
            "o": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 5}]},
            "t": {"type": ["string", "null"]},
            "p": {"type": "array", "prefixItems": [{"type": "string"}], "items": False},
            "d": {
                "type": "object",
                "properties": {"k": {"type": "boolean"}},
                "required": ["k"],
                "additionalProperties": False,
            },
        },
    }
    assert mismatch({"n": 3, "s": "ab", "l": [1], "c": "fixed", "t": None}, schema, "") is None
    assert mismatch({"n": 1, "extra": object()}, schema, "") is None  # additional allowed
    cases = {
        "n": (-1, "argument 'n' must be at least 0, got -1"),
        "s": ("abcd", "argument 's' must be at most 3 characters long, got 4"),
        "l": ([], "argument 'l' must have at least 1 items, got 0"),
        "c": ("other", 'argument \'c\' must be "fixed", got "other"'),
        "o": (7, "argument 'o' fits more than one of its choices, got 7"),
        "t": (1, "argument 't' must be a string or null, got 1"),
        "p": (["a", "b"], "argument 'p[1]' is not allowed"),
    }
    for key, (value, line) in cases.items():
        assert mismatch({key: value}, schema, "") == line
    assert mismatch({"d": {}}, schema, "") == "missing required key 'k' in argument 'd'"
    assert mismatch({"d": {"k": True, "z": 1}}, schema, "") == (
        "unknown key 'z' in argument 'd' (expected: k)"
    )
    assert mismatch({"d": {"k": 1}}, schema, "") == "argument 'd.k' must be true or false, got 1"
    assert mismatch({"o": 1.5}, schema, "") == "argument 'o' must be at least 5, got 1.5"
    either = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert mismatch(True, either, "e") == "argument 'e' must be an integer or a string, got true"
    assert mismatch({"n": math.inf}, schema, "") == "argument 'n' must be a number, got Infinity"
    assert mismatch(1, {"type": "integer", "enum": [1.0]}, "") is None  # 1 is 1.0 in JSON
    assert mismatch(True, {"enum": [1]}, "x") == "argument 'x' must be one of 1, got true"
    assert mismatch("x", {"type": "mystery"}, "") is None  # unknown types and keywords: no rule


# --- Running --------------------------------------------------------------------------------


def test_results_become_text_for_the_model() -> None:
    def text() -> str:
        return "plain"

    def data() -> dict[str, Any]:
        return {"a": [1, 2.5, None, float("nan")], "b": (math.inf,), (1, 2): {3}}

    def nothing() -> None:
        return None

    def obj() -> object:
        return Region.NORTH

    assert run_tool(_tool(text), {}).result == "plain"
    assert (
        run_tool(_tool(data), {}).result
        == '{"a": [1, 2.5, null, null], "b": [null], "(1, 2)": [3]}'
    )
    assert run_tool(_tool(nothing), {}).result == "null"
    assert run_tool(_tool(obj), {}).result == "<Region.NORTH: 'North'>"
    outcome = run_tool(_tool(sales), {"region": "North", "year": 1, "months": [3]})
    assert json.loads(outcome.result) == {
        "region": "NORTH", "year": 1, "months": [3], "level": "LOW"
    }  # fmt: skip
    assert outcome.error is None and outcome.seconds >= 0 and outcome.for_model == outcome.result


def test_pandas_and_numpy_results() -> None:
    pandas = pytest.importorskip("pandas")
    numpy = pytest.importorskip("numpy")
    frame = pandas.DataFrame({f"c{i}": range(200) for i in range(30)})
    tools = tools_from(
        {"frame": lambda: frame, "series": lambda: frame["c1"], "scalar": lambda: numpy.int64(7)}
    )
    shown = run_tool(tools[0], {}, result_chars=100_000).result
    assert "..." in shown and len(shown.splitlines()) < 60  # bounded rows and columns
    assert len(run_tool(tools[1], {}, result_chars=100_000).result.splitlines()) < 60
    assert run_tool(tools[2], {}).result == "7"


def test_a_huge_result_is_cut_with_a_note() -> None:
    tool = tools_from({"big": lambda: "x" * 12_345})[0]
    result = run_tool(tool, {}, result_chars=4000).result
    assert len(result) <= 4000
    assert result.endswith("\n[… cut: 12,345 characters in all]")
    assert result.startswith("x" * 100)


def test_a_raising_tool_gives_a_one_line_error() -> None:
    def broken(n: int) -> int:
        raise ValueError("line one\nline two \x1b[2J" + "x" * 2000)

    outcome = run_tool(_tool(broken), {"n": 1})
    assert outcome.error is not None and outcome.result == ""
    assert outcome.error.startswith("ValueError: line one line two ␛[2J")
    assert "\n" not in outcome.error and len(outcome.error) <= 500
    assert outcome.for_model == f"error: {outcome.error}"


def test_an_interrupt_is_never_swallowed_but_an_exit_is_a_failure() -> None:
    def stop() -> None:
        raise KeyboardInterrupt

    def leave() -> None:
        raise SystemExit(2)  # argparse on bad input: the tool failed, the cell goes on

    with pytest.raises(KeyboardInterrupt):
        run_tool(_tool(stop), {})
    assert run_tool(_tool(leave), {}).error == "SystemExit: 2"


def test_bad_arguments_never_call_the_function() -> None:
    calls: list[Any] = []

    def record(n: int) -> int:
        calls.append(n)
        return n

    outcome = run_tool(_tool(record), {"n": "1"})
    assert outcome.error == "argument 'n' must be an integer, got \"1\""
    assert calls == [] and outcome.seconds == 0.0
    assert run_tool(_tool(record), '{"n": 1}').result == "1" and calls == [1]


def test_positional_only_parameters_are_passed_in_order() -> None:
    def power(base: float, exponent: int = 2, /) -> float:
        return base**exponent

    tool = _tool(power)
    assert run_tool(tool, {"base": 3}).result == "9"
    assert run_tool(tool, {"base": 2, "exponent": 3}).result == "8"


def test_unknown_tool_error() -> None:
    line = unknown_tool_error("sale\x1b]52;c;x\x07s", [_tool(google), "lookup"])
    assert line == "there is no tool 'sale␛]52;c;x␇s'; the tools offered are: google, lookup"
    assert unknown_tool_error("x", []) == "there is no tool 'x'; no tools are offered"
    assert len(unknown_tool_error("y" * 10_000, [f"t{i}" for i in range(1000)])) <= 1000


# --- Properties -----------------------------------------------------------------------------

_LEAVES = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": ["string", "null"]},
        {"enum": ["a", 1, None, True]},
        {"type": "integer", "minimum": -5, "maximum": 5},
        {"type": "string", "minLength": 1, "maxLength": 4},
        {},
    ]
)
_SCHEMAS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda item: {"type": "array", "items": item, "maxItems": 3}, inner),
        st.builds(lambda value: {"type": "object", "additionalProperties": value}, inner),
        st.builds(lambda choices: {"anyOf": choices}, st.lists(inner, min_size=1, max_size=3)),
        st.dictionaries(st.sampled_from("abc"), inner, max_size=3).map(
            lambda props: {
                "type": "object",
                "properties": props,
                "required": sorted(props)[:1],
                "additionalProperties": False,
            }
        ),
    ),
    max_leaves=8,
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


def _instances(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for the schemas `_SCHEMAS` makes."""
    if "anyOf" in schema:
        return st.one_of([_instances(choice) for choice in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_instances({"type": each}) for each in kind])
    simple: dict[Any, st.SearchStrategy[Any]] = {
        "string": st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength")),
        "integer": st.integers(schema.get("minimum"), schema.get("maximum")),
        "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "boolean": st.booleans(),
        "null": st.none(),
        None: _JSON,
    }
    if kind == "array":
        return st.lists(_instances(schema["items"]), max_size=3)
    if kind == "object" and "properties" in schema:
        props = schema["properties"]
        return st.fixed_dictionaries(
            {key: _instances(props[key]) for key in schema["required"]},
            optional={k: _instances(v) for k, v in props.items() if k not in schema["required"]},
        )
    if kind == "object":
        return st.dictionaries(st.text(max_size=4), _instances(schema["additionalProperties"]))
    return simple[kind]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_valid_instance_of_a_generated_schema_passes(data: st.DataObject) -> None:
    properties = data.draw(st.dictionaries(st.sampled_from(["x", "y", "z"]), _SCHEMAS, max_size=3))
    parameters = {"type": "object", "properties": properties, "required": sorted(properties)}
    tool = tools_from([{"name": "generated", "parameters": parameters}])[0]
    arguments = data.draw(
        st.fixed_dictionaries({key: _instances(value) for key, value in properties.items()})
    )
    assert tool.check_arguments(arguments) == arguments
    assert tool.check_arguments(json.dumps(arguments)) == json.loads(json.dumps(arguments))


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=80), doc=st.text(max_size=300), arguments=_JSON)
def test_hostile_names_docstrings_and_arguments_break_nothing(
    name: str, doc: str, arguments: Any
) -> None:
    def tool(a: int, b: Literal["x", "y"] = "x") -> int:
        return a

    tool.__doc__ = doc
    try:
        (made,) = tools_from({name: tool})
    except ConfigurationError as refusal:
        assert "\n" not in str(refusal) and "\x1b" not in str(refusal)
        return
    json.dumps(made.schema(), allow_nan=False)
    assert len(made.description) <= 1000
    outcome = run_tool(made, arguments)
    assert (outcome.error is None) == (outcome.result != "")
    if outcome.error is not None:
        assert "\n" not in outcome.error and "\x1b" not in outcome.error
    assert "\n" not in unknown_tool_error(name, [made])
