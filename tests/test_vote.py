"""`run_vote`: one prompt asked N times with seeds base..base+N-1, its answers tallied.

Against the local server scripted to answer by the request's seed: the majority, agreement and
distribution exact, the seeds sent, at most four calls at once, the budget checked for all N
before anything is sent, failures counted as no answer, ■ keeping what finished. With the
offline demo: 17 × 23 over eight seeds is mostly, not always, 391. The output escapes what the
model wrote and keeps the extension's dollar amounts out of math.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import pytest
from hostile_corpus import ANSWERS
from html_safety import dangers
from shells import command, session

from qwq_jupyter.client import client as client_module
from qwq_jupyter.client.demo import DemoSource
from qwq_jupyter.core.errors import BudgetExceeded, ConfigurationError
from qwq_jupyter.core.events import Response, Usage
from qwq_jupyter.core.printable import printable
from qwq_jupyter.features import vote as vote_module
from qwq_jupyter.features.compare import Run
from qwq_jupyter.features.vote import (
    MAX_AT_ONCE,
    MAX_VOTES,
    NOT_RUN,
    Vote,
    run_line,
    run_vote,
    tally,
)
from qwq_jupyter.testing import Fault, QwQTestServer, Reply

QUESTION = "What is 6 × 7?"


@dataclass
class BySeed:
    """Answers each request by its seed: `answers[seed]`, a Reply, or `default`."""

    answers: dict[int, str | Reply] = field(default_factory=dict)
    default: str = "It is **42**."
    tokens_per_second: float | None = None

    def __call__(self, body: dict[str, Any]) -> Reply:
        answer = self.answers.get(body.get("seed", -1), self.default)
        if isinstance(answer, Reply):
            return answer
        return Reply(
            reasoning="Let me think. Six sevens, step by step.",
            answer=answer,
            tokens_per_second=self.tokens_per_second,
        )


@pytest.fixture
def by_seed() -> BySeed:
    return BySeed()


@pytest.fixture
def qwq_server(by_seed: BySeed) -> Iterator[QwQTestServer]:
    """This module's server answers by seed (overrides the plugin's fixture)."""
    with QwQTestServer(responder=by_seed) as server:
        yield server


def vote(shell: Any, n: int, prompt: str = QUESTION, **options: Any) -> tuple[Vote, str]:
    """Run a vote in the shell's session; the vote and what it printed."""
    from IPython.utils.capture import capture_output

    state = session(shell)
    with capture_output() as captured:
        result = run_vote(state, prompt, state.settings, n, **options)
    return result, captured.stdout


def seeds_sent(server: QwQTestServer) -> list[int]:
    return sorted(request.body["seed"] for request in server.requests if request.body)


def test_majority_agreement_and_distribution(
    shell: Any, qwq_env: QwQTestServer, by_seed: BySeed
) -> None:
    by_seed.answers = {
        1: "It is **42**.",
        2: "It is **41**.",
        3: "So 6 × 7 = **42**",
        4: "$\\boxed{41}$",
        5: "The product is **42**.",
    }
    result, out = vote(shell, 5)
    assert result.answers == ["42", "41", "42", "41", "42"]
    assert result.majority == "42" and result.agreement == pytest.approx(0.6)
    assert result.distribution == [("42", 3), ("41", 2)]
    assert result.majority_run() == 0
    assert seeds_sent(qwq_env) == [1, 2, 3, 4, 5]  # no seed set: from 1
    assert [run.label for run in result.runs] == [f"seed={s}" for s in range(1, 6)]
    # each run's line, printed as it finished (a terminal), and in the output
    assert "1. seed=1: 42 · reasoning " in out and "4. seed=4: 41 · " in out
    plain = result._repr_mimebundle_()["text/plain"]
    assert "majority: 42 (3 of 5 runs agree, 60%)" in plain
    assert "distribution: 42 ×3 · 41 ×2" in plain
    assert re.search(r"worst case before sending: \$0\.\d{5} · cost: \$0\.\d{5}", plain)
    assert result.cost == pytest.approx(sum(r.cost or 0 for r in result.responses))
    worst = [run.ask.steering.worst_case() for run in result.runs if run.ask.steering]
    assert len(worst) == 5 and result.estimated_cost == pytest.approx(sum(worst))
    assert result.cost is not None and result.estimated_cost > result.cost > 0
    # not in the conversation, but the session counted the calls and keeps the vote to pick
    state = session(shell)
    assert state.conversation().turns == [] and state.totals.calls == 5
    assert state.last_comparison is result
    _, picked = command(shell, "pick 1")
    assert "run 1 (seed=1) is now the last turn" in picked


def test_a_tie_goes_to_the_answer_reached_first(
    shell: Any, qwq_env: QwQTestServer, by_seed: BySeed
) -> None:
    by_seed.answers = {1: "**8**", 2: "**7**", 3: "**7**", 4: "**8**"}
    result, _ = vote(shell, 4)
    assert result.majority == "8" and result.agreement == 0.5
    assert result.distribution == [("8", 2), ("7", 2)] and result.majority_run() == 0
    assert tally(["", "b", "a", "a", "b"]) == ("b", 0.4, [("b", 2), ("a", 2)])
    assert tally(["", ""]) == ("", 0.0, [])


def test_the_seeds_start_at_the_cells_seed(shell: Any, qwq_env: QwQTestServer) -> None:
    shell.run_line_magic("config", "QwQSettings.seed = 100")
    result, _ = vote(shell, 3)
    assert seeds_sent(qwq_env) == [100, 101, 102] and result.seeds == [100, 101, 102]
    vote(shell, 2, seeds=[7, 9])
    assert seeds_sent(qwq_env) == [7, 9, 100, 101, 102]
    with pytest.raises(ConfigurationError, match="3 seeds, not 2"):
        vote(shell, 3, seeds=[1, 2])


@pytest.mark.parametrize("n", [0, 1, MAX_VOTES + 1, 100])
def test_n_outside_the_range_is_refused_before_sending(
    shell: Any, qwq_env: QwQTestServer, n: int
) -> None:
    with pytest.raises(ConfigurationError, match=f"2 to {MAX_VOTES} runs, not {n}"):
        vote(shell, n)
    assert qwq_env.requests == []


def test_an_out_of_range_seed_is_refused_before_sending(shell: Any, qwq_env: QwQTestServer) -> None:
    shell.run_line_magic("config", "QwQSettings.seed = 9_999_999_999")
    with pytest.raises(ConfigurationError, match="seed"):
        vote(shell, 2)
    assert qwq_env.requests == []


def test_at_most_four_calls_at_once(shell: Any, qwq_env: QwQTestServer, by_seed: BySeed) -> None:
    by_seed.tokens_per_second = 60.0  # each reply streams for a fraction of a second
    qwq_env.reset_stats()
    result, _ = vote(shell, 10)
    assert qwq_env.peak_open == MAX_AT_ONCE == 4  # bounded, and really concurrent
    assert seeds_sent(qwq_env) == list(range(1, 11))
    assert result.answers == ["42"] * 10 and result.agreement == 1.0


def test_the_budget_is_checked_for_all_runs_before_sending(
    shell: Any, qwq_env: QwQTestServer
) -> None:
    state = session(shell)
    one = state.ask(QUESTION, state.settings.override(seed=1)).steering.worst_case()
    state.cap_spending(one * 2.5)  # two runs would fit, three would not
    with pytest.raises(BudgetExceeded, match=r"refused: this call could cost up to \$") as refused:
        vote(shell, 3)
    assert "\n" not in str(refused.value)  # one line
    assert qwq_env.requests == []
    result, _ = vote(shell, 2)
    assert result.majority == "42" and len(qwq_env.requests) == 2


def test_failed_runs_count_as_no_answer(
    shell: Any, qwq_env: QwQTestServer, by_seed: BySeed
) -> None:
    bad = Reply(fault=Fault(status=400, code=5006, message="Bad input: nope"))
    by_seed.answers = {2: bad, 3: "It is **41**.", 4: bad}
    result, _ = vote(shell, 5)
    assert result.answers == ["42", "", "41", "", "42"]
    assert result.majority == "42" and result.agreement == pytest.approx(0.4)
    assert result.distribution == [("42", 2), ("41", 1)] and result.failed == 2
    plain = result._repr_mimebundle_()["text/plain"]
    assert "distribution: 42 ×2 · 41 ×1 · no answer ×2" in plain
    assert "2. seed=2: failed, no answer (" in plain
    assert "2 of 5 runs failed: they count as no answer" in plain
    html = result._repr_mimebundle_()["text/html"]
    assert "<td><i>no answer</i></td><td>2</td>" in html


def test_a_vote_where_every_run_fails_says_so(
    shell: Any, qwq_env: QwQTestServer, by_seed: BySeed
) -> None:
    bad = Reply(fault=Fault(status=400, code=5006, message="Bad input"))
    by_seed.answers = {1: bad, 2: bad, 3: bad}
    result, _ = vote(shell, 3)
    assert result.answers == ["", "", ""] and result.majority == "" and result.agreement == 0
    assert result.distribution == [] and result.majority_run() is None
    plain = result._repr_mimebundle_()["text/plain"]
    assert "no answer: none of the 3 runs gave one" in plain
    assert "3 of 3 runs failed" in plain and "gave the majority" not in plain
    assert "no answer: none of the 3 runs gave one" in result._repr_mimebundle_()["text/html"]


def test_interrupt_cancels_the_running_and_the_unstarted(
    shell: Any, qwq_env: QwQTestServer, by_seed: BySeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = Reply(reasoning="thinking " * 400, answer="**41**", tokens_per_second=20.0)
    by_seed.answers = {seed: slow for seed in range(2, 7)}  # seed 1 answers at once
    started = time.monotonic()

    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if time.monotonic() - started > 1.0:
            raise KeyboardInterrupt

    monkeypatch.setattr(vote_module, "time", _Clock(sleep))
    result, _ = vote(shell, 6)
    assert result.interrupted
    assert result.answers == ["42", "", "", "", "", ""] and result.majority == "42"
    assert result.agreement == pytest.approx(1 / 6)
    finishes = [r.finish_reason for r in result.responses]
    assert finishes[1:5] == ["interrupted"] * 4  # were running: cancelled
    assert result.responses[5].error == NOT_RUN  # never sent
    assert seeds_sent(qwq_env) == [1, 2, 3, 4, 5]
    assert qwq_env.wait_for_disconnect(2.0)
    plain = result._repr_mimebundle_()["text/plain"]
    assert "■ interrupted: 1 of 6 runs were not sent" in plain
    assert "6. seed=6: not run (■)" in plain
    assert session(shell).totals.calls == 5  # the unsent one cost nothing


@dataclass
class _Clock:
    """Stands in for the `time` module inside vote.py: the real clock, a scripted sleep."""

    sleep: Callable[[float], None]

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()


@pytest.fixture
def demo(shell: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shell on the offline demo, streaming without the demo's pace."""
    monkeypatch.setattr(client_module, "DemoSource", functools.partial(DemoSource, pace=None))
    shell.run_line_magic("config", "QwQSettings.backend = 'demo'")
    return shell


def test_the_demo_votes_mostly_391(demo: Any) -> None:
    result, _ = vote(demo, 8, "What is 17 × 23?")
    assert result.majority == "391" and 0.5 < result.agreement < 1
    assert set(result.answers) - {"391"} <= {"381", "401"} and all(result.answers)
    for run, answer in zip(result.runs, result.answers, strict=True):
        # every run reasoned its way to its answer, a wrong one too
        assert run.response.reasoning.rstrip().endswith(f"17 × 23 = {answer}.")
    plain = result._repr_mimebundle_()["text/plain"]
    assert plain.startswith("note: offline demo") and "majority: 391" in plain


def test_the_demo_agrees_less_when_hotter(demo: Any) -> None:
    question = "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the ball."
    shares = []
    for temperature in (0.2, 1.0):
        demo.run_line_magic("config", f"QwQSettings.temperature = {temperature}")
        result, _ = vote(demo, 16, question + " How much does the ball cost?")
        assert result.majority == "0.05"  # "**5 cents**", normalised
        shares.append(result.agreement)
    assert shares[0] > shares[1]


def hostile_runs(shell: Any, answers: list[str]) -> list[Run]:
    state = session(shell)
    runs = []
    for seed, answer in enumerate(answers, 1):
        ask = state.ask(QUESTION, state.settings.override(seed=seed))
        response = Response(
            answer=answer, reasoning=answer, finish_reason="stop", usage=Usage(10, 20)
        )
        runs.append(Run(f"seed={seed}", ask, response))
    return runs


def test_hostile_answers_are_shown_as_text(shell: Any) -> None:
    texts = [entry.text for entry in ANSWERS[:8]]
    result = Vote.of(hostile_runs(shell, [*texts, texts[0]]), [f"a note: {texts[1]}"])
    html = result._repr_mimebundle_()["text/html"]
    assert dangers(html) == []
    assert result.majority == result.answers[0] and result.majority_run() == 0
    cells = [unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", html, re.S)]
    lines = [unescape(line) for line in re.findall(r"<li>(.*?)</li>", html, re.S)]
    for number, answer in enumerate(result.answers, 1):
        assert printable(answer) in cells  # the distribution shows it as written
        assert lines[number - 1] == printable(run_line(result.runs[number - 1]))
    plain = result._repr_mimebundle_()["text/plain"]
    assert all(ord(c) >= 32 or c == "\n" for c in plain)  # control characters made visible


def test_dollars_are_never_math(shell: Any) -> None:
    answers = ["It costs **$0.05**", "It costs **$0.10**", "$x$ and $$y$$, so **$0.05**"]
    result = Vote.of(hostile_runs(shell, answers), ["$1 and $2 $$3$$"])
    html = result._repr_mimebundle_()["text/html"]
    assert html.startswith('<div class="qwq-output tex2jax_ignore mathjax_ignore">')
    assert "<td>0.05</td><td>2</td>" in html and "$1 and $2 $$3$$" in html
    # each run's line, its reasoning's anatomy at the end
    assert re.search(r"<li>seed=1: 0\.05 · reasoning 20 tok · \$0\.\d{5} · stop · [^<]*</li>", html)
    ours = re.sub(r'<div class="qwq-answer">.*?</div>', "", html, flags=re.S)
    assert "qwq-math" not in ours and "mathjax_process" not in ours
    assert re.search(r"worst case before sending: \$0\.\d{5} · cost: \$0\.\d{5}", ours)
    assert dangers(html) == []
