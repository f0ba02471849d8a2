"""batch(journal=...): what finished is kept on disk as it finishes, and a re-run sends only
what is missing; ■ lets what is in flight finish; a killed kernel loses only what was in
flight. Real HTTP to the local test server, in both dialects."""

from __future__ import annotations

import _thread
import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qwq_jupyter import ConfigurationError, Credentials, QwQSettings, batch
from qwq_jupyter.core.events import Response
from qwq_jupyter.features.batch import CANCELLED, NOT_RUN
from qwq_jupyter.features.journal import Journal
from qwq_jupyter.session.frontend import ProgressState, using
from qwq_jupyter.testing import Fault, QwQTestServer, Reply

DIALECTS = ("native", "openai")


def last_user(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def echo(body: dict[str, Any]) -> Reply:
    prompt = last_user(body)
    if "bad" in prompt:
        return Reply(fault=Fault(status=400, code=5006, message="Bad input"))
    return Reply(reasoning="thinking", answer=f"echo: {prompt}")


class Echo:
    """A responder whose failing prompts can be healed between runs."""

    def __init__(self) -> None:
        self.healed = False

    def __call__(self, body: dict[str, Any]) -> Reply:
        if self.healed:
            return Reply(reasoning="thinking", answer=f"echo: {last_user(body)}")
        return echo(body)


@pytest.fixture
def responder() -> Echo:
    return Echo()


@pytest.fixture
def server(responder: Echo) -> Iterator[QwQTestServer]:
    with QwQTestServer(responder=responder) as server:
        yield server


def sent(server: QwQTestServer) -> list[str]:
    """The prompts the server was asked, in order (GET /models and the like left out)."""
    return [last_user(r.body) for r in server.requests if r.body and "messages" in r.body]


def runner(server: QwQTestServer, dialect: str) -> Callable[..., Any]:
    if dialect == "native":
        settings = QwQSettings(api_base=server.api_base, max_retries=0)
    else:
        settings = QwQSettings(
            backend="openai",
            base_url=server.openai_base_url,
            model="Qwen/QwQ-32B",
            server="vllm",
            max_retries=0,
        )
    credentials = Credentials(server.account_id, server.token, openai_key=server.token)

    def run(template: Any, inputs: Any, **options: Any) -> Any:
        options.setdefault("progress", False)
        return batch(template, inputs, settings=settings, credentials=credentials, **options)

    return run


def rows(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM items ORDER BY seq")]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_first_run_writes_every_item_and_a_second_sends_nothing(
    server: QwQTestServer, dialect: str, tmp_path: Path
) -> None:
    run, journal = runner(server, dialect), tmp_path / "j.qwq"
    first = run("item {@item}", range(6), journal=journal)
    assert first.answers == [f"echo: item {n}" for n in range(6)]
    assert not any(item.from_journal for item in first)
    kept = rows(journal)
    assert [row["prompt"] for row in kept] != []
    assert sorted(row["prompt"] for row in kept) == [f"item {n}" for n in range(6)]
    for row in kept:
        item = next(i for i in first if i.prompt == row["prompt"])
        assert row["key"] == item.key and row["input"] == str(item.input)
        assert row["answer"] == item.answer and row["error"] is None
        assert row["finish_reason"] == "stop" and row["cost"] == pytest.approx(item.response.cost)
        assert row["reasoning_tokens"] == item.response.reasoning_tokens
        assert Response.from_dict(json.loads(row["response"])).to_dict() == item.response.to_dict()
    asked = len(sent(server))

    second = run("item {@item}", range(6), journal=journal)
    assert len(sent(server)) == asked  # nothing was sent
    assert all(item.from_journal for item in second)
    assert second.answers == first.answers and second.cost == 0.0
    assert second[0].response.to_dict() == first[0].response.to_dict()  # the whole response
    assert "6 answered (6 from the journal)" in repr(second)
    assert second.to_frame()["from_journal"].tolist() == [True] * 6
    assert len(rows(journal)) == 6  # a reused item is not written again


@pytest.mark.parametrize("dialect", DIALECTS)
def test_reordered_and_extended_inputs_send_only_the_new_ones(
    server: QwQTestServer, dialect: str, tmp_path: Path
) -> None:
    run, journal = runner(server, dialect), tmp_path / "j.qwq"
    run("item {@item}", [0, 1, 2, 3], journal=journal)
    before = len(sent(server))
    result = run("item {@item}", [5, 3, 1, 4, 0, 2], journal=journal)
    assert sorted(sent(server)[before:]) == ["item 4", "item 5"]
    assert [item.from_journal for item in result] == [False, True, True, False, True, True]
    assert result.answers == [f"echo: item {n}" for n in (5, 3, 1, 4, 0, 2)]
    assert "6 answered (4 from the journal)" in repr(result)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_failed_items_are_sent_again_only_with_retry_failed(
    server: QwQTestServer, responder: Echo, dialect: str, tmp_path: Path
) -> None:
    run, journal = runner(server, dialect), tmp_path / "j.qwq"
    first = run("{@item}", ["fine 1", "bad 2", "fine 3"], journal=journal)
    assert "HTTP 400" in first[1].error
    assert [row["error"] is not None for row in rows(journal)].count(True) == 1
    responder.healed = True
    before = len(sent(server))

    again = run("{@item}", ["fine 1", "bad 2", "fine 3"], journal=journal)
    assert len(sent(server)) == before  # the failure is taken from the journal, as failed
    assert again[1].from_journal and "HTTP 400" in again[1].error and again[1].answer is None
    assert "1 failed" in repr(again)

    retried = run("{@item}", ["fine 1", "bad 2", "fine 3"], journal=journal, retry_failed=True)
    assert sent(server)[before:] == ["bad 2"]
    assert retried[1].answer == "echo: bad 2" and not retried[1].from_journal
    assert retried.failed == [] and retried[0].from_journal and retried[2].from_journal

    last = run("{@item}", ["fine 1", "bad 2", "fine 3"], journal=journal, retry_failed=True)
    assert len(sent(server)) == before + 1  # the answered row wins over the failed one
    assert last.failed == [] and all(item.from_journal for item in last)
    assert len(rows(journal)) == 4  # append-only: the failure is still there, under the answer


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_changed_temperature_or_template_sends_again(
    server: QwQTestServer, dialect: str, tmp_path: Path
) -> None:
    run, journal = runner(server, dialect), tmp_path / "j.qwq"
    run("item {@item}", [1, 2], journal=journal, temperature=0.6)
    before = len(sent(server))
    same = run("item {@item}", [1, 2], journal=journal, temperature=0.6, deadline=300)
    assert len(sent(server)) == before and all(i.from_journal for i in same)  # not a parameter
    hotter = run("item {@item}", [1, 2], journal=journal, temperature=0.9)
    assert len(sent(server)) == before + 2 and not any(i.from_journal for i in hotter)
    other = run("thing {@item}", [1, 2], journal=journal, temperature=0.9)
    assert len(sent(server)) == before + 4 and not any(i.from_journal for i in other)
    seeded = run("thing {@item}", [1, 2], journal=journal, temperature=0.9, seed=7)
    assert len(sent(server)) == before + 6 and not any(i.from_journal for i in seeded)


def test_items_the_budget_left_unsent_are_not_kept_and_go_out_next_time(
    server: QwQTestServer, tmp_path: Path
) -> None:
    run, journal = runner(server, "native"), tmp_path / "j.qwq"
    # Each item's worst case is about $0.000115 (max_tokens=100) and each costs about $0.00003:
    # once the first has cost that, what is left no longer covers a worst case.
    capped = run("item {@item}", range(6), journal=journal, max_tokens=100, budget=0.00013,
                 concurrency=1)  # fmt: skip
    ran = [item.prompt for item in capped if item.answer is not None]
    assert ran and len(ran) < 6
    assert all(item.error == "not run: budget" for item in capped if item.answer is None)
    assert sorted(row["prompt"] for row in rows(journal)) == sorted(ran)
    before = len(sent(server))
    rest = run("item {@item}", range(6), journal=journal, max_tokens=100)
    assert sorted(sent(server)[before:]) == sorted(set(f"item {n}" for n in range(6)) - set(ran))
    assert rest.failed == [] and len(rest.from_journal) == len(ran)


def test_repeated_inputs_are_sent_once_and_share_the_result(
    server: QwQTestServer, tmp_path: Path
) -> None:
    run, journal = runner(server, "native"), tmp_path / "j.qwq"
    result = run("item {@item}", [1, 2, 1, 1], journal=journal)
    assert sorted(sent(server)) == ["item 1", "item 2"]
    assert result.answers == ["echo: item 1", "echo: item 2", "echo: item 1", "echo: item 1"]
    assert [item.duplicate_of for item in result] == [None, None, 0, 0]
    assert result[2].response is result[0].response
    assert result.cost == pytest.approx(result[0].response.cost + result[1].response.cost)
    assert len(rows(journal)) == 2
    # Without a journal each input is asked: sampling one prompt N times stays possible.
    run("item {@item}", [3, 3])
    assert sent(server)[-2:] == ["item 3", "item 3"]


def test_an_item_the_journal_cannot_write_is_still_returned_and_said(
    server: QwQTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Journal._row

    def row(self: Journal, item: Any, when: float) -> tuple[Any, ...]:
        if item.prompt == "item 2":
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, item, when)

    monkeypatch.setattr(Journal, "_row", row)
    journal = tmp_path / "j.qwq"
    result = runner(server, "native")("item {@item}", range(4), journal=journal)
    assert result.answers == [f"echo: item {n}" for n in range(4)]
    assert result.journal_error == "OperationalError: database or disk is full"
    assert "journal not fully written: OperationalError" in repr(result)
    assert sorted(r["prompt"] for r in rows(journal)) == ["item 0", "item 1", "item 3"]


def test_a_key_is_the_same_in_every_kernel_and_changes_with_what_decides_the_answer() -> None:
    from qwq_jupyter.features.journal import item_key

    def make_tool() -> Callable[[int], int]:
        def double(x: int) -> int:
            """Double x."""
            return 2 * x

        return double

    one, other = make_tool(), make_tool()  # two objects, as in two kernels
    base = QwQSettings(tools=[one])
    assert item_key("p", base) == item_key("p", QwQSettings(tools=[other]))
    assert item_key("p", base) != item_key("p", base.override(max_tool_rounds=1))
    assert item_key("p", QwQSettings()) == item_key("p", QwQSettings(max_tool_rounds=1))
    assert item_key("p", QwQSettings()) == item_key("p", QwQSettings(stall_timeout=99))
    for change in ({"system_prompt": "Be brief."}, {"model": "other"}, {"top_k": 5},
                   {"max_tokens": 99}, {"guided_json": {"type": "object"}},
                   {"extra_body": {"reasoning_effort": "low"}}, {"backend": "demo"}):  # fmt: skip
        assert item_key("p", QwQSettings()) != item_key("p", QwQSettings(**change)), change


def corrupt_journals(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    text = tmp_path / "notes.qwq"
    text.write_text("these are my notes\n" * 200)
    yield text, "is not a readable qwq-jupyter batch journal (file is not a database)"
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
    yield other, "(an SQLite file of something else)"
    newer = tmp_path / "newer.qwq"
    Journal(newer).close()  # an empty journal
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 2")
    yield newer, "was written by a newer qwq-jupyter (schema 2; this one reads 1)"
    damaged = tmp_path / "damaged.qwq"
    data = bytearray(newer.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # the items table's page
    damaged.write_bytes(bytes(data))
    yield damaged, "is not a readable qwq-jupyter batch journal (database disk image is malformed)"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_journal_that_is_not_ours_is_refused_in_one_line_before_sending(
    server: QwQTestServer, dialect: str, tmp_path: Path
) -> None:
    run = runner(server, dialect)
    for path, why in corrupt_journals(tmp_path):
        before = bytes(path.read_bytes())
        with pytest.raises(ConfigurationError) as caught:
            run("item {@item}", [1, 2], journal=path)
        message = str(caught.value)
        assert why in message and "\n" not in message and "nothing was sent" in message
        assert server.requests == []  # not even GET /models
        assert path.read_bytes() == before  # left as it was


def test_no_secret_reaches_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "tok-journal-SENTINEL-5678"
    account = "acct-journal-SENTINEL-9012"
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", token)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", account)
    call = {"name": f"fn_{token}", "arguments": {"key": token}}

    def leaky(body: dict[str, Any]) -> Reply:
        if "fail" in last_user(body):
            return Reply(fault=Fault(status=400, code=5006, message=f"Bad input: {token}"))
        # A server that echoes the key in every field it has.
        return Reply(reasoning=f"the key is {token}", answer=f"{account} {token}",
                     tool_calls=[call])  # fmt: skip

    journal = tmp_path / "j.qwq"
    with QwQTestServer(token=token, account_id=account, responder=leaky) as server:
        result = batch(
            lambda value: f"{value} and {os.environ['CLOUDFLARE_API_TOKEN']}",
            [f"input {token}", {"nested": [token, account]}, "fail please"],
            settings=QwQSettings(api_base=server.api_base, guided_json={"title": token}),
            progress=False,
            journal=journal,
        )
    assert result[0].response is not None and result[2].error is not None
    kept = rows(journal)
    assert len(kept) == 3 and "****" in kept[0]["input"] and "****" in kept[0]["answer"]
    for path in tmp_path.iterdir():  # the file, and a WAL beside it if one were left
        data = path.read_bytes()
        for secret in (token, account):
            assert secret.encode() not in data, path.name
            assert secret.encode("utf-16-le") not in data, path.name


def kept_prompts(path: Path, *, writing: bool = True) -> set[str]:
    """The prompts a journal holds, read while another process may be writing it."""
    address = f"file:{path}?mode=ro" if writing else f"file:{path}"
    try:
        with sqlite3.connect(address, uri=True, timeout=5) as db:
            return {row[0] for row in db.execute("SELECT prompt FROM items")}
    except sqlite3.Error:  # not made yet
        return set()


class Recorder:
    """A frontend's progress that records every state it is shown."""

    def __init__(self) -> None:
        self.states: list[ProgressState] = []

    def progress(self, total: int, label: str) -> Recorder:
        return self

    def update(self, state: ProgressState) -> None:
        self.states.append(state)

    def close(self) -> None:
        return None


def interrupt_when(*conditions: Callable[[], bool]) -> threading.Event:
    """In a thread: ■ once each condition holds, in turn; never once the event is set."""
    over = threading.Event()

    def press() -> None:
        for condition in conditions:
            while not condition():
                if over.wait(0.01):
                    return
            _thread.interrupt_main()

    threading.Thread(target=press, daemon=True).start()
    return over


def test_the_first_stop_lets_what_is_in_flight_finish_into_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "j.qwq"
    recorder = Recorder()
    slow = QwQTestServer(default=Reply(answer="done", latency=0.4))
    with slow, using(recorder):  # type: ignore[arg-type]
        over = interrupt_when(lambda: len(slow.requests) >= 3)
        result = batch(
            "item {@item}",
            range(20),
            concurrency=2,
            settings=QwQSettings(api_base=slow.api_base),
            credentials=Credentials(slow.account_id, slow.token),
            journal=journal,
        )
        over.set()
        requests = len(slow.requests)
    assert result.interrupted
    answered = [item for item in result if item.answer == "done"]
    # Every call that went out finished and was kept: none was cut.
    assert len(answered) == requests and 3 <= requests < 20
    assert sorted(row["prompt"] for row in rows(journal)) == sorted(i.prompt for i in answered)
    assert all(item.error == NOT_RUN for item in result if item.answer is None)
    assert recorder.states[-1].not_run == 20 - requests


def test_the_first_stop_does_not_wait_for_the_rate_limit(tmp_path: Path) -> None:
    slow = QwQTestServer(default=Reply(answer="done", latency=0.3))
    with slow, using(Recorder()):  # type: ignore[arg-type]
        over = interrupt_when(lambda: len(slow.requests) >= 1)
        started = time.monotonic()
        result = batch(
            "item {@item}",
            range(5),
            concurrency=4,
            rpm=1,  # the second start would wait a minute
            settings=QwQSettings(api_base=slow.api_base),
            credentials=Credentials(slow.account_id, slow.token),
            journal=tmp_path / "j.qwq",
        )
        over.set()
    assert time.monotonic() - started < 30
    assert result.answers == ["done", None, None, None, None]
    assert [item.error for item in result][1:] == [NOT_RUN] * 4
    assert len(slow.requests) == 1


def test_a_second_stop_cancels_what_is_in_flight(tmp_path: Path) -> None:
    journal = tmp_path / "j.qwq"
    recorder = Recorder()
    hanging = QwQTestServer(default=Reply(fault=Fault(stall_after=0)))  # answers nothing
    with hanging, using(recorder):  # type: ignore[arg-type]
        over = interrupt_when(
            lambda: hanging.open_streams == 2,
            lambda: any(state.stopping for state in recorder.states),
        )
        started = time.monotonic()
        result = batch(
            "item {@item}",
            range(6),
            concurrency=2,
            settings=QwQSettings(api_base=hanging.api_base, stall_timeout=120, deadline=300),
            credentials=Credentials(hanging.account_id, hanging.token),
            journal=journal,
        )
        over.set()
        assert hanging.wait_for_disconnect(5)  # the connections were closed
    assert time.monotonic() - started < 30
    assert result.interrupted
    assert [item.error for item in result].count(CANCELLED) == 2
    assert [item.error for item in result].count(NOT_RUN) == 4
    assert rows(journal) == []  # nothing finished: nothing kept, all six are sent next time
    stopping = next(state for state in recorder.states if state.stopping)
    assert stopping.in_flight == 2 and stopping.done == 0


def test_the_sessions_totals_count_only_what_was_sent(shell, qwq_env, tmp_path: Path) -> None:
    from shells import session as session_of

    session = session_of(shell)  # made on first use, as %qwq would
    journal = tmp_path / "j.qwq"
    batch("item {@item}", range(3), journal=journal, progress=False)
    calls, cost = session.totals.calls, session.totals.cost
    assert calls == 3 and cost > 0
    again = batch("item {@item}", range(4), journal=journal, progress=False)
    assert session.totals.calls == calls + 1  # only the new item
    assert session.totals.cost == pytest.approx(cost + again[3].response.cost)


def test_a_killed_kernel_loses_only_what_was_in_flight(tmp_path: Path) -> None:
    from kernels import Kernel

    def reply(body: dict[str, Any]) -> Reply:
        return Reply(answer=f"echo: {last_user(body)}", latency=0.3)

    journal = tmp_path / "crash.qwq"
    prompts = {f"item {n}" for n in range(48)}
    code = (
        # %qwq makes the session, whose settings (%config'd by Kernel) batch() then uses
        "%qwq usage\n"
        "from qwq_jupyter import batch\n"
        f"result = batch('item {{@item}}', range(48), concurrency=4, journal={str(journal)!r},"
        " progress=False)\n"
        "print(len([i for i in result if i.answer == 'echo: ' + i.prompt]), "
        "len(result.from_journal))"
    )
    with QwQTestServer(responder=reply) as server:
        kernel = Kernel(server, str(tmp_path))
        try:
            kernel.send(code)
            deadline = time.monotonic() + 30
            while len(kept_prompts(journal)) < 8 and time.monotonic() < deadline:
                time.sleep(0.02)
            process = kernel.manager.provisioner.process
            os.kill(process.pid, signal.SIGKILL)  # a crash, not a ■
            process.wait(10)
        finally:
            kernel.shutdown()
        deadline = time.monotonic() + 10
        while server.open_streams and time.monotonic() < deadline:
            time.sleep(0.05)  # the dead kernel's last calls, answered to no one
        sent_first = sent(server)
        kept = kept_prompts(journal, writing=False)  # opened as the next run will: recovered
        assert 8 <= len(kept) < 48, "the batch was not cut part way"
        assert kept <= set(sent_first)
        with sqlite3.connect(journal) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            for (response,) in db.execute("SELECT response FROM items"):
                Response.from_dict(json.loads(response))  # every row whole

        fresh = Kernel(server, str(tmp_path))
        try:
            output = fresh.execute(code, timeout=60).raise_on_error().stdout
        finally:
            fresh.shutdown()
    resent = sent(server)[len(sent_first) :]
    assert sorted(resent) == sorted(prompts - kept)  # only the missing ones, each once
    assert output.splitlines()[-1].split() == ["48", str(len(kept))]  # every item answered
