"""Steering the thinking end to end, over HTTP to the local server, for each backend shape.

A thinking budget, think-longer, the loop guard, the cost cap and the session budget, through
`%%qwq` in a real IPython shell: the continuation request's exact text, the connection closed
at the cut, usage and cost added up, and only the answer kept in the conversation.
"""

from __future__ import annotations

import pytest
from shells import ask, command, session

from qwq_jupyter.client.steering import CLOSING, CLOSING_AFTER_LOOP
from qwq_jupyter.core.template import apply_chat_template
from qwq_jupyter.testing import QwQTestServer, Reply, long_reasoning, looping_reasoning

QUESTION = "How many primes are below 100?"
LONG = long_reasoning(3_000, seed=7)
#: The local server streams one `\s*\S+` piece per token, as the client counts them.
PACE = 2_000.0


def tokens(text: str, count: int) -> str:
    """The first `count` tokens of `text` as the server streams them."""
    import re

    return "".join(re.findall(r"\s*\S+|\s+", text)[:count])


def kept(partial: str) -> str:
    """What a continuation re-sends of the partial reasoning: up to its last full sentence."""
    from qwq_jupyter.client.steering import sentence_end

    return partial[: sentence_end(partial)].strip()


def use(shell, server: QwQTestServer, backend: str) -> None:
    """Point the shell at `backend` on the local server."""
    shell.run_line_magic("config", f"QwQSettings.backend = {backend!r}")
    if backend == "ai-gateway":
        shell.run_line_magic("config", f"QwQSettings.gateway_base = {server.gateway_base!r}")
        shell.run_line_magic("config", "QwQSettings.gateway_id = 'class'")
    if backend == "openai":
        shell.run_line_magic("config", "QwQSettings.model = 'qwq'")
        shell.run_line_magic("config", "QwQSettings.server = 'vllm'")


@pytest.mark.parametrize("backend", ["workers-ai", "ai-gateway", "openai"])
def test_budget_cuts_the_thinking_and_the_answer_is_asked_for(shell, qwq_env, backend) -> None:
    use(shell, qwq_env, backend)
    qwq_env.push(
        Reply(reasoning=LONG, answer="never", tokens_per_second=PACE),
        Reply(answer="There are **25** primes below 100."),
    )
    qwq_env.reset_stats()
    value, out = ask(shell, QUESTION, "--think-budget 200 --max-tokens 4000")
    first, second = qwq_env.requests[-2:]
    assert qwq_env.wait_for_disconnect(2.0)  # the first stream was closed at the budget
    assert "messages" in first.body and "prompt" not in first.body
    template = apply_chat_template([{"role": "user", "content": QUESTION}])
    expected = f"{template}{kept(tokens(LONG, 200))}\n\n{CLOSING}\n</think>\n\n"
    assert second.body["prompt"] == expected
    assert second.body["max_tokens"] == 4000 - 200  # max_tokens caps the whole
    if backend == "openai":
        assert second.path == "/v1/completions" and second.body["model"] == "qwq"
    else:
        assert second.body["raw"] is True and second.path == first.path
    assert value.answer == "There are **25** primes below 100."
    assert value.forced and value.cut.at_tokens == 200 and value.calls == 2
    assert value.reasoning == tokens(LONG, 200).lstrip()
    # usage: the cut call estimated (no usage came), the continuation reported, added up
    assert value.usage.estimated and value.usage.output_tokens == 200 + 6  # 6 answer tokens
    assert value.cost == pytest.approx(
        (value.usage.input_tokens * 0.66 + value.usage.output_tokens * 1.0) / 1e6
    )
    assert "thinking cut at 200 tokens by think_budget" in out and "answer forced" in out
    # the conversation keeps only the answer
    ask(shell, "And below 200?")
    messages = qwq_env.last_body["messages"]
    assert messages[1] == {"role": "assistant", "content": value.answer}
    assert LONG[:40] not in str(messages)


def test_cloudflare_openai_endpoint_continues_on_the_native_route(shell, qwq_env) -> None:
    base = f"{qwq_env.api_base}/accounts/{qwq_env.account_id}/ai/v1"
    shell.run_line_magic("config", "QwQSettings.backend = 'openai'")
    shell.run_line_magic("config", f"QwQSettings.base_url = {base!r}")
    qwq_env.push(Reply(reasoning=LONG, tokens_per_second=PACE), Reply(answer="25"))
    value, _ = ask(shell, QUESTION, "--think-budget 50")
    first, second = qwq_env.requests[-2:]
    assert first.path.endswith("/ai/v1/chat/completions")
    assert second.path.endswith("/ai/run/@cf/qwen/qwq-32b") and second.body["raw"] is True
    assert value.answer == "25" and value.forced


def test_a_server_without_completions_says_so_and_keeps_the_reasoning(shell, qwq_env) -> None:
    use(shell, qwq_env, "openai")
    qwq_env.completions = False
    qwq_env.push(Reply(reasoning=LONG, tokens_per_second=PACE))
    value, out = ask(shell, QUESTION, "--think-budget 30")
    assert value.finish_reason == "incomplete" and value.reasoning
    assert "the answer could not be asked for" in value.error
    assert "404" in value.error
    assert "what arrived is kept" in out


def test_budget_zero_answers_without_thinking_in_one_request(shell, qwq_env) -> None:
    qwq_env.push(Reply(answer="25, I believe."))
    before = len(qwq_env.requests)
    value, out = ask(shell, QUESTION, "--think-budget 0")
    assert len(qwq_env.requests) == before + 1
    assert "thinking cut at 0 tokens by think_budget" in out
    template = apply_chat_template([{"role": "user", "content": QUESTION}])
    assert qwq_env.last_body["prompt"] == f"{template}{CLOSING}\n</think>\n\n"
    assert value.answer == "25, I believe." and value.reasoning == ""
    assert not value.usage.estimated  # the only call reported its usage


def test_think_min_continues_a_short_thinking_with_wait(shell, qwq_env) -> None:
    qwq_env.push(
        Reply(reasoning="Easy: 25.", answer="early"),
        Reply(reasoning=" let me count them by decade to be sure. 4+4+4+3+3+2+4+3+2+1 = 30? "
              "No: 4+4+2+2+3+2+2+3+2+1 = 25.", answer="**25**"),
    )  # fmt: skip
    value, out = ask(shell, QUESTION, "--think-min 20")
    prompt = qwq_env.last_body["prompt"]
    assert prompt.endswith("<think>\nEasy: 25.\n\nWait,")
    assert value.extensions == 1 and value.answer == "**25**"
    assert "Wait, let me count them by decade" in value.reasoning
    assert "early" not in out.split("answer")[0]  # the early answer was never shown
    assert 'continued with "Wait,"' in out


def test_the_loop_guard_closes_the_stream_and_answers_from_before_the_loop(shell, qwq_env) -> None:
    passage = (
        "Let me spell it: s, t, r, a, w, b, e, r, r, y. The r's are at 3, 8 and 9, so three. "
        "But people often say two. Did I double count? Let me count again, letter by letter."
    )
    prefix = long_reasoning(300, seed=3)
    qwq_env.push(
        Reply(reasoning=prefix, loop_passage=passage, tokens_per_second=PACE),
        Reply(answer='There are **3** r\'s in "strawberry".'),
    )
    qwq_env.reset_stats()
    value, out = ask(shell, "How many r's in strawberry?")
    assert qwq_env.wait_for_disconnect(2.0)
    loop = value.loop
    assert loop is not None and loop.action == "answer"
    period = len(passage.split())
    assert abs(loop.period - period) <= period * 0.2
    assert loop.found_at <= 300 + 3 * period + 60  # within three repetitions (and a read)
    prompt = qwq_env.last_body["prompt"]
    assert prompt.endswith(f"{CLOSING_AFTER_LOOP}\n</think>\n\n")
    assert prompt.count("letter by letter") <= 1  # the loop itself is not sent back
    assert value.answer.startswith("There are **3**")
    assert "repeating since token" in out
    stats, _ = command(shell, "stats")
    assert stats.conversations[0].loops == 1 and stats.conversations[0].forced == 1


@pytest.mark.parametrize("action", ["stop", "warn"])
def test_on_loop_stop_and_warn(shell, qwq_env, action) -> None:
    passage = "I add 2 and 2 and get 4, then I check it again by adding 2 and 2 once more."
    reasoning = looping_reasoning(200, passage, 8, seed=1)
    qwq_env.push(Reply(reasoning=reasoning, answer="4", tokens_per_second=PACE))
    before = len(qwq_env.requests)
    value, out = ask(shell, "2+2?", f"--on-loop {action}")
    assert len(qwq_env.requests) == before + 1 and value.loop.action == action
    if action == "stop":
        assert value.finish_reason == "interrupted" and value.answer == ""
        assert "Stopped" in out
    else:
        assert value.finish_reason == "stop" and value.answer == "4"
        assert "warned only" in out


def test_healthy_long_reasoning_is_never_taken_for_a_loop(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning=long_reasoning(6_000, seed=11), answer="fine"))
    value, _ = ask(shell, QUESTION, "--max-tokens 8000")
    assert value.loop is None and value.calls == 1 and value.answer == "fine"


def test_max_cost_forces_the_answer(shell, qwq_env) -> None:
    qwq_env.push(Reply(reasoning=LONG, tokens_per_second=PACE), Reply(answer="25"))
    value, out = ask(shell, QUESTION, "--max-cost 0.002")
    assert value.cut.reason == "cost" and value.answer == "25"
    assert value.cost <= 0.002 * 1.05  # estimated counts: within a few percent of the cap
    assert "by max_cost" in out


def test_session_budget_refuses_a_call_that_could_cross_it(shell, qwq_env) -> None:
    before = len(qwq_env.requests)
    _, out = command(shell, "budget 0.001")
    assert "spent $0.0000 of $0.0010, $0.0010 left" in out
    with pytest.raises(Exception, match=r"refused: this call could cost up to \$0\.0\d+"):
        ask(shell, QUESTION)
    with pytest.raises(Exception, match=r"refused: this call could cost up to \$0\.0\d+"):
        ask(shell, QUESTION, "--no-stream")  # not streamed: its own worst case, still too much
    assert len(qwq_env.requests) == before  # nothing was sent
    qwq_env.push(Reply(reasoning="quick", answer="25"))
    value, _ = ask(shell, QUESTION, "--max-cost 0.0009")  # a capped call fits
    assert value.answer == "25"
    _, out = command(shell, "budget")
    assert "spent $0.0000 of $0.0010" in out or "spent $0.0001 of $0.0010" in out
    command(shell, "budget off")
    assert session(shell).budget.cap is None


def test_compare_budgets_side_by_side(shell, qwq_env) -> None:
    def respond(body):
        if "prompt" in body:  # a continuation: answer with how much reasoning it was sent
            reasoning = body["prompt"].split("<think>\n", 1)[1]
            return Reply(answer=f"answered after {len(reasoning.split())} words")
        return Reply(reasoning=LONG, tokens_per_second=PACE)

    with QwQTestServer(
        token=qwq_env.token, account_id=qwq_env.account_id, responder=respond
    ) as server:
        shell.run_line_magic("config", f"QwQSettings.api_base = {server.api_base!r}")
        comparison, _ = ask(shell, QUESTION, "--compare think_budget=0,100,1000")
    runs = comparison.runs
    assert [run.ask.settings.think_budget for run in runs] == [0, 100, 1000]
    assert all(run.response.forced for run in runs)
    assert [run.response.cut.at_tokens for run in runs] == [0, 100, 1000]
    words = [int(run.response.answer.split()[2]) for run in runs]
    assert words[0] < words[1] < words[2]


def _client(server: QwQTestServer):
    from qwq_jupyter import Credentials, QwQClient, QwQSettings

    settings = QwQSettings(api_base=server.api_base)
    return QwQClient(settings, Credentials(server.account_id, server.token))


def test_the_python_api_steers_a_stream_and_answers_now_from_another_thread(qwq_env) -> None:
    import threading

    qwq_env.push(Reply(reasoning=LONG, tokens_per_second=200), Reply(answer="forced from a script"))
    client = _client(qwq_env)
    stream = client.stream([{"role": "user", "content": QUESTION}])
    for seen, _event in enumerate(stream, 1):
        if seen == 20:
            threading.Thread(target=stream.answer_now).start()
    response = stream.response
    assert response.forced and response.cut.reason == "answer_now"
    assert response.answer == "forced from a script"
    assert not stream.answer_now()  # nothing left to cut


def test_the_python_api_complete_takes_a_budget(qwq_env) -> None:
    qwq_env.push(Reply(reasoning=LONG, tokens_per_second=PACE), Reply(answer="25"))
    response = _client(qwq_env).complete([{"role": "user", "content": QUESTION}], think_budget=40)
    assert response.forced and response.cut.at_tokens == 40 and response.answer == "25"
    assert qwq_env.last_body["prompt"].endswith(f"{CLOSING}\n</think>\n\n")


def test_a_budget_without_streaming_is_refused_before_sending(qwq_env) -> None:
    from qwq_jupyter import ConfigurationError

    before = len(qwq_env.requests)
    with pytest.raises(ConfigurationError, match="need stream=True"):
        _client(qwq_env).complete(
            [{"role": "user", "content": QUESTION}], think_budget=40, stream=False
        )
    assert len(qwq_env.requests) == before


def test_a_cut_thinking_is_recorded_and_replayed(shell, qwq_env, tmp_path) -> None:
    cassette = tmp_path / "budget.json"
    qwq_env.push(Reply(reasoning=LONG, tokens_per_second=PACE), Reply(answer="25, recorded"))
    command(shell, f"record {cassette}")
    recorded, _ = ask(shell, QUESTION, "--think-budget 60 --no-history")
    command(shell, "record off")
    sent = len(qwq_env.requests)
    command(shell, f"replay {cassette} 0")
    replayed, _ = ask(shell, QUESTION, "--think-budget 60 --no-history")
    command(shell, "replay off")
    assert len(qwq_env.requests) == sent  # nothing reached the server
    assert replayed.answer == recorded.answer == "25, recorded"
    assert replayed.forced and replayed.reasoning == recorded.reasoning
    assert replayed.cut.at_tokens == recorded.cut.at_tokens == 60


def test_a_dry_run_says_how_the_thinking_would_be_steered_and_the_worst_case(shell) -> None:
    preview, _ = ask(shell, QUESTION, "--dry-run --think-budget 500 --max-cost 0.02")
    text = shell.display_formatter.format(preview)[0]["text/plain"]
    assert "the thinking is cut at 500 tokens" in text
    assert "at most $0.02000 for this call, then answer" in text
    assert "Worst case, with a cut thinking's continuation" in text
    assert preview.worst_case == 0.02  # the cap is lower than the worst case at max_tokens


def test_an_endless_repeating_stream_is_caught_by_the_loop_guard(shell, qwq_env) -> None:
    from qwq_jupyter.testing import Fault

    qwq_env.push(Reply(fault=Fault(endless=True)), Reply(answer="stopped going round"))
    qwq_env.reset_stats()
    value, _ = ask(shell, QUESTION, "--max-tokens 4000 --no-history")
    assert qwq_env.wait_for_disconnect(2.0)
    assert value.loop.period == 256 and value.loop.start == 0  # "thinking0 … thinking255", again
    assert value.answer == "stopped going round"


def test_the_budget_refuses_before_even_asking_the_server_its_models(shell, qwq_env) -> None:
    shell.run_line_magic("config", "QwQSettings.backend = 'openai'")  # server 'auto': GET /models
    # Cloudflare's hosts elsewhere, so the local base_url is a generic server, not /ai/v1
    shell.run_line_magic("config", "QwQSettings.api_base = 'https://api.cloudflare.com/client/v4'")
    shell.run_line_magic(
        "config", "QwQSettings.gateway_base = 'https://gateway.ai.cloudflare.com/v1'"
    )
    command(shell, "budget 0.0001")
    before = len(qwq_env.requests)
    with pytest.raises(Exception, match="refused: this call could cost up to"):
        ask(shell, QUESTION)
    assert len(qwq_env.requests) == before  # not a POST, not a GET /models
