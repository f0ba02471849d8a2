"""What makes HTML dangerous, checked with a real HTML parser (the standard library's).

Written independently of the package's sanitiser settings, so a too-wide allow-list there
fails here.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import unquote

SCRIPT_CAPABLE = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style", "meta",
    "base", "form", "input", "button", "textarea", "select", "svg", "math", "link", "img",
    "video", "audio", "source", "track", "template", "noscript", "xmp", "plaintext",
    "isindex", "marquee", "portal", "body", "html", "head", "title",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "poster", "data"}
SAFE_SCHEMES = {"http", "https", "mailto"}


def _scheme(url: str) -> str | None:
    decoded = html.unescape(unquote(url))
    decoded = re.sub(r"[\x00-\x20\x7f-\x9f]", "", decoded).lower()
    match = re.match(r"([a-z][a-z0-9+.\-]*):", decoded)
    return match.group(1) if match else None


# TeX that makes a link, sets a class, style or id, loads an extension or defines a macro.
UNSAFE_TEX = re.compile(
    r"\\\s*(href|url|class|cssId|style|require|unicode|mmlToken|html[A-Za-z]*|data|toggle"
    r"|mathtip|texttip|bbox|csname|def|let|newcommand|renewcommand)(?![A-Za-z])|\^\^"
)
_PROCESS = {"tex2jax_process", "mathjax_process"}


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._math_depth = 0  # inside an element MathJax is told to typeset
        self._stack: list[bool] = []

    def handle_endtag(self, tag: str) -> None:
        if self._stack:
            self._math_depth -= self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._math_depth and UNSAFE_TEX.search(data):
            self.problems.append(f"TeX for MathJax holds {UNSAFE_TEX.search(data).group()!r}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = set((dict(attrs).get("class") or "").split())
        typeset = bool(classes & _PROCESS)
        if typeset and not (tag == "span" and "qwq-math" in classes):
            self.problems.append(f"<{tag}> told to typeset, not one of our math spans")
        if tag not in _VOID:
            self._stack.append(typeset)
            self._math_depth += typeset
        if tag in SCRIPT_CAPABLE:
            self.problems.append(f"element <{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event attribute {name} on <{tag}>")
            if name in URL_ATTRIBUTES:
                scheme = _scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{scheme}: URL in {name} of <{tag}>")
            if name == "style" and re.search(r"url\(|expression|@import|javascript", value, re.I):
                self.problems.append(f"style {value!r} on <{tag}>")
            if name == "srcdoc":
                self.problems.append(f"srcdoc on <{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)  # <x/> opens and closes at once


_VOID = {"br", "hr", "img", "input", "meta", "link", "base", "source", "track", "wbr", "area"}


def dangers(fragment: str) -> list[str]:
    """Each element, attribute or URL in `fragment` that could run script or load a page, and
    any text handed to MathJax that holds TeX able to make a link or load code."""
    finder = _Finder()
    finder.feed(fragment)
    finder.close()
    return finder.problems
