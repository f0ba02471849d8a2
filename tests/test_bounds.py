"""Time and memory bounds against a hostile server: deadline, body caps, event caps, runaway."""

from __future__ import annotations

import json
import tracemalloc
import zlib

import pytest

from qwq_jupyter import Credentials, QwQClient, QwQSettings
from qwq_jupyter.core.errors import (
    DeadlineExceeded,
    QwQError,
    ReplyTooLargeError,
    ServerError,
)
from qwq_jupyter.testing import Fault, QwQTestServer, Reply, gzip_bomb
from qwq_jupyter.wire.decode import CHARS_PER_TOKEN, EventDecoder
from qwq_jupyter.wire.inflate import PIECE as _PIECE
from qwq_jupyter.wire.inflate import Inflater as _Inflater
from qwq_jupyter.wire.replies import ERROR_BODY_BYTES
from qwq_jupyter.wire.sse import SSEDecoder

QUESTION = [{"role": "user", "content": "hi"}]
MB = 1024 * 1024


@pytest.fixture
def server():
    with QwQTestServer() as server:
        yield server


def client_for(server: QwQTestServer, **changes) -> QwQClient:
    settings = QwQSettings(api_base=server.api_base, max_retries=0, stall_timeout=5.0)
    return QwQClient(settings.override(**changes), Credentials(server.account_id, server.token))


def call(server: QwQTestServer, fault: Fault, **changes):
    server.push(Reply(fault=fault))
    stream = client_for(server, **changes).stream(QUESTION)
    return stream.wait(), stream.last_error


# --- The deadline covers every wait, not just each network operation ---------------------------

SLOW = 0.05  # seconds per byte: each read is quick, the whole reply takes many seconds


def test_deadline_covers_response_headers(server) -> None:
    response, error = call(server, Fault(raw_body=b"{}", drip=SLOW, drip_head=True), deadline=1.0)
    assert response.finish_reason == "error" and isinstance(error, DeadlineExceeded)
    assert server.wait_for_disconnect(5)  # the connection was closed, not left dripping


def test_deadline_covers_error_bodies(server) -> None:
    response, error = call(server, Fault(status=500, message="x" * 500, drip=SLOW), deadline=1.0)
    assert response.finish_reason == "error" and isinstance(error, DeadlineExceeded)


def test_deadline_covers_whole_bodies(server) -> None:
    response, error = call(server, Fault(drip=SLOW), deadline=1.0, stream=False)
    assert response.finish_reason == "error" and isinstance(error, DeadlineExceeded)


def test_deadline_covers_a_dripping_stream(server) -> None:
    events = [json.dumps({"response": f" t{i}"}) for i in range(100)]
    response, error = call(server, Fault(events=events, drip=SLOW / 10), deadline=1.0)
    assert isinstance(error, DeadlineExceeded)
    assert response.finish_reason == "incomplete" and response.reasoning.startswith(" t0")


def test_deadline_is_not_taken_for_an_interrupt(server) -> None:
    # A normal call under a short deadline still works: the timer is disarmed afterwards.
    client = client_for(server, deadline=1.0)
    for _ in range(3):
        assert client.complete(QUESTION).finish_reason == "stop"


# --- Bodies: decompressed in bounded pieces, capped -------------------------------------------


def peak_during(function) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


BOMB = gzip_bomb(64 * MB)


def test_gzip_bomb_whole_body_is_refused_within_the_cap(server) -> None:
    (response, error), peak = peak_during(
        lambda: call(server, Fault(raw_body=BOMB, content_encoding="gzip"), stream=False)
    )
    assert response.finish_reason == "error" and isinstance(error, ReplyTooLargeError)
    assert "\n" not in str(error) and "bytes; it was not read" in str(error)
    assert peak < 24 * MB  # the cap (1 MB + 256 bytes per allowed token) and a few pieces


def test_gzip_bomb_error_body_is_cut_at_the_cap(server) -> None:
    fault = Fault(raw_body=BOMB, status=500, content_encoding="gzip")
    (_response, error), peak = peak_during(lambda: call(server, fault))
    assert isinstance(error, ServerError) and "KB, not read" in str(error)
    assert peak < 8 * MB


def test_plain_oversized_error_body_is_cut(server) -> None:
    body = json.dumps({"error": {"message": "m" * (2 * ERROR_BODY_BYTES)}}).encode()
    _, error = call(server, Fault(raw_body=body, status=503))
    assert isinstance(error, ServerError) and "not read" in str(error) and len(str(error)) < 300


def test_inflater_hands_out_bounded_pieces() -> None:
    inflater = _Inflater("gzip")
    pieces = [len(piece) for piece in inflater.pieces(gzip_bomb(8 * MB))]
    assert sum(pieces) == 8 * MB and max(pieces) <= _PIECE
    inflater.check_end()


def test_inflater_refuses_a_cut_stream() -> None:
    inflater = _Inflater("deflate")
    list(inflater.pieces(zlib.compress(b"abc" * 1000)[:-6]))
    with pytest.raises(QwQError, match="corrupt"):
        inflater.check_end()


# --- SSE: one event is capped; a long line is appended to, not re-joined ----------------------


def test_an_oversized_event_stops_the_stream(server) -> None:
    huge = json.dumps({"response": "a" * (5 * MB)})
    response, error = call(server, Fault(events=[json.dumps({"response": "ok"}), huge]))
    assert isinstance(error, ReplyTooLargeError) and "event over" in str(error)
    assert response.finish_reason == "incomplete" and response.reasoning == "ok"


def test_sse_cap_counts_a_line_fed_in_small_pieces() -> None:
    decoder = SSEDecoder(max_event=100_000)
    decoder.feed(b"data: ")
    with pytest.raises(ReplyTooLargeError):
        for _ in range(200):
            decoder.feed(b"x" * 1000)


def test_sse_cap_counts_multi_line_events() -> None:
    decoder = SSEDecoder(max_event=10_000)
    with pytest.raises(ReplyTooLargeError):
        for _ in range(100):
            decoder.feed(b"data: " + b"y" * 500 + b"\n")


def test_a_long_line_in_many_pieces_is_decoded_whole() -> None:
    decoder = SSEDecoder(max_event=16 * MB)
    line = b'data: {"response": "' + b"z" * (3 * MB) + b'"}\n\n'
    events = []
    for start in range(0, len(line), 1000):
        events += decoder.feed(line[start : start + 1000])
    assert len(events) == 1 and json.loads(events[0])["response"] == "z" * (3 * MB)
    assert len(decoder._buffer) == 0


# --- Runaway streams: stopped past what max_tokens allows, what arrived kept ------------------


def test_an_endless_stream_is_stopped_and_kept_as_incomplete(server) -> None:
    # The endless stream repeats every 256 tokens: the loop guard would rightly catch it too,
    # whichever check sees a large read first. Here the bound is what is tested.
    response, error = call(server, Fault(endless=True), max_tokens=200, on_loop="off")
    assert isinstance(error, ReplyTooLargeError) and "max_tokens 200" in str(error)
    assert response.finish_reason == "incomplete"
    assert response.reasoning.startswith(" thinking0 thinking1")
    # 200 tokens and slack, plus at most one network read's worth of events (64 KB)
    assert 200 < response.reasoning_chunks < 200 + 50 + 64 + 64 * 1024 // 20
    assert server.wait_for_disconnect(5)


def test_huge_chunks_are_stopped_by_the_character_bound(server) -> None:
    events = [json.dumps({"response": "w" * 4000}) for _ in range(50)]
    response, error = call(server, Fault(events=events), max_tokens=20)
    assert isinstance(error, ReplyTooLargeError) and response.finish_reason == "incomplete"
    assert len(response.reasoning) < 20 * CHARS_PER_TOKEN + 4096 + 64 * 1024


def test_decoder_bounds_follow_max_tokens() -> None:
    decoder = EventDecoder(10)
    for _ in range(10 + 2 + 64):
        decoder.feed('{"response": "x"}')
    assert decoder.runaway() is None  # slack: a few chunks over is not runaway
    for _ in range(10):
        decoder.feed('{"response": "x"}')
    assert isinstance(decoder.runaway(), ReplyTooLargeError)


def test_a_normal_long_reply_is_not_runaway(server) -> None:
    reasoning = " ".join(f"step{i}" for i in range(900))
    server.push(Reply(reasoning=reasoning, answer="done"))
    response = client_for(server, max_tokens=1000).complete(QUESTION)
    assert response.finish_reason == "stop" and response.answer == "done"
