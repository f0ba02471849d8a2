"""Terminal IPython: the same magics, typed at a real `ipython` prompt."""

from __future__ import annotations

from shells import terminal_ipython

from qwq_jupyter.testing import Reply


def test_terminal_ipython_streams_plain_text_with_grey_reasoning(qwq_server, tmp_path) -> None:
    qwq_server.push(Reply(reasoning="Six sevens.", answer="It is 42."))
    typed = "\n".join(
        [
            "%load_ext qwq_jupyter",
            f"%config QwQSettings.api_base = {qwq_server.api_base!r}",
            "%%qwq --temperature 0.5",
            "What is 6 x 7?",
            "",
            "",
            "print('answer was', _.answer)",
            "%qwq usage",
            "",
        ]
    )
    result = terminal_ipython(typed, qwq_server, tmp_path)
    out = result.stdout
    assert "\x1b[38;5;245mSix" in out  # the reasoning, grey
    assert "It is 42." in out and "tok/s" in out
    assert "<QwQ Response stop" in out  # Out[n] is a one-line summary, not the answer again
    assert "answer was It is 42." in out
    assert "1 call ·" in out
    assert qwq_server.last_body["temperature"] == 0.5
    assert "Traceback" not in out + result.stderr
