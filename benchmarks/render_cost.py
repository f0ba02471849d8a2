"""What rendering costs: the final output of a long answer, and of hostile ones as large as
a server may send (max_tokens 16,000 × 64 characters). Past `MARKDOWN_LIMIT` characters an
answer is shown as written, not parsed. Prints seconds; not a test.

    python benchmarks/render_cost.py
"""

from __future__ import annotations

import time

from qwq_jupyter.core.events import Response
from qwq_jupyter.render.html import MARKDOWN_LIMIT
from qwq_jupyter.render.render import render_html

SIZE = 16_000 * 64
CASES = {
    "a 16,000-token answer (prose, lists, code, math)": (
        "Let $x = 17 \\times 23$. Then **x = 391**, see [docs](https://example.com).\n\n"
        "- one\n- two\n\n```python\nprint(391)\n```\n\n"
    )
    * 400,
    "1 MB of unclosed \\boxed{": "\\boxed{" * (SIZE // 7),
    "1 MB of unclosed \\(": "\\(" * (SIZE // 2),
    "1 MB of unclosed $": "$a " * (SIZE // 3),
    "1 MB of [ and ![": "[![" * (SIZE // 3),
    "[ and ![ up to the Markdown limit": "[![" * (MARKDOWN_LIMIT // 3),
    "unclosed \\boxed{ up to the Markdown limit": "\\boxed{" * (MARKDOWN_LIMIT // 7),
    "1 MB of raw HTML tags": "<img src=x onerror=alert(1)>" * (SIZE // 28),
    "1 MB of reasoning": "Wait, let me check that again. " * (SIZE // 31),
}


def main() -> None:
    for name, text in CASES.items():
        reasoning = text if "reasoning" in name else "r"
        answer = "ok" if "reasoning" in name else text
        response = Response(answer=answer, reasoning=reasoning, finish_reason="stop")
        started = time.perf_counter()
        html = render_html(response)
        seconds = time.perf_counter() - started
        print(f"{name:<50} {len(text):>9,} chars -> {len(html):>10,} B HTML in {seconds:.2f} s")


if __name__ == "__main__":
    main()
