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


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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

    handle_startendtag = handle_starttag


def dangers(fragment: str) -> list[str]:
    """Each element, attribute or URL in `fragment` that could run script or load a page."""
    finder = _Finder()
    finder.feed(fragment)
    finder.close()
    return finder.problems
