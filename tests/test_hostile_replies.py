"""Hostile replies end in one readable line, never a raw traceback or a silent success."""

from __future__ import annotations

import gzip
import json

import pytest

from qwq_jupyter import Credentials, QwQClient, QwQSettings
from qwq_jupyter.core.errors import (
    QwQError,
    RedirectError,
    ServerError,
    UnreadableReplyError,
)
from qwq_jupyter.testing import Fault, QwQTestServer, Reply

QUESTION = [{"role": "user", "content": "hi"}]
ESCAPES = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1bc\r"


@pytest.fixture
def server():
    with QwQTestServer() as server:
        yield server


def call(server: QwQTestServer, fault: Fault, **changes):
    """One call against `fault`; the response and the error it ended with."""
    server.push(Reply(fault=fault))
    settings = QwQSettings(api_base=server.api_base, max_retries=0, stall_timeout=5.0)
    client = QwQClient(settings.override(**changes), Credentials(server.account_id, server.token))
    stream = client.stream(QUESTION)
    response = stream.wait()
    return response, stream.last_error


def assert_one_line(error: BaseException | None, limit: int = 300) -> str:
    assert isinstance(error, QwQError), repr(error)
    text = str(error)
    assert "\n" not in text and "\x1b" not in text and "\r" not in text
    assert 0 < len(text) <= limit, text
    return text


def corrupt(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 16]) + data[middle + 16 :]


WHOLE = json.dumps({"result": {"response": "4", "finish_reason": "stop"}, "success": True})


def test_corrupt_gzip_body_is_one_line(server) -> None:
    body = corrupt(gzip.compress(WHOLE.encode() * 50))
    response, error = call(server, Fault(raw_body=body, content_encoding="gzip"), stream=False)
    assert response.finish_reason == "error"
    assert isinstance(error, UnreadableReplyError)
    assert "gzip data is corrupt" in assert_one_line(error)


def test_truncated_gzip_body_is_refused(server) -> None:
    body = gzip.compress(WHOLE.encode())[:-12]
    response, error = call(server, Fault(raw_body=body, content_encoding="gzip"), stream=False)
    assert response.finish_reason == "error" and "corrupt" in assert_one_line(error)


def test_gzip_body_is_read(server) -> None:
    body = gzip.compress(WHOLE.encode())
    response, error = call(server, Fault(raw_body=body, content_encoding="gzip"), stream=False)
    assert error is None and response.answer == "4" and response.finish_reason == "stop"


def test_gzip_event_stream_is_read(server) -> None:
    events = b"".join(
        b"data: %s\n\n" % json.dumps({"response": piece}).encode()
        for piece in ["Hm", "</think>", "42"]
    )
    body = gzip.compress(events + b"data: [DONE]\n\n")
    fault = Fault(raw_body=body, content_encoding="gzip", content_type="text/event-stream")
    response, error = call(server, fault)
    assert error is None and (response.reasoning, response.answer) == ("Hm", "42")


def test_corrupt_gzip_event_stream_is_one_line(server) -> None:
    events = b"".join(b'data: {"response": "t%d"}\n\n' % i for i in range(2000))
    fault = Fault(
        raw_body=corrupt(gzip.compress(events)),
        content_encoding="gzip",
        content_type="text/event-stream",
    )
    response, error = call(server, fault)
    assert response.finish_reason in ("error", "incomplete")
    assert "corrupt" in assert_one_line(error)


def test_unknown_compression_is_refused(server) -> None:
    response, error = call(server, Fault(raw_body=b"\x00\x01", content_encoding="br"), stream=False)
    assert response.finish_reason == "error" and "'br'" in assert_one_line(error)


def test_deeply_nested_json_body_is_one_line(server) -> None:
    response, error = call(server, Fault(raw_body=b"[" * 100_000), stream=False)
    assert response.finish_reason == "error"
    assert "not JSON" in assert_one_line(error)


def test_deeply_nested_json_event_is_skipped(server) -> None:
    events = ["[" * 100_000, json.dumps({"response": "42", "finish_reason": "stop"})]
    response, error = call(server, Fault(events=events))
    assert error is None and response.answer == "42" and response.malformed_events == 1


def test_infinite_token_counts_are_ignored_and_the_reply_finishes(server) -> None:
    events = [
        json.dumps({"response": "42", "finish_reason": "stop"}),
        '{"response": "", "usage": {"prompt_tokens": 3, "completion_tokens": 1e999}}',
    ]
    response, error = call(server, Fault(events=events))
    assert error is None and response.finish_reason == "stop" and response.answer == "42"
    assert response.usage.input_tokens == 3 and response.usage.output_tokens is None


def test_infinite_token_counts_in_a_whole_body(server) -> None:
    body = b'{"result": {"response": "4", "usage": {"completion_tokens": 1e999}}, "success": true}'
    response, error = call(server, Fault(raw_body=body), stream=False)
    assert error is None and response.finish_reason == "stop"
    assert response.usage.output_tokens is None


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_an_error_not_an_empty_answer(server, status: int) -> None:
    with QwQTestServer(token=server.token, account_id=server.account_id) as elsewhere:
        fault = Fault(raw_body=b"", status=status, headers={"Location": elsewhere.api_base})
        response, error = call(server, fault)
        assert response.finish_reason == "error" and response.answer == ""
        assert isinstance(error, RedirectError) and error.status == status
        text = assert_one_line(error)
        assert f"HTTP {status}" in text and "redirects are not followed" in text
        assert elsewhere.requests == []  # the redirect was not followed


def test_only_unreadable_events_is_an_error(server) -> None:
    response, error = call(server, Fault(events=["not json", "{nor this", "<html>"]))
    assert response.finish_reason == "error" and response.answer == ""
    assert "no readable event" in assert_one_line(error)


def test_done_alone_is_not_an_empty_answer(server) -> None:
    response, error = call(server, Fault(events=[]))
    assert response.finish_reason == "error" and "no readable event" in assert_one_line(error)


HTML = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    + b"<p>" * 20_000
    + b"</body></html>"
)


def test_html_error_page_is_one_short_line(server) -> None:
    fault = Fault(raw_body=HTML, status=502, content_type="text/html")
    response, error = call(server, fault)
    assert isinstance(error, ServerError) and error.status == 502
    text = assert_one_line(error)
    assert "<" not in text and "HTML page" in text and "HTTP 502" in text
    assert response.error == text


def test_html_instead_of_a_reply_is_one_line(server) -> None:
    fault = Fault(raw_body=HTML, content_type="text/html; charset=utf-8")
    _response, error = call(server, fault, stream=False)
    text = assert_one_line(error)
    assert "not JSON" in text and "text/html" in text and "<p>" not in text


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_error_messages_from_the_server_are_bounded_and_inert(server, status: int) -> None:
    fault = Fault(status=status, message=ESCAPES + "x" * 20_000)
    response, error = call(server, fault)
    text = assert_one_line(error, limit=420)  # 200 characters of the server's, and a hint
    assert "␛]52;c;ZXZpbA==" in text and text.count("x") <= 200
    assert response.error == text


def test_a_mid_stream_error_event_is_bounded_and_inert(server) -> None:
    events = [
        json.dumps({"response": "partial"}),
        json.dumps({"error": {"message": ESCAPES + "y" * 50_000}}),
    ]
    response, error = call(server, Fault(events=events))
    assert response.finish_reason == "incomplete" and response.reasoning == "partial"
    text = assert_one_line(error)
    assert "mid-reply" in text and "␛" in text


def test_an_odd_finish_reason_is_bounded_and_inert(server) -> None:
    events = [json.dumps({"response": "a", "finish_reason": ESCAPES + "z" * 5000})]
    response, error = call(server, Fault(events=events))
    assert response.finish_reason == "incomplete"
    assert "stopped the reply" in assert_one_line(error)


def test_an_odd_reason_phrase_is_inert(server) -> None:
    fault = Fault(raw_body=b"{}", status=500, headers={"X-Note": "1"})
    _, error = call(server, fault)
    assert "HTTP 500" in assert_one_line(error)


def test_a_json_body_of_the_wrong_type_is_an_error(server) -> None:
    response, error = call(server, Fault(raw_body=b"[1, 2, 3]"), stream=False)
    assert response.finish_reason == "error" and "not a JSON object" in assert_one_line(error)


def test_an_empty_body_is_an_error(server) -> None:
    response, error = call(server, Fault(raw_body=b""), stream=False)
    assert response.finish_reason == "error" and "not a JSON object" in assert_one_line(error)
