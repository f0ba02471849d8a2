"""Teaching features in a real shell: --compare, --dry-run, stats, record and replay."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError
from shells import ask, command, session

from qwq_jupyter.testing import Reply


def test_compare_runs_at_once_and_tabulates(shell, qwq_env) -> None:
    ask(shell, "earlier question")
    qwq_env.push(
        Reply(reasoning="a " * 40, answer="It is \\boxed{42}.", tokens_per_second=200),
        Reply(reasoning="b " * 40, answer="Surely 42", tokens_per_second=200),
        Reply(reasoning="c " * 40, answer="I think 41", tokens_per_second=200),
    )
    qwq_env.reset_stats()
    value, _ = ask(shell, "What is 6 × 7?", "--compare temperature=0.2,0.6,1.0")
    bodies = [r.body for r in qwq_env.requests[-3:]]
    assert sorted(b["temperature"] for b in bodies) == [0.2, 0.6, 1.0]
    assert qwq_env.peak_open == 3  # the runs went out at once
    assert all(b["messages"][-3]["content"] == "earlier question" for b in bodies)  # history used
    rows = value.rows()
    assert [row["run"] for row in rows] == ["temperature=0.2", "temperature=0.6", "temperature=1"]
    assert [row["finish"] for row in rows] == ["stop"] * 3
    assert all(row["reasoning tokens"] and row["answer tokens"] for row in rows)
    assert sorted(row["agrees"] for row in rows) == [False, True, True]
    html = value._repr_mimebundle_()["text/html"]
    assert "<th>run</th><th>reasoning tokens</th>" in html and "2 of 3 answers agree" in html
    assert "qwq-grid" in html and html.count('class="qwq-run"') == 3  # side by side
    assert "\\(\\boxed{42}\\)" in html  # run 1's answer typesets
    assert len(session(shell).conversation().turns) == 1  # not in the conversation
    _, out = command(shell, "pick 3")
    assert "run 3" in out
    # the runs went out at once, so which scripted reply each got is up to the scheduler
    assert session(shell).conversation().turns[-1].answer == value.runs[2].response.answer


@pytest.mark.parametrize(
    "spec",
    ["temperature=9,1", "nothing=1,2", "top_k=1.5,2", "seed=5", "seed=1,2,3,4,5,6,7"],
)
def test_compare_refuses_bad_specs_before_sending(shell, qwq_env, spec: str) -> None:
    with pytest.raises(UsageError):
        ask(shell, "q", f"--compare {spec}")
    assert qwq_env.requests == []


def test_dry_run_sends_nothing_and_shows_everything(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning="SECRET REASONING", answer="first answer"))
    ask(shell, "first question", "--system 'Be brief.'")
    sent = len(qwq_env.requests)
    preview, _ = ask(shell, "second question", "--dry-run --temperature 0.3 --raw")
    assert len(qwq_env.requests) == sent  # nothing sent
    assert preview.body["temperature"] == 0.3 and preview.body["raw"] is True
    assert preview.template_text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nfirst question<|im_end|>\n"
        "<|im_start|>assistant\nfirst answer<|im_end|>\n"
        "<|im_start|>user\nsecond question<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )
    assert "SECRET REASONING" not in json.dumps(preview.body)
    html = preview._repr_html_()
    assert "nothing was sent" in html and "Bearer ****" in html
    assert qwq_env.token not in html and qwq_env.account_id not in html
    assert "qwq-math" not in html and "→ $0.0" in html  # the cost line stays literal
    assert preview.input_tokens > 0 and preview.input_cost > 0
    assert len(session(shell).conversation().turns) == 1


def test_dry_run_with_new_changes_nothing(shell, qwq_env) -> None:
    ask(shell, "kept")
    command(shell, "request --new --top-k 5 what would you send")
    assert [t.prompt for t in session(shell).conversation().turns] == ["kept"]


def test_request_command(shell, qwq_env) -> None:
    preview, _ = command(shell, "request --temperature 0.9 How big is the sun")
    assert preview.body["messages"][-1]["content"] == "How big is the sun"
    assert preview.body["temperature"] == 0.9 and qwq_env.requests == []


def test_stats_per_conversation_and_session(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning="r " * 30, answer="a", reasoning_tokens_in_usage=True))
    ask(shell, "one")
    ask(shell, "two", "--chat side")
    stats, _ = command(shell, "stats")
    names = [s.name for s in stats.conversations]
    assert names == ["default", "side"]
    assert stats.total.turns == 2
    first = session(shell).conversation().turns[0].response
    assert stats.conversations[0].reasoning_per_turn == [first.reasoning_tokens]
    assert first.reasoning_tokens >= 30 and not first.tokens_estimated
    assert stats.total.cost > 0 and stats.total.thinking_seconds >= 0
    html = stats._repr_html_()
    assert "<th>conversation</th><th>turns</th>" in html and "session (all)" in html
    assert "qwq-math" not in html and "tex2jax_ignore" in html  # dollars never typeset
    assert stats.figure() is not None  # matplotlib is installed in the test environment


def test_record_then_replay_with_no_server_and_a_miss(shell, qwq_env, tmp_path, monkeypatch):
    cassette = tmp_path / "lesson.json"
    command(shell, f"record {cassette}")
    qwq_env.push(
        Reply(reasoning="Recorded thinking.", answer="Recorded answer.", tokens_per_second=100)
    )
    original, _ = ask(shell, "the lesson question", "--no-history")
    text = cassette.read_text()
    (entry,) = json.loads(text)["entries"].values()
    answer = "".join(e["text"] for _, e in entry["events"] if e["type"] == "answer")
    assert answer == "Recorded answer."
    assert entry["events"][-1][0] > entry["events"][0][0]  # timing kept
    assert qwq_env.token not in text and qwq_env.account_id not in text
    qwq_env.stop()
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    session(shell)._client = None
    command(shell, f"replay {cassette} 0")
    replayed, out = ask(shell, "the lesson question", "--no-history")
    assert replayed.answer == "Recorded answer." and replayed.finish_reason == "stop"
    assert replayed.reasoning.strip() == original.reasoning.strip()
    missed, out = ask(shell, "a changed question", "--no-history")
    assert missed.finish_reason == "error" and "replay miss" in out
    command(shell, "replay off")
