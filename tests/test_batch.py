"""batch(): order, the concurrency bound, the rpm limit, per-item errors and interrupts."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import io
import threading

import pandas as pd
import pytest

from qwq_jupyter import ConfigurationError, Credentials, QwQSettings, batch
from qwq_jupyter.features.batch import RateLimiter
from qwq_jupyter.session.frontend import ProgressState
from qwq_jupyter.testing import Fault, QwQTestServer, Reply


def last_user(body: dict) -> str:
    return body["messages"][-1]["content"]


def echo(body: dict) -> Reply:
    """Answers with the prompt; later items answer faster, so completion order is reversed."""
    prompt = last_user(body)
    number = int(prompt.split()[-1]) if prompt.split()[-1].isdigit() else 0
    if "bad" in prompt:
        return Reply(fault=Fault(status=400, code=5006, message="Bad input"))
    return Reply(
        reasoning="thinking", answer=f"echo: {prompt}", latency=max(0.0, 0.2 - 0.02 * number)
    )


@pytest.fixture
def server():
    with QwQTestServer(responder=echo) as server:
        yield server


def run(server, template, inputs, **options):
    return batch(
        template,
        inputs,
        settings=QwQSettings(api_base=server.api_base),
        credentials=Credentials(server.account_id, server.token),
        progress=False,
        **options,
    )


def test_results_come_back_in_input_order(server) -> None:
    result = run(server, "item {@item}", list(range(10)), concurrency=10)
    assert result.answers == [f"echo: item {i}" for i in range(10)]
    assert all(item.response.finish_reason == "stop" for item in result)
    assert server.last_body["stream"] is False


def test_concurrency_is_bounded(server) -> None:
    server.reset_stats()
    run(server, "item {@item}", [0] * 12, concurrency=3)
    assert server.peak_open == 3


def test_per_item_failures_are_recorded_not_fatal(server) -> None:
    result = run(server, "{@item}", ["fine 1", "bad 2", "fine 3"], max_retries=0)
    assert result.answers[0] == "echo: fine 1" and result.answers[2] == "echo: fine 3"
    assert result.answers[1] is None
    assert "HTTP 400" in result[1].error
    assert len(result.failed) == 1 and "1 failed" in repr(result)


def test_callable_template_and_dataframe_columns(server) -> None:
    frame = pd.DataFrame({"text": ["a 1", "b 2"], "other": [1, 2]})
    out = run(server, lambda value: f"say {value}", frame, column="text")
    assert list(out.columns) == [
        "text", "other", "answer", "reasoning_tokens", "cost", "error", "from_journal"
    ]  # fmt: skip
    assert list(out["answer"]) == ["echo: say a 1", "echo: say b 2"]
    assert "answer" not in frame.columns  # a copy, the input is untouched


def test_rpm_limit_with_a_fake_clock() -> None:
    now = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    async def main() -> list[float]:
        limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
        starts = []
        for _ in range(12):
            await limiter.acquire()
            starts.append(now[0])
            now[0] += 1.0  # each request takes a second to start the next
        return starts

    starts = asyncio.run(main())
    for start in starts:
        in_window = [s for s in starts if start <= s < start + 60]
        assert len(in_window) <= 5
    assert starts[5] == pytest.approx(60.0) and starts[10] == pytest.approx(120.0)
    assert sleeps  # it waited instead of sending


def test_interrupt_keeps_the_finished_items(server) -> None:
    slow = QwQTestServer(default=Reply(answer="done", latency=0.3))
    with slow:
        timer = threading.Timer(0.8, _thread.interrupt_main)
        timer.start()
        result = batch(
            "{@item}",
            range(20),
            concurrency=2,
            settings=QwQSettings(api_base=slow.api_base),
            credentials=Credentials(slow.account_id, slow.token),
            progress=False,
        )
        timer.cancel()
    assert result.interrupted
    finished = [item for item in result if item.answer == "done"]
    assert 2 <= len(finished) < 20
    assert all(item.error == "not run: interrupted" for item in result if item.answer is None)


def test_row_columns_in_the_template(server) -> None:
    frame = pd.DataFrame({"text": ["great", "awful"], "product": ["kettle", "toaster"]})
    # row['product'], not row.product: a Series has a .product() method
    out = run(server, "Review of a {@row['product']}: {@item}", frame, column="text")
    assert list(out["answer"]) == [
        "echo: Review of a kettle: great",
        "echo: Review of a toaster: awful",
    ]


def test_a_secret_echoed_in_a_tool_call_is_masked() -> None:
    token = "tok-batch-SENTINEL-1234"
    call = {"name": f"fn_{token}", "arguments": {"key": token}}
    with QwQTestServer(token=token, default=Reply(answer="", tool_calls=[call])) as server:
        (item,) = run(server, "q {@item}", [1])
    assert item.response.tool_calls, item.error
    assert token not in repr(item.response.tool_calls[0].to_dict())


def test_a_budget_stops_scheduling_and_marks_the_rest(server) -> None:
    # Each item's worst case is its prompt and max_tokens of output: about $0.000115 here;
    # each really costs about $0.00001. Items start while what is left covers a worst case.
    result = run(server, "item {@item}", list(range(30)), concurrency=1, max_tokens=100,
                 budget=0.0002)  # fmt: skip
    ran = [item for item in result if item.response is not None]
    skipped = [item for item in result if item.error == "not run: budget"]
    assert ran and skipped and len(ran) + len(skipped) == 30
    assert result[: len(ran)] == ran  # in order: once one is refused, the rest are too
    assert len(server.requests) == len(ran)
    worst = ((len("item 10") // 4 + 16) * 0.66 + 100 * 1.00) / 1e6
    assert result.cost <= 0.0002 < result.cost + worst  # it stopped when no worst case fitted


def test_in_flight_items_reserve_their_worst_case(server) -> None:
    # Eight at once, each reserving $0.000115 of a $0.0004 budget: only three may start.
    result = run(server, "item {@item}", list(range(8)), concurrency=8, max_tokens=100,
                 budget=0.0004)  # fmt: skip
    assert sum(item.response is not None for item in result) == 3
    assert sum(item.error == "not run: budget" for item in result) == 5


def test_the_session_budget_is_the_default(server, shell, qwq_env) -> None:
    from shells import command

    command(shell, "budget 0.0002")
    result = batch("item {@item}", list(range(5)), progress=False, max_tokens=100)
    assert sum(item.error == "not run: budget" for item in result) >= 3
    assert qwq_env.requests and len(qwq_env.requests) <= 2


def test_budget_must_be_dollars(server) -> None:
    with pytest.raises(ConfigurationError, match="budget must be a number of dollars"):
        run(server, "item {@item}", [1], budget=-1)


def test_an_interrupted_batch_reports_what_ran_not_a_full_bar() -> None:
    from qwq_jupyter.core.events import Response
    from qwq_jupyter.features.batch import NOT_RUN, BatchItem, BatchResult, _report
    from qwq_jupyter.notebook.frontend import _TextProgress

    items = BatchResult(BatchItem(n, f"q{n}") for n in range(8))
    for item in items[:4]:
        item.response = Response(answer="ok", finish_reason="stop")
    for item in items[4:]:
        item.error = NOT_RUN
    seen: list[ProgressState] = []

    class Bar:
        def update(self, state: ProgressState) -> None:
            seen.append(state)

        def close(self) -> None:
            return None

    _report(Bar(), items)
    # 4 ran, none failed, 4 were stopped before they ran; no usage, so no dollars to show
    assert seen == [ProgressState(total=8, done=4, not_run=4)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        _TextProgress(8, "QwQ batch").update(seen[0])
    assert err.getvalue() == "\rQwQ batch: 4/8 done, 4 not run"


def test_the_progress_line_says_journal_failures_dollars_and_the_estimate() -> None:
    from qwq_jupyter.notebook.frontend import _progress_text

    state = ProgressState(total=200, done=120, from_journal=80, failed=2, spent=0.012,
                          estimate=0.024)  # fmt: skip
    assert _progress_text(state) == (
        "120/200 done (80 from the journal, 2 failed), 80 left · $0.01200 so far, "
        "≈ $0.02400 for the rest"
    )
    stopping = ProgressState(total=10, done=4, spent=0.004, estimate=0.006, stopping=True,
                             in_flight=2)  # fmt: skip
    assert _progress_text(stopping) == (
        "4/10 done, 6 left · $0.00400 so far · stopping: waiting for the 2 in flight "
        "(■ again cancels them)"
    )


def test_the_estimate_is_the_mean_paid_cost_times_what_is_left_to_send() -> None:
    from qwq_jupyter.core.events import Response, Usage
    from qwq_jupyter.features.batch import BatchItem, BatchResult, progress_state

    def answered(tokens: int, **marks: object) -> BatchItem:
        # input_price 0.66, output_price 1.00 per million: 1,000,000 output tokens cost $1
        response = Response(answer="ok", finish_reason="stop", usage=Usage(0, tokens))
        return BatchItem(0, "q", response=response, **marks)  # type: ignore[arg-type]

    items = BatchResult([
        answered(1_000_000),
        answered(3_000_000),
        answered(9_000_000, from_journal=True),  # free now, and not part of the mean
        BatchItem(0, "q", duplicate_of=0),  # shares item 0's call: nothing left to send
        BatchItem(1, "q1"),
        BatchItem(2, "q2"),
        BatchItem(3, "q3", error="HTTP 400"),
    ])  # fmt: skip
    state = progress_state(items)
    assert (state.done, state.from_journal, state.failed, state.left) == (5, 1, 1, 2)
    assert state.spent == pytest.approx(4.0)
    assert state.estimate == pytest.approx(2.0 * 2)  # mean $2 × 2 items left to send


def test_a_batch_before_any_cell_uses_the_configured_settings(shell, qwq_env) -> None:
    """`%config` then `batch()` with no `%%qwq` cell yet: the extension's session is made."""
    shell.run_line_magic("config", "QwQSettings.temperature = 0.25")
    qwq_env.push(Reply(answer="a"))
    batch("Say {@item}", ["x"], progress=False)
    assert qwq_env.last_body["temperature"] == 0.25
