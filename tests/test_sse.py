"""The SSE decoder: every framing rule of server-sent events (line endings, comments, [DONE])."""

from __future__ import annotations

import pytest

from qwq_jupyter.wire.sse import DONE, SSEDecoder

STREAM = 'data: {"response": "a"}\n\ndata: {"response": "b"}\n\ndata: [DONE]\n\n'


def decode_in_pieces(data: bytes, size: int) -> list[str]:
    decoder = SSEDecoder()
    events = []
    for start in range(0, len(data), size):
        events += decoder.feed(data[start : start + size])
    return events + decoder.close()


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_line_endings_and_chunk_boundaries(ending: str, size: int) -> None:
    data = STREAM.replace("\n", ending).encode()
    assert decode_in_pieces(data, size) == ['{"response": "a"}', '{"response": "b"}', DONE]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\n\r") == ["x"]
    assert decoder.feed(b"\ndata: y\r\n\r\n") == ["y"]


def test_utf8_split_across_chunks() -> None:
    data = 'data: {"response": "héllo 你好 🙂"}\n\n'.encode()
    assert decode_in_pieces(data, 1) == ['{"response": "héllo 你好 🙂"}']


def test_u2028_inside_json_is_not_a_line_break() -> None:
    payload = '{"response": "a\u2028b\u2029c\x85d"}'
    assert decode_in_pieces(f"data: {payload}\n\n".encode(), 5) == [payload]


def test_comments_and_other_fields_are_ignored() -> None:
    data = b": keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: x\n\n"
    assert decode_in_pieces(data, 4) == ["x"]


def test_bare_done_line() -> None:
    assert decode_in_pieces(b'data: {"a": 1}\n\n[DONE]\n\n', 3) == ['{"a": 1}', DONE]


def test_multi_line_data_joins_with_newline() -> None:
    assert decode_in_pieces(b"data: a\ndata: b\n\n", 1) == ["a\nb"]


def test_data_without_space_and_unterminated_last_event() -> None:
    assert decode_in_pieces(b"data:x\n\ndata: tail", 2) == ["x", "tail"]
