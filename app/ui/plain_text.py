"""Report text made safe to put on screen: clipped, control characters made visible, never HTML.

Reports come from arbitrary workflows, so their text may hold markup, terminal escapes,
bidirectional overrides (which can make text read differently from what it is) or tens of
megabytes in one string. Everything the viewer shows in a single line goes through
`one_line`; tooltips go through `tooltip`, because Qt renders a tooltip as rich text
whenever it looks like HTML.
"""

from __future__ import annotations

import html
import re

LINE_CHARS = 300  # longest text shown in a table cell, tree row or label
TOOLTIP_CHARS = 2_000

# C0/C1 controls (tab and newline handled separately) and the Unicode bidirectional
# formatting characters: shown as visible codes so they neither act nor hide.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def _code(match: re.Match[str]) -> str:
    return f"⟨U+{ord(match.group()):04X}⟩"


def visible(text: str) -> str:
    """Control and bidi characters replaced by visible codes; newlines and tabs kept."""
    return _INVISIBLE.sub(_code, text)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, saying how long the whole text was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} chars)"


def one_line(text: str | None, limit: int = LINE_CHARS) -> str:
    """Text for a single-line place: clipped first (cheap on 10 MB), then made visible."""
    if not text:
        return ""
    shown = clip(text, limit)
    return visible(shown).replace("\r\n", "⏎").replace("\n", "⏎").replace("\t", "⇥")


def multi_line(text: str | None, limit: int, line_limit: int = 2_000) -> str:
    """Text for a plain-text editor: clipped overall and per line so layout stays fast."""
    if not text:
        return ""
    shown = clip(text, limit)
    lines = [clip(line, line_limit) for line in shown.split("\n")]
    return visible("\n".join(lines))


def tooltip(text: str | None, limit: int = TOOLTIP_CHARS) -> str:
    """A tooltip that shows report text literally: escaped HTML inside an explicit rich-text
    block (plain text that merely looks like HTML would otherwise be rendered)."""
    if not text:
        return ""
    escaped = html.escape(visible(clip(text, limit)))
    return f'<qt><p style="white-space:pre-wrap">{escaped}</p></qt>'
