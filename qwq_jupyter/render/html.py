"""Untrusted text to HTML that cannot run script: the one renderer of every output.

Model answers, reasoning, server error text and tool calls are written by someone else, and
Jupyter renders the outputs of a live session as trusted: whatever HTML reaches the page is
put into the DOM unsanitised. So this module decides what the browser gets, structurally:

- **A real CommonMark parser, raw HTML off.** markdown-it-py is a port of markdown-it, passes
  the CommonMark spec tests, and is what MyST and rich build on. With `html` disabled every
  `<` of the text is text; HTML is written only by the parser's renderer, from its tokens. So
  what is code and what is prose is decided by a parser, never guessed by a regex.
- **Links: an allow-list of schemes**, checked after entities, percent-escapes, whitespace and
  control characters are decoded or removed (`jav&#x61;script:`, `javascript&colon;`,
  `java\\tscript:` all end up as "javascript"): http, https, mailto and relative URLs only. A
  link that fails is shown as its text.
- **Images become links.** A remote image is a request made without a click; an answer that a
  poisoned prompt steered could put the conversation into an image's URL. QwQ writes text only.
- **Math is kept for MathJax**, in marked spans: `$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]` and a
  bare `\\boxed{…}`. Everything else sits in a container MathJax ignores (MathJax 2's
  `tex2jax_ignore` for nbconvert's HTML, MathJax 3's `mathjax_ignore` for JupyterLab), so a
  dollar amount the extension writes, or a `$` in code, is never typeset. TeX that could make a
  link or load code (`\\href`, `\\url`, `\\class`, `\\require`, …) is shown as source instead:
  JupyterLab's MathJax 3 and nbconvert's default MathJax 2 load MathJax's own "safe" filter,
  but a custom MathJax URL or another frontend may not, and this does not depend on them.
- **nh3 (Rust's ammonia) over the result**, as defence in depth: an allow-list of tags,
  attributes, classes, style properties and URL schemes. If the parser or our own chrome ever
  let something through, it still could not carry script.

Outputs are `text/html` plus `text/plain`. `text/markdown` would be parsed again by each
frontend's own Markdown parser (marked in JupyterLab, mistune in nbconvert, GitHub's own), and
safety would depend on them agreeing with ours; HTML is rendered as written everywhere
(JupyterLab, Notebook 7, VS Code, nbconvert, GitHub), and untrusted notebooks sanitise it once
more.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..core.printable import printable

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.rules_inline import StateInline
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "IGNORE_MATH",
    "allowed_url",
    "block",
    "document",
    "escape",
    "markdown",
    "preformatted",
    "sanitize",
]

#: Classes that keep MathJax 2 (nbconvert) and MathJax 3 (JupyterLab) out of an element.
IGNORE_MATH = "tex2jax_ignore mathjax_ignore"
_PROCESS_MATH = "tex2jax_process mathjax_process"
#: Characters of Markdown parsed at most; a longer text is shown as written.
MARKDOWN_LIMIT = 150_000
_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
# TeX that makes links, sets classes, styles or ids, defines macros or loads extensions: shown
# as source, whatever MathJax filter the frontend does or does not load.
_UNSAFE_TEX = re.compile(
    r"\\\s*(?:href|url|class|cssId|style|require|unicode|mmlToken|html\w*|data|toggle"
    r"|mathtip|texttip|bbox|csname|def|let|newcommand|renewcommand)(?![a-zA-Z])|\^\^"
)


def allowed_url(url: str) -> bool:
    """Whether a link target is http(s), mailto or relative, however it is spelled."""
    decoded = url
    for _ in range(3):  # entities inside percent-escapes inside entities: decode to a fixpoint
        step = html.unescape(unquote(decoded))
        if step == decoded:
            break
        decoded = step
    candidate = _INVISIBLE.sub("", decoded).lower()
    scheme = _SCHEME.match(candidate)
    if scheme is None:
        # No scheme: relative. A ':' after '/', '?' or '#' belongs to the path or query.
        return ":" not in candidate.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return scheme.group(1) in _SCHEMES


def escape(text: str) -> str:
    """Text for HTML: escaped, and its control characters made visible."""
    return html.escape(printable(text), quote=True)


def markdown(text: str, *, math: bool = True) -> str:
    """Untrusted Markdown as a safe HTML fragment; `math=False` for text with dollar amounts.

    Past `MARKDOWN_LIMIT` characters the text is shown as written instead: parsing is linear
    but slow on pathological input (about 10 µs a character for a megabyte of `[![`), and no
    real answer is that long (max_tokens 24,000 is about 100,000 characters).
    """
    if len(text) > MARKDOWN_LIMIT:
        note = f"(longer than {MARKDOWN_LIMIT:,} characters: shown as plain text)"
        return f"<p><i>{note}</i></p>{preformatted(text)}"
    parser = _parser(math)
    return sanitize(parser.render(printable(text)))


def preformatted(text: str, *, css_class: str = "qwq-pre") -> str:
    """Text shown exactly as written (reasoning, JSON), wrapped, never parsed."""
    return f'<pre class="{css_class}" style="white-space: pre-wrap">{escape(text)}</pre>'


def block(content_html: str, css_class: str, style: str = "") -> str:
    """One independent piece of an output: its own element, so it cannot change another."""
    styled = f' style="{style}"' if style else ""
    return f'<div class="{css_class}"{styled}>{content_html}</div>'


def document(blocks: Sequence[str]) -> str:
    """Pieces rendered one by one, put together and sanitised once more as a whole."""
    inner = "\n".join(piece for piece in blocks if piece)
    return sanitize(f'<div class="qwq-output {IGNORE_MATH}">{inner}</div>')


# --- the sanitiser ------------------------------------------------------------------------

_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_CLASSES = {
    "qwq-output", "qwq-note", "qwq-steering", "qwq-meter", "qwq-reasoning", "qwq-answer",
    "qwq-tool", "qwq-notice", "qwq-footer", "qwq-pre", "qwq-math", "qwq-turn", "qwq-grid",
    "qwq-run", "qwq-table", "qwq-status", "qwq-anatomy", "qwq-preview", "qwq-live",
    *IGNORE_MATH.split(), *_PROCESS_MATH.split(),
}  # fmt: skip
# Properties the chrome uses and Markdown tables align with (and the anatomy strip's colours);
# none of them can load a URL.
_STYLES = {
    "text-align", "white-space", "opacity", "font-size", "font-weight", "font-style",
    "display", "flex", "flex-wrap", "gap", "min-width", "max-width", "overflow-wrap",
    "word-break", "margin", "margin-top", "margin-bottom", "padding", "vertical-align",
    "width", "max-height", "overflow", "border-left", "padding-left",
    "background-color", "height", "color",
}  # fmt: skip


def sanitize(fragment: str) -> str:
    """nh3's allow-list: only the tags, attributes, classes and URL schemes we write."""
    import nh3

    classes = {tag: _CLASSES for tag in ("div", "span", "pre", "details", "table", "sub", "p")}
    return str(
        nh3.clean(
            fragment,
            tags=_TAGS,
            attributes={
                "a": {"href", "title"},
                "ol": {"start"},
                "td": {"style"},
                "th": {"style"},
                "div": {"style"},
                "span": {"style", "title"},
                "pre": {"style"},
                "sub": {"style"},
            },
            allowed_classes=classes,
            url_schemes=set(_SCHEMES),
            link_rel="noopener noreferrer nofollow",
            filter_style_properties=_STYLES,
            strip_comments=True,
        )
    )


# --- the Markdown parser -------------------------------------------------------------------


@cache
def _parser(math: bool) -> MarkdownIt:
    """CommonMark with GFM tables and strikethrough, raw HTML off, our link and math rules."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.validateLink = allowed_url  # type: ignore[method-assign]
    parser.add_render_rule("image", _image_as_link)
    parser.add_render_rule("fence", _code_block)
    parser.add_render_rule("code_block", _code_block)
    if math:
        _add_math(parser)
    return parser


def _image_as_link(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    alt = renderer.renderInlineAsText(token.children or [], options, env) or "image"
    source = str(token.attrGet("src") or "")
    # markdown-it checked the URL already; checking again costs nothing and guards a change.
    if not allowed_url(source):
        return escape(f"[image: {alt}]")
    return f'<a href="{html.escape(source)}">🖼 {escape(alt)}</a>'


def _code_block(
    renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    """Code as `<pre><code>`: the language class is left out (it is the model's text)."""
    return f"<pre><code>{html.escape(tokens[index].content)}</code></pre>\n"


def _add_math(parser: MarkdownIt) -> None:
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # allow_digits=False: "$5 and $10" stays money, as it does for a reader.
    dollarmath_plugin(parser, allow_digits=False, allow_space=False, double_inline=True)
    parser.inline.ruler.before("escape", "bracket_math", _bracket_math)
    parser.inline.ruler.before("escape", "boxed_math", _boxed_math)
    for name, display in (
        ("math_inline", False),
        ("math_inline_double", True),
        ("math_block", True),
        ("math_block_label", True),
    ):
        parser.add_render_rule(name, _math_renderer(display))


def _math_renderer(display: bool) -> Any:
    def render(
        renderer: RendererHTML,
        tokens: Sequence[Token],
        index: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        return math_html(tokens[index].content, display=display)

    return render


def math_html(tex: str, *, display: bool) -> str:
    """A span MathJax typesets, delimited with `\\(…\\)` or `\\[…\\]` whatever the source used."""
    opening, closing = (r"\[", r"\]") if display else (r"\(", r"\)")
    source = f"{opening}{tex.strip()}{closing}"
    if _UNSAFE_TEX.search(tex):
        return f"<code>{escape(source)}</code>"
    return f'<span class="qwq-math {_PROCESS_MATH}">{escape(source)}</span>'


class _MathIndex:
    """Where each `{` closes and where each `\\)` / `\\]` stands, in one inline source.

    Built once per source in linear time, so an answer full of unclosed `\\boxed{` or `\\(`
    (a million characters is what a server may send) costs one pass, not one scan per opener.
    """

    def __init__(self, source: str) -> None:
        self.closing_brace: dict[int, int] = {}
        opened: list[int] = []
        for brace in _BRACES.finditer(source):
            if brace.group() == "{":
                opened.append(brace.start())
            elif opened:
                self.closing_brace[opened.pop()] = brace.start()
        self.closers = {
            closer: [m.start() for m in re.finditer(re.escape(closer), source)]
            for closer in (r"\)", r"\]")
        }

    def next_closer(self, closer: str, start: int) -> int:
        """The first `closer` at or after `start`, or -1."""
        positions = self.closers[closer]
        index = bisect_left(positions, start)
        return positions[index] if index < len(positions) else -1


_BRACES = re.compile("[{}]")


def _index(state: StateInline) -> _MathIndex:
    cache: dict[str, _MathIndex] = state.env.setdefault("qwq_math_index", {})
    index = cache.get(state.src)
    if index is None:
        index = cache[state.src] = _MathIndex(state.src)
    return index


def _bracket_math(state: StateInline, silent: bool) -> bool:
    r"""`\(…\)` and `\[…\]`, which CommonMark would otherwise read as escaped brackets."""
    source, start = state.src, state.pos
    if source[start] != "\\" or start + 1 >= state.posMax or source[start + 1] not in "([":
        return False
    display = source[start + 1] == "["
    closing = r"\]" if display else r"\)"
    end = _index(state).next_closer(closing, start + 2)
    if end < 0 or end + 2 > state.posMax or not source[start + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline_double" if display else "math_inline", "math", 0)
        token.content = source[start + 2 : end]
        token.markup = source[start : start + 2]
    state.pos = end + 2
    return True


def _boxed_math(state: StateInline, silent: bool) -> bool:
    r"""A bare `\boxed{…}` (QwQ's final-answer habit) typesets as math too."""
    source, start = state.src, state.pos
    if not source.startswith("\\boxed{", start):
        return False
    end = _index(state).closing_brace.get(start + len("\\boxed"), -1)
    if end < 0 or end >= state.posMax:
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = source[start : end + 1]
    state.pos = end + 1
    return True
