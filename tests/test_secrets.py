"""The token (and account id) never appear in errors, reprs, responses or saved files."""

from __future__ import annotations

import json
import traceback

import pytest

from qwq_jupyter import Credentials, QwQClient, QwQSettings
from qwq_jupyter.session.conversation import ConversationStore, Turn
from qwq_jupyter.testing import Fault, QwQTestServer, Reply

TOKEN = "tok-SENTINEL-51d2a0e7"
ACCOUNT = "acct-SENTINEL-77aa"


@pytest.fixture
def server():
    with QwQTestServer(token=TOKEN, account_id=ACCOUNT) as server:
        yield server


def assert_clean(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert ACCOUNT not in text


def client_for(server, token: str = TOKEN, **changes) -> QwQClient:
    settings = QwQSettings(api_base=server.api_base, stall_timeout=0.3, max_retries=0)
    settings = settings.override(**changes) if changes else settings
    return QwQClient(settings, Credentials(ACCOUNT, token))


ECHO = f"token {TOKEN} for account {ACCOUNT} refused"

FAULTS = [
    Fault(status=401, code=10000, message=ECHO),
    Fault(status=429, code=3036, message=ECHO),
    Fault(status=413, code=3010, message=ECHO),
    Fault(status=500, message=ECHO),
    Fault(reset_after=3),
    Fault(stall_after=3),
    Fault(close_without_done=True),
    Fault(malformed=True),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: repr(f)[:60])
def test_every_error_path_is_redacted(server, fault: Fault) -> None:
    server.push(Reply(fault=fault))
    client = client_for(server)
    stream = client.stream([{"role": "user", "content": "hi"}])
    response = stream.wait()
    texts = [str(response.error), repr(response), json.dumps(response.to_dict()), repr(stream)]
    if stream.last_error is not None:
        error = stream.last_error
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    assert_clean(*texts)


def test_raised_errors_and_their_tracebacks_are_redacted(server) -> None:
    server.push(Reply(fault=Fault(status=401, code=10000, message=ECHO)))
    with pytest.raises(Exception) as info:
        client_for(server).complete([{"role": "user", "content": "hi"}])
    assert "HTTP 401" in str(info.value)
    assert_clean(str(info.value), "".join(traceback.format_exception(info.value)))


def test_connection_refused_names_the_host_only() -> None:
    settings = QwQSettings(api_base="http://127.0.0.1:9/client/v4", max_retries=0)
    client = QwQClient(settings, Credentials(ACCOUNT, TOKEN))
    response = client.stream([{"role": "user", "content": "hi"}]).wait()
    assert response.finish_reason == "error" and "127.0.0.1" in response.error
    assert_clean(response.error)


def test_reprs_never_show_the_token(server) -> None:
    client = client_for(server)
    request = client.prepare([{"role": "user", "content": "hi"}])
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"  # it is sent, of course
    assert_clean(
        repr(client), repr(client.credentials), repr(request), str(client.settings.as_dict())
    )


def test_saved_conversation_holds_no_secret(server, tmp_path) -> None:
    response = client_for(server).complete([{"role": "user", "content": "hi"}])
    store = ConversationStore()
    store.get().turns.append(Turn("hi", response))
    path = store.save(tmp_path / "chat.json")
    assert_clean(path.read_text())


def test_cloudflare_token_never_goes_to_another_server(server) -> None:
    with QwQTestServer(token=TOKEN, account_id=ACCOUNT) as other:
        # a base URL on another host: the Cloudflare token stays home (127.0.0.2 is another host)
        settings = QwQSettings(
            backend="openai",
            api_base=server.api_base,
            base_url=other.openai_base_url.replace("127.0.0.1", "localhost"),
            model="qwq",  # a Workers AI id would be refused before sending: not its model
            max_retries=0,
        )
        response = (
            QwQClient(settings, Credentials(ACCOUNT, TOKEN))
            .stream([{"role": "user", "content": "hi"}])
            .wait()
        )
        assert response.finish_reason == "error" and "HTTP 401" in response.error
        # Neither the question `GET /models` (server = 'auto') nor the call carried it.
        assert [r.method for r in other.requests] == ["GET", "POST"]
        assert all("authorization" not in r.headers for r in other.requests)


def test_openai_key_never_goes_to_cloudflare(server) -> None:
    settings = QwQSettings(api_base=server.api_base, max_retries=0)
    client = QwQClient(settings, Credentials(ACCOUNT, TOKEN, openai_key="sk-other-key"))
    assert client.prepare([{"role": "user", "content": "hi"}]).headers["Authorization"] == (
        f"Bearer {TOKEN}"
    )
    openai = settings.override(
        backend="openai", base_url="http://localhost:8000/v1", server="vllm", model="qwq"
    )
    request = client.prepare([{"role": "user", "content": "hi"}], settings=openai)
    assert request.headers["Authorization"] == "Bearer sk-other-key"


@pytest.mark.parametrize("url", ["localhost:8000/v1", "ftp://x/v1", "http://"])
def test_base_url_without_scheme_is_refused_before_sending(url: str) -> None:
    from qwq_jupyter import ConfigurationError

    settings = QwQSettings(backend="openai", base_url=url)
    with pytest.raises(ConfigurationError, match="base_url must be an http"):
        QwQClient(settings, Credentials()).prepare([{"role": "user", "content": "hi"}])


def test_logs_never_show_the_token_or_account_id(server, caplog) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        client_for(server).complete([{"role": "user", "content": "hi"}])
    assert "HTTP Request: POST" in caplog.text  # httpx did log the request
    assert_clean(caplog.text)
    assert "/accounts/****/ai/run" in caplog.text
