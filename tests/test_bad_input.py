"""Bad input ends in one line the user can act on, and changes nothing.

Most checks run in a real IPython shell: what the user sees is exactly one `UsageError:` line
(no traceback), nothing is sent, and the state afterwards is as it was before.
"""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from IPython.utils.capture import capture_output
from shells import ask, command, session

from qwq_jupyter import Credentials, QwQSettings, batch
from qwq_jupyter.client.cassette import FORMAT as CASSETTE_FORMAT
from qwq_jupyter.client.cassette import Cassette
from qwq_jupyter.client.client import AsyncQwQClient
from qwq_jupyter.core.errors import ConfigurationError
from qwq_jupyter.core.events import Response
from qwq_jupyter.features.batch import BatchItem, RateLimiter, run_batch
from qwq_jupyter.session.conversation import ConversationStore, Turn
from qwq_jupyter.testing import Fault, QwQTestServer, Reply


def user_sees(shell, code: str) -> str:
    """Run a cell as the user would; the one line they see, checked to be just one line."""
    with capture_output() as captured:
        result = shell.run_cell(code)
    seen = (captured.stdout + captured.stderr).strip()
    assert not result.success
    assert "Traceback" not in seen and "\n" not in seen, seen
    assert seen.startswith("UsageError: ")
    return seen


def a_later_cell_works(shell, server) -> None:
    before = len(server.requests)
    value, _ = ask(shell, "still fine?")
    assert value.finish_reason == "stop" and len(server.requests) == before + 1


# --- %qwq load ----------------------------------------------------------------------------------


def saved(**changes) -> dict:
    payload = {
        "format": "qwq-jupyter/conversations",
        "version": 1,
        "current": "default",
        "conversations": [
            {
                "name": "default",
                "system_prompt": "",
                "turns": [{"prompt": "q", "response": {"answer": "a", "finish_reason": "stop"}}],
            }
        ],
    }
    payload.update(changes)
    return payload


def turn_with(**response) -> dict:
    return saved(conversations=[{"name": "c", "turns": [{"prompt": "q", "response": response}]}])


BAD_FILES = [
    (saved(current=["x"]), "current must be text, not list"),
    (saved(conversations={"default": {}}), "conversations must be a list, not dict"),
    ({"format": "qwq-jupyter/conversations"}, "it has no conversations list"),
    (saved(conversations=[{"turns": []}]), "conversations[0] has no name"),
    (saved(conversations=[{"name": ""}]), "conversations[0].name must not be empty"),
    (saved(conversations=[{"name": 3}]), "conversations[0].name must be text, not int"),
    (saved(conversations=[{"name": "c", "turns": {}}]), "conversations[0].turns must be a list"),
    (
        saved(conversations=[{"name": "c", "turns": [{}]}]),
        "conversations[0].turns[0] has no prompt",
    ),
    (
        saved(conversations=[{"name": "c", "turns": ["q"]}]),
        "conversations[0].turns[0] must be an object, not str",
    ),
    (turn_with(answer=5), "conversations[0].turns[0].response.answer must be text, not int"),
    (turn_with(finish_reason="done"), "response.finish_reason must be one of stop"),
    (turn_with(usage={"tokens": 3}), "response.usage has an unknown field 'tokens'"),
    (turn_with(usage={"input_tokens": "3"}), "response.usage.input_tokens must be an integer"),
    (turn_with(tool_calls=[{"args": 1}]), "response.tool_calls[0] must have a name"),
    (turn_with(total_time=True), "response.total_time must be an integer or a number, not bool"),
    (saved(version=7), "version 7 was written by a newer qwq-jupyter"),
]


@pytest.mark.parametrize(("payload", "message"), BAD_FILES, ids=lambda v: str(v)[:40])
def test_a_file_of_the_wrong_shape_changes_nothing(tmp_path, payload, message) -> None:
    store = ConversationStore()
    store.get("mine").turns.append(Turn("kept", Response(answer="yes", finish_reason="stop")))
    store.current = "mine"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(ConfigurationError) as info:
        store.load(path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert list(store.conversations) == ["mine"] and store.current == "mine"
    assert store.conversations["mine"].turns[0].prompt == "kept"


def test_a_good_file_still_loads(tmp_path) -> None:
    path = tmp_path / "good.json"
    path.write_text(json.dumps(saved(current="default")))
    store = ConversationStore()
    assert store.load(path) == ["default"]
    assert store.conversations["default"].history()[-1] == {"role": "assistant", "content": "a"}


def test_load_of_a_bad_file_in_the_shell_is_one_line_and_cells_still_work(
    shell, qwq_env, tmp_path
) -> None:
    ask(shell, "before")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(saved(current=["x"])))
    seen = user_sees(shell, f"%qwq load {path}")
    assert "current must be text, not list" in seen
    state = session(shell)
    assert state.store.current == "default" and len(state.conversation().turns) == 1
    a_later_cell_works(shell, qwq_env)
    assert qwq_env.last_body["messages"][0]["content"] == "before"  # history intact


# --- %qwq save, record and replay ----------------------------------------------------------------


def test_save_to_a_bad_path_is_one_line(shell, qwq_env, tmp_path) -> None:
    ask(shell, "q")
    seen = user_sees(shell, f"%qwq save {tmp_path / 'no-such-folder' / 'c.json'}")
    assert "cannot save conversations to" in seen
    seen = user_sees(shell, f"%qwq save {tmp_path}")  # a folder, not a file
    assert "cannot save conversations to" in seen
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "c.json"
    store = ConversationStore()
    store.get("a")
    store.save(path)
    before = path.read_text()
    monkeypatch.setattr("qwq_jupyter.session.conversation.os.replace", _fail_replace)
    store.get("b")
    with pytest.raises(ConfigurationError, match=r"cannot save conversations to .*: disk full"):
        store.save(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


def _fail_replace(source, target) -> None:
    raise OSError(28, "disk full")


@pytest.mark.parametrize("where", ["missing-folder/c.json", "file.txt/c.json", "."])
def test_record_to_an_unwritable_path_is_refused_at_once(shell, tmp_path, where) -> None:
    (tmp_path / "file.txt").write_text("not a folder")
    seen = user_sees(shell, f"%qwq record {tmp_path / where}")
    assert "cannot record to" in seen
    assert session(shell).cassette is None


BAD_CASSETTES = [
    ("{not json", "cannot read the cassette"),
    (json.dumps({"format": "other"}), "it is not a qwq-jupyter cassette"),
    (json.dumps({"format": CASSETTE_FORMAT}), "it has no entries object"),
    (json.dumps({"format": CASSETTE_FORMAT, "entries": {"k": {}}}), "entry 'k' has no events"),
    (
        json.dumps({"format": CASSETTE_FORMAT, "entries": {"k": {"events": [[0, {}]]}}}),
        "entry 'k', event 0: unknown event type None",
    ),
    (
        json.dumps({"format": CASSETTE_FORMAT, "entries": {"k": {"events": [{"type": "x"}]}}}),
        "entry 'k', event 0: expected [seconds, event]",
    ),
    (
        json.dumps(
            {"format": CASSETTE_FORMAT, "entries": {"k": {"events": [[0, {"type": "answer"}]]}}}
        ),
        "answer event needs text as str",
    ),
    (
        json.dumps(
            {
                "format": CASSETTE_FORMAT,
                "entries": {"k": {"events": [[0, {"type": "finish", "reason": "??"}]]}},
            }
        ),
        "finish reason must be one of",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_CASSETTES, ids=lambda v: str(v)[:30])
def test_replay_of_a_malformed_cassette_is_one_line(shell, qwq_env, tmp_path, text, message):
    path = tmp_path / "tape.json"
    path.write_text(text)
    seen = user_sees(shell, f"%qwq replay {path}")
    assert message in seen
    assert session(shell).cassette is None
    a_later_cell_works(shell, qwq_env)


def test_a_recorded_cassette_still_replays(shell, qwq_env, tmp_path) -> None:
    path = tmp_path / "tape.json"
    command(shell, f"record {path}")
    recorded, _ = ask(shell, "recorded question")
    command(shell, "record off")
    Cassette(path, "replay")  # every event checks out
    command(shell, f"replay {path} 0")
    sent = len(qwq_env.requests)
    command(shell, "reset")
    replayed, _ = ask(shell, "recorded question")
    assert replayed.answer == recorded.answer and len(qwq_env.requests) == sent


@pytest.mark.parametrize("speed", [-1.0, math.nan])
def test_replay_speed_must_be_a_number_from_zero(tmp_path, speed) -> None:
    with pytest.raises(ConfigurationError, match="speed must be a number from 0 up"):
        Cassette(tmp_path / "t.json", "record", speed=speed)


# --- %%qwq flags and placeholders ---------------------------------------------------------------


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded\nwith a second line")


def test_a_value_whose_repr_raises_is_one_line_and_sends_nothing(shell, qwq_env) -> None:
    shell.user_ns["thing"] = BadRepr()
    seen = user_sees(shell, "%%qwq\nLook at {@thing}")
    assert seen == ("UsageError: {@thing}: its value cannot be shown: RuntimeError: repr exploded")
    assert qwq_env.requests == []
    shell.user_ns.pop("thing")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("'a string'", "--tools tools: needs a list of functions or tool dicts"),
        ("['lookup']", "tools[0] must be a function or a dict describing a tool, not str"),
        ("[int]", "tools[0]: int is a class; a tool is a function or a method"),
        ("[{'type': 'function'}]", "tools[0]: 'function' must be a dict"),
        ("[lambda x: x]", "tools[0]: a lambda has no usable name"),
    ],
)
def test_tools_must_be_functions_or_tool_dicts(shell, qwq_env, value, message) -> None:
    shell.run_cell(f"tools = {value}")
    seen = user_sees(shell, "%%qwq --tools tools\nq")
    assert message in seen
    assert qwq_env.requests == []
    shell.user_ns.pop("tools")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("__builtins__", "--out __builtins__: names like this belong to Python or IPython"),
        ("'not an identifier'", "--out must be a Python variable name"),
        ("class", "--out must be a Python variable name"),
        ("3x", "--out must be a Python variable name"),
        ("_", "--out _: names like this belong"),
        ("_12", "--out _12: names like this belong"),
        ("_ii", "--out _ii: names like this belong"),
        ("In", "--out In: In is IPython's own"),
    ],
)
def test_bad_out_names_are_refused_before_sending(shell, qwq_env, name, message) -> None:
    before = dict(shell.user_ns)
    seen = user_sees(shell, f"%%qwq --out {name}\nq")
    assert message in seen
    assert qwq_env.requests == []
    assert shell.user_ns.keys() == before.keys()
    assert shell.run_cell("import math\nmath.pi").success  # the namespace still works


def test_an_ordinary_out_name_still_works(shell, qwq_env) -> None:
    value, _ = ask(shell, "q", "--out _my_reply")
    assert shell.user_ns.pop("_my_reply") is value


def test_dry_run_with_compare_sends_nothing(shell, qwq_env) -> None:
    seen = user_sees(shell, "%%qwq --dry-run --compare top_p=0.5,0.9\nq")
    assert seen == (
        "UsageError: --dry-run and --compare cannot be combined; dry-run one value with --top-p X"
    )
    seen = user_sees(shell, "%qwq request --compare temperature=0.2,0.8 q")
    assert "--dry-run and --compare cannot be combined" in seen
    assert qwq_env.requests == []


# --- batch() ------------------------------------------------------------------------------------


@pytest.fixture
def batch_server():
    with QwQTestServer(default=Reply(reasoning="r", answer="ok")) as server:
        yield server


def run(server, template, inputs, **options):
    return batch(
        template,
        inputs,
        settings=QwQSettings(api_base=server.api_base, max_retries=0),
        credentials=Credentials(server.account_id, server.token),
        progress=False,
        **options,
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rpm": math.nan}, "rpm must be a number from 0 up"),
        ({"rpm": -5}, "rpm must be a number from 0 up"),
        ({"rpm": "300"}, "rpm must be a number from 0 up"),
        ({"rpm": True}, "rpm must be a number from 0 up"),
        ({"concurrency": 0}, "concurrency must be an integer from 1 up, not 0"),
        ({"concurrency": 2.5}, "concurrency must be an integer from 1 up, not 2.5"),
        ({"temperature": 9}, "temperature must be from 0 to 5"),
        ({"stream": True}, "stream cannot be set"),
        ({"column": "text"}, "column= needs a DataFrame as inputs"),
    ],
)
def test_invalid_batch_arguments_are_one_line_and_send_nothing(batch_server, options, message):
    with pytest.raises(ConfigurationError) as info:
        run(batch_server, "{@item}", [1, 2], **options)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert batch_server.requests == []


@pytest.mark.parametrize(
    ("template", "inputs", "message"),
    [
        (5, [1], "template must be a str with {@item} or a function"),
        ("{@item}", "abc", "inputs must be a list (or other iterable) of values, not str"),
        ("{@item}", 7, "inputs must be a list (or other iterable) of values, not int"),
        ("{@itme}", [1, 2], "no prompt could be made, so nothing was sent"),
    ],
)
def test_invalid_template_or_inputs(batch_server, template, inputs, message) -> None:
    with pytest.raises(ConfigurationError) as info:
        run(batch_server, template, inputs)
    assert message in str(info.value)
    assert batch_server.requests == []


def test_a_missing_column_is_named(batch_server) -> None:
    import pandas as pd

    with pytest.raises(ConfigurationError, match="column 'txt' is not a column"):
        run(batch_server, "{@item}", pd.DataFrame({"text": ["a"]}), column="txt")


def test_one_items_prompt_failing_is_that_items_error(batch_server) -> None:
    def template(value: int) -> str:
        return f"q {10 // value}"

    result = run(batch_server, template, [1, 0, 2])
    assert result.answers == ["ok", None, "ok"]
    assert (
        result[1].error == "prompt not made: ZeroDivisionError: integer division or modulo by zero"
    )
    assert len(batch_server.requests) == 2


def test_a_fault_in_one_reply_fails_only_that_item() -> None:
    def reply(body: dict) -> Reply:
        if body["messages"][-1]["content"] == "item 1":
            return Reply(fault=Fault(reset_after=0))
        return Reply(reasoning="r", answer="ok")

    with QwQTestServer(responder=reply) as server:
        result = run(server, "item {@item}", [0, 1, 2])
    assert result.answers == ["ok", None, "ok"]
    assert "connection to" in result[1].error and len(result.failed) == 1


def test_an_unexpected_exception_in_one_call_is_that_items_error(batch_server) -> None:
    """A reply our decoder chokes on (or any bug) in one call must not sink the batch."""
    original = AsyncQwQClient.complete

    async def complete(self, messages, **kwargs):
        if messages[-1]["content"] == "item 1":
            raise KeyError("corrupt reply")
        return await original(self, messages, **kwargs)

    client = AsyncQwQClient(
        QwQSettings(api_base=batch_server.api_base, stream=False),
        Credentials(batch_server.account_id, batch_server.token),
    )
    client.complete = complete.__get__(client)
    items = [BatchItem(n, f"item {n}") for n in range(3)]
    asyncio.run(run_batch(client, items, concurrency=3, limiter=RateLimiter(0)))
    assert [item.answer for item in items] == ["ok", None, "ok"]
    assert items[1].error == "KeyError: 'corrupt reply'"


def test_a_corrupt_reply_through_batch_is_that_items_error(batch_server, monkeypatch) -> None:
    from qwq_jupyter.wire import decode as _decode

    original = _decode.EventDecoder.feed_whole

    def feed_whole(self, data):
        if "item 1" in json.dumps(batch_server.last_body):
            raise TypeError("the reply is not what a decoder expects")
        return original(self, data)

    monkeypatch.setattr(_decode.EventDecoder, "feed_whole", feed_whole)
    result = run(batch_server, "item {@item}", [0, 1, 2], concurrency=1)
    assert result.answers == ["ok", None, "ok"]
    assert "TypeError: the reply is not what a decoder expects" in result[1].error


def test_batch_masks_known_secrets_in_prompts_and_answers(monkeypatch) -> None:
    token = "batch-SENTINEL-token-77"
    with QwQTestServer(token=token, default=Reply(reasoning="r", answer=f"echo {token}")) as server:
        result = run(server, "use {@item}", [token])
        body = json.dumps(server.last_body)
    assert token not in body and "use ****" in body
    assert result[0].prompt == "use ****" and result[0].answer == "echo ****"
