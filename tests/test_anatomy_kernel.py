"""The anatomy, divergence and vote surfaces in a real kernel and a real shell: what a notebook
receives for `%qwq anatomy`, `%qwq diff`, `--compare`, `--anatomy` and `--vote`."""

from __future__ import annotations

import re
from html import unescape

import pytest
from kernels import Kernel
from shells import ask, command

from qwq_jupyter.testing import QwQTestServer, Reply

SETUP = "Okay, the user wants 17 × 23. Let me think about how to multiply these."
SPLIT = "I split 23 into 20 and 3. 17 × 20 = 340 and 17 × 3 = 51, so the total is 340 + 51 = 391."
BACKTRACK = "Wait, that's not right: I should double-check the second product, 17 × 3 is 51, yes."
CHECK = "Let me verify another way: 23 × 17 = 230 + 161 = 391. Both agree."
CONCLUDE = "So the answer is 391."
TRACE = "\n\n".join([SETUP, SPLIT, BACKTRACK, CHECK, CONCLUDE])
OTHER = "\n\n".join(
    [SETUP, "Maybe round: 17 × 23 is close to 17 × 25 = 425, minus 17 × 2 = 34, so 391.", CONCLUDE]
)


@pytest.fixture
def server():
    with QwQTestServer() as server:
        yield server


@pytest.fixture
def kernel(server, tmp_path):
    kernel = Kernel(server, str(tmp_path))
    yield kernel
    kernel.shutdown()


def test_anatomy_in_a_kernel_html_and_text(kernel, server) -> None:
    server.push(Reply(reasoning=TRACE, answer="17 × 23 = **391**."))
    kernel.execute("%%qwq\nWhat is 17 × 23?").raise_on_error()
    data = kernel.execute("%qwq anatomy").raise_on_error().result()
    html, text = data["text/html"], data["text/plain"]
    # the strip: one coloured segment per step, its text on hover, the answer's caret
    segments = re.findall(r'<span title="([^"]*)" style="flex:(\d+) 1 0', html)
    assert len(segments) >= 4
    tips = [unescape(title) for title, _ in segments]
    assert any(tip.split(" · ")[0].endswith("backtrack") for tip in tips)
    assert any("verify" in tip.split(" · ")[0] for tip in tips)
    assert "▲ answer first reached" in html and "<details><summary>The " in html
    assert "<script" not in html and 'class="qwq-table"' in html
    # the terminal's outline says the same
    assert text.startswith("Anatomy of the reasoning of the last reply")
    assert "final answer: 391" in text and "backtracks: 1" in text
    first = int(re.search(r"answer first reached: token (\d+)", text)[1])
    assert 0 < first < len(TRACE.split())  # stated in the split step, before the checks
    outline = [line for line in text.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert len(outline) == len(segments)


def test_anatomy_of_a_turn_that_does_not_exist_is_one_line(kernel, server) -> None:
    run = kernel.execute("%qwq anatomy 7 --chat nobody")
    assert run.reply["content"]["status"] == "error"
    assert "has no turns yet" in run.stdout or "UsageError" in str(run.messages)


def test_anatomy_joins_the_footer_with_the_flag(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning=TRACE, answer="**391**"))
    value, out = ask(shell, "What is 17 × 23?", "--anatomy")
    assert "anatomy: answer first reached at" in out
    assert "1 backtrack" in out and "self-check" in out
    assert value.anatomy().answer == "391"


def test_compare_says_where_runs_diverge_and_diff_shows_it(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning=TRACE, answer="391"), Reply(reasoning=OTHER, answer="391"))
    comparison, _ = ask(shell, "What is 17 × 23?", "--compare seed=1,2")
    html = comparison._repr_mimebundle_()["text/html"]
    assert "<th>answer at</th><th>backtracks</th><th>checks</th>" in html
    assert "Runs 1 and 2: " in html and "%qwq diff r1 r2" in html
    diff, _ = command(shell, "diff r1 r2")
    text = diff.plain
    assert text.startswith("Where run 1 (seed=1) and run 2 (seed=2) diverge")
    assert "same for 2 steps" in text, text  # SETUP's two sentences, then the routes part
    assert "<ol>" in diff.html and "Their answers" in diff.html


def test_a_vote_takes_the_majority_and_pick_keeps_it(shell, qwq_env) -> None:
    answers = {1: "**391**", 2: "**381**", 3: "**391**", 4: "**391**"}

    def by_seed(body):
        return Reply(reasoning=TRACE, answer=answers[body["seed"]])

    with QwQTestServer(
        token=qwq_env.token, account_id=qwq_env.account_id, responder=by_seed
    ) as server:
        shell.run_line_magic("config", f"QwQSettings.api_base = {server.api_base!r}")
        vote, _ = ask(shell, "What is 17 × 23?", "--vote 4")
        assert sorted(request.body["seed"] for request in server.requests) == [1, 2, 3, 4]
    assert vote.majority == "391" and vote.agreement == 0.75
    assert vote.distribution == [("391", 3), ("381", 1)]
    _, out = command(shell, "pick")
    assert out.startswith("run 1 (seed=1) is now the last turn")


def test_anatomy_of_saved_loaded_and_replayed_replies(shell, qwq_env, tmp_path) -> None:
    qwq_env.push(Reply(reasoning=TRACE, answer="**391**"))
    command(shell, f"record {tmp_path / 'lesson.json'}")
    ask(shell, "What is 17 × 23?")
    command(shell, "record off")
    live = command(shell, "anatomy 1")[0].plain
    command(shell, f"save {tmp_path / 'chat.json'}")
    command(shell, "reset")
    command(shell, f"load {tmp_path / 'chat.json'}")
    assert command(shell, "anatomy 1")[0].plain == live  # a loaded turn: the same anatomy
    command(shell, f"replay {tmp_path / 'lesson.json'} 0")
    ask(shell, "What is 17 × 23?", "--new")
    command(shell, "replay off")
    replayed = command(shell, "anatomy 1")[0].plain
    assert replayed.splitlines()[1:] == live.splitlines()[1:]  # replayed: the same, too
