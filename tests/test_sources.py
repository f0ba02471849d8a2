"""Where events come from: the HTTP client, a cassette, and the in-process offline demo."""

from __future__ import annotations

import socket

import pytest
from shells import ask, command, session

from qwq_jupyter import QwQSettings
from qwq_jupyter.session.session import Session


@pytest.fixture
def no_keys(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "QWQ_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_the_demo_answers_in_the_kernel_without_a_socket_or_a_key(no_keys, monkeypatch) -> None:
    opened: list[object] = []
    real_connect = socket.socket.connect

    def watched(self, address):
        opened.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", watched)
    state = Session(QwQSettings(backend="demo"))
    response = state.client.complete([{"role": "user", "content": "What is 17 x 23?"}])
    assert "391" in response.answer and response.finish_reason == "stop"
    assert response.reasoning and response.usage.output_tokens
    assert opened == []  # nothing went over the network
    assert state.credentials is None and state.demo


def test_the_demo_stops_at_max_tokens_like_a_server(no_keys) -> None:
    state = Session(QwQSettings(backend="demo", max_tokens=5))
    response = state.client.complete([{"role": "user", "content": "What is 17 x 23?"}])
    assert response.finish_reason == "length" and not response.answer
    assert response.usage.output_tokens == 5


def test_a_demo_recorded_to_a_cassette_replays_with_no_key(shell, no_keys, tmp_path) -> None:
    cassette = tmp_path / "lesson.json"
    command(shell, "demo")
    command(shell, f"record {cassette}")
    recorded, _ = ask(shell, "What is 12 x 12?", "--no-history")
    command(shell, "record off")
    state = session(shell)
    state.leave_demo()  # back to Workers AI, which would need a key to be asked
    command(shell, f"replay {cassette} 0")
    replayed, _ = ask(shell, "What is 12 x 12?", "--no-history")
    assert replayed.answer == recorded.answer and "144" in replayed.answer
    assert state.credentials is None  # replay needed no stand-in key
    assert state.settings.backend == "workers-ai" and not state.demo
