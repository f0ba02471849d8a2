"""Control characters in untrusted text, made visible and inert.

Model text, reasoning and server error bodies can carry terminal control sequences: OSC 52
writes the clipboard, `ESC c` resets the terminal, `ESC [?1049h` switches screens, OSC 8 makes
links, a lone `\\r` overwrites what was printed, DCS queries make the terminal answer. Jupyter's
stream renderer interprets SGR colours too. So every piece of untrusted text passes through
`printable()` before it reaches a terminal or a stream output: each control character becomes a
visible stand-in (ESC shows as `␛`), which the terminal prints and never obeys. Only the
extension's own styling, added afterwards, is real escape codes.
"""

from __future__ import annotations

import re

__all__ = ["printable"]


def _stand_in(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode's control pictures: ␀ … ␟, ␛ for ESC
    if code == 0x7F:
        return "␡"
    return f"⟨U+{code:04X}⟩"  # C1 controls and bidi overrides have no picture of their own


# C0 controls except \t and \n, DEL, C1 controls, and the bidirectional overrides and isolates
# that can make text read differently from what it is ("Trojan Source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TABLE = {code: _stand_in(code) for code in [*range(0x20), *range(0x7F, 0xA0)]}
_TABLE.update({code: _stand_in(code) for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})
del _TABLE[0x09], _TABLE[0x0A]


def printable(text: str) -> str:
    """`text` with every control character shown, not obeyed; `\\r\\n` becomes `\\n`."""
    if _CONTROL.search(text) is None:
        return text  # the common case costs one scan
    return text.replace("\r\n", "\n").translate(_TABLE)
