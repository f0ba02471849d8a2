"""Hostile model text: answers, reasoning, notes and tool names that try to run script.

Every payload, if it ever ran, would push its number onto `window.qwqPwned`, so the browser test
can tell which one got through. The corpus covers raw tags and event attributes, breakouts of the
extension's own markup, code-fence tricks on which Markdown parsers disagree, link schemes
spelled every way, MathJax macros that make links, and text that only turns hostile when turns
are joined.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANSWERS", "CORPUS", "REASONING", "TOOL_NAMES", "Hostile", "mark"]


@dataclass(frozen=True)
class Hostile:
    number: int
    kind: str  # answer, reasoning, note, tool, turns
    text: str


def mark(number: int) -> str:
    """The JavaScript a payload would run: it records that it ran."""
    return f"(self.qwqPwned=self.qwqPwned||[]).push({number})"


def _payloads() -> list[tuple[str, str]]:
    js = "{js}"  # filled in per entry with mark(number)
    tags = [
        f"<script>{js}</script>",
        f"<img src=x onerror={js}>",
        f'<img src="x" onerror="{js}">',
        f"<svg onload={js}></svg>",
        f"<svg><script>{js}</script></svg>",
        f"<iframe src=javascript:{js}></iframe>",
        f'<iframe srcdoc="<script>parent.{js}</script>"></iframe>',
        f"<object data=javascript:{js}></object>",
        f"<embed src=javascript:{js}>",
        f"<style>@import 'javascript:{js}';</style><b>styled</b>",
        f'<meta http-equiv="refresh" content="0;url=javascript:{js}">',
        '<base href="javascript:/">',
        f"<form action=javascript:{js}><button>go</button></form>",
        f"<input autofocus onfocus={js}>",
        f"<details open ontoggle={js}><summary>x</summary></details>",
        f"<video><source onerror={js}></video>",
        f"<audio src=x onerror={js}></audio>",
        f"<body onload={js}>",
        f"<marquee onstart={js}>m</marquee>",
        f'<math><a href="javascript:{js}">m</a></math>',
        f'<a href="javascript:{js}">raw anchor</a>',
        f"<textarea></textarea><img src=x onerror={js}>",
        f"<title></title><img src=x onerror={js}>",
        f'<noscript><p title="</noscript><img src=x onerror={js}>"></noscript>',
        f"<template><img src=x onerror={js}></template>",
        f"<xmp><img src=x onerror={js}></xmp>",
        f"<div style=\"background:url('javascript:{js}')\">bg</div>",
        f"<p onmouseover={js}>hover</p>",
        f"<img src=x onerror\n={js}>",
        f"<IMG SRC=x OnErRoR={js}>",
        f"<img/src=x/onerror={js}>",
        f"<<img src=x onerror={js}>>",
        f"<svg><animate onbegin={js} attributeName=x dur=1s>",
        f"<link rel=stylesheet href=javascript:{js}>",
        f"<isindex action=javascript:{js} type=image>",
    ]
    breakouts = [
        f"</details><img src=x onerror={js}>",
        f"</pre><img src=x onerror={js}>",
        f"</summary><img src=x onerror={js}>",
        f"</div></div><img src=x onerror={js}>",
        f"</code></pre><script>{js}</script>",
        f"--><img src=x onerror={js}>",
        f"<!--<img src=x onerror={js}>-->",
        f"]]><img src=x onerror={js}>",
        f"</span><img src=x onerror={js}>",
        f"</sub></td></tr></table><img src=x onerror={js}>",
    ]
    fences = [
        f"```x`\n<img src=x onerror={js}>",
        f"```\ncode\n```js\n<img src=x onerror={js}>",
        f"~~~\ncode\n~~~py\n<img src=x onerror={js}>",
        f"```\nunclosed <img src=x onerror={js}>",
        f"unclosed ```\n<img src=x onerror={js}>",
        f"    indented\n<img src=x onerror={js}>",
        f"`` a ` <img src=x onerror={js}> ``",
        f"\\`<img src=x onerror={js}>`",
        f"~~~~\n~~~\n<img src=x onerror={js}>",
        f"> ```\n<img src=x onerror={js}>",
        f"- ```\n  code\n- <img src=x onerror={js}>",
        f"```html\n<script>{js}</script>\n```",
    ]
    links = [
        f"[click](javascript:{js})",
        f"[click]( javascript:{js})",
        f"[click](JAVASCRIPT:{js})",
        f"[click](jav&#x61;script:{js})",
        f"[click](javascript&colon;{js})",
        f"[click](&#106;avascript:{js})",
        f"[click](java&#9;script:{js})",
        f"[click](%6Aavascript:{js})",
        f"[click](<javascript:{js}>)",
        f"[r]\n\n[r]: javascript:{js}",
        f'[x][r]\n\n[r]: javascript:{js} "title"',
        f"<javascript:{js}>",
        "[click](vbscript:msgbox(1))",
        f"[click](data:text/html,<script>{js}</script>)",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        f"![img](javascript:{js})",
        "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
        f'![x](https://example.invalid/x.png "onerror={js}")',
        f'[x](https://example.invalid "\\" onmouseover=\\"{js}")',
        f'<https://example.invalid/" onmouseover="{js}>',
        f"[click](livescript:{js})",
        "[file](file:///etc/passwd)",
        f"[click](javascript://%0A{js})",
        f"[click](\\javascript:{js})",
        f"[a](javascript:{js} 'title')",
    ]
    math = [
        f"$\\href{{javascript:{js}}}{{click}}$",
        f"\\(\\href{{javascript:{js}}}{{click}}\\)",
        f"$$\n\\url{{javascript:{js}}}\n$$",
        f"\\boxed{{\\href{{javascript:{js}}}{{391}}}}",
        "$\\class{x}{y}$",
        "$\\require{html}\\htmlData{a=b}{x}$",
        f"$<img src=x onerror={js}>$",
        f"$\\unicode{{<img src=x onerror={js}>}}$",
        f"\\[ </span><img src=x onerror={js}> \\]",
        f"$$ </div><script>{js}</script> $$",
        f"$\\style{{background:url(javascript:{js})}}{{x}}$",
        f"\\(\\cssId{{x}}{{y}}\\) and <img src=x onerror={js}>",
    ]
    entities = [
        f"&lt;img src=x onerror={js}&gt;",
        f"&#60;img src=x onerror={js}&#62;",
        f"&amp;lt;script&amp;gt;{js}&amp;lt;/script&amp;gt;",
        f"＜script＞{js}＜/script＞",
        f"\u202e<img src=x onerror={js}>",
        f"\x1b]8;;javascript:{js}\x07link\x1b]8;;\x07",
        f"| a | b |\n|---|---|\n| <img src=x onerror={js}> | x |",
        f"# <img src=x onerror={js}>",
        f"> <script>{js}</script>",
        f"1. <svg onload={js}>",
        f"**<img src=x onerror={js}>**",
        f"<scr<script>ipt>{js}</script>",
    ]
    return [
        *[("tag", p) for p in tags],
        *[("breakout", p) for p in breakouts],
        *[("fence", p) for p in fences],
        *[("link", p) for p in links],
        *[("math", p) for p in math],
        *[("entity", p) for p in entities],
    ]


def _build() -> list[Hostile]:
    corpus = []
    for number, (_family, template) in enumerate(_payloads(), 1):
        text = template.replace("{js}", mark(number))
        corpus.append(Hostile(number, "answer", text))
    # The same payloads as reasoning, a note and a tool name: a sample of each family.
    base = len(corpus)
    for offset, entry in enumerate(corpus[::4]):
        corpus.append(
            Hostile(
                base + offset + 1,
                "reasoning",
                entry.text.replace(mark(entry.number), mark(base + offset + 1)),
            )
        )
    return corpus


CORPUS = _build()
ANSWERS = [entry for entry in CORPUS if entry.kind == "answer"]
REASONING = [entry for entry in CORPUS if entry.kind == "reasoning"]
TOOL_NAMES = [
    f"<img src=x onerror={mark(900)}>",
    f"`](javascript:{mark(901)})",
    f"</b><script>{mark(902)}</script>",
]
