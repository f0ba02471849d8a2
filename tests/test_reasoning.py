"""The reasoning splitter: QwQ's three shapes and tags split across chunks."""

from __future__ import annotations

import pytest

from qwq_jupyter.wire.reasoning import ReasoningSplitter


def split(pieces: list[str]) -> tuple[str, str]:
    splitter = ReasoningSplitter()
    parts = [part for piece in pieces for part in splitter.feed(piece)] + splitter.flush()
    reasoning = "".join(text for kind, text in parts if kind == "reasoning")
    answer = "".join(text for kind, text in parts if kind == "answer")
    return reasoning, answer


def every_split(text: str) -> list[list[str]]:
    return [[text[:i], text[i:j], text[j:]] for i in range(len(text)) for j in range(i, len(text))]


def test_missing_opening_tag_is_normal() -> None:
    assert split(["Let me add 2 and 2.\n</think>\n\nIt is 4."]) == (
        "Let me add 2 and 2.\n",
        "It is 4.",
    )


def test_echoed_opening_tag_is_dropped() -> None:
    assert split(["<think>\nHmm.\n</think>\n\n4"]) == ("\nHmm.\n", "4")


@pytest.mark.parametrize("text", ["<think>\nab</think>\n\ncd", "ab</think>cd"])
def test_tags_split_at_every_position(text: str) -> None:
    expected = split([text])
    for pieces in every_split(text):
        assert split(pieces) == expected, pieces


def test_one_character_at_a_time() -> None:
    text = "<think>\nthinking < and </thin but not yet</think>\n\nanswer </think> literal"
    assert split(list(text)) == (
        "\nthinking < and </thin but not yet",
        "answer </think> literal",
    )


def test_no_close_tag_stays_reasoning_until_flush() -> None:
    assert split(["still thinking when max_tokens ran out"]) == (
        "still thinking when max_tokens ran out",
        "",
    )


def test_partial_tag_at_end_is_released_on_flush() -> None:
    assert split(["thinking </thi"]) == ("thinking </thi", "")


def test_leading_whitespace_then_tag() -> None:
    assert split(["\n", " <th", "ink>x</think>y"]) == ("x", "y")


@pytest.mark.parametrize(
    ("pieces", "closed"),
    [
        (["no tag at all"], False),
        (["<think>\nopened only"], False),
        (["an answer with a literal </thi", "ng> in it"], False),
        (["thought</thi", "nk>answer"], True),
    ],
)
def test_saw_close_tag_says_whether_reasoning_ever_closed(pieces: list[str], closed: bool) -> None:
    # The decoder reads it at the end: unclosed text that stopped normally was the answer
    splitter = ReasoningSplitter()
    for piece in pieces:
        splitter.feed(piece)
    splitter.flush()
    assert splitter.saw_close_tag is closed
