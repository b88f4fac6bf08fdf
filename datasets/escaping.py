r"""Text from data files, made safe for what people read: terminals, Markdown documents, HTML pages.

Names in source files (subjects, sequences, actions, directory names) are data, and an archive can name
a folder anything: ``<script>``, ``<!--<script>``, an ESC sequence that recolours or clears a terminal.
Everything written for people passes such names through one of these helpers:

* ``terminal_text``: control characters (ESC, BEL, CR, ...) and invisible direction overrides become
  visible ``\x1b``-style escapes; newlines and tabs stay, so multi-line text keeps its shape;
* ``markdown_text``: for a name inside a Markdown document (a table cell, a list item): HTML's ``& < >``
  become entities and Markdown's inline punctuation is backslash-escaped, so Python-Markdown or markdown-it
  render the name as the characters it holds, never as markup; line breaks are escaped like control
  characters, so a name stays on its table row;
* ``html_text``: for a name in an HTML page's text or attribute;
* ``script_json``: JSON for an HTML ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` are
  written as ``\u003c``-style escapes, so no ``</script``, ``<script`` or ``<!--`` inside a string can end
  the block or put the HTML parser in its script-data escaped states; ``JSON.parse`` reads the same values.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

_INVISIBLE = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Left-to-right and right-to-left marks, embeddings, overrides and isolates: they reorder what follows."""
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
_LINE_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_text(text: object) -> str:
    r"""``str(text)`` with every control character but newline and tab written as a visible escape.

    ``"S1\x1b[2J"`` (ESC, which would clear the screen) becomes the nine characters ``S1\x1b[2J``.
    """
    return _TERMINAL_UNSAFE.sub(_visible, str(text))


def markdown_text(text: object) -> str:
    r"""``str(text)`` as literal text inside a Markdown document (no markup, no HTML, one line).

    ``"<script>a|b"`` becomes ``&lt;script&gt;a\|b``, which renders as ``<script>a|b`` and keeps a table's
    columns.
    """
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", _LINE_UNSAFE.sub(_visible, str(text)))
    return html.escape(escaped, quote=False)


def html_text(text: object) -> str:
    """``str(text)`` as literal text in HTML (element content or a quoted attribute value)."""
    return html.escape(str(text), quote=True)


def script_json(value: Any) -> str:
    """Compact JSON of ``value`` that is safe verbatim inside ``<script type="application/json">``.

    The characters replaced occur only inside JSON strings, where the escapes decode to the same text
    (``json.dumps`` already writes every non-ASCII character, U+2028 included, as an escape).
    """
    text = json.dumps(value, separators=(",", ":"))
    return re.sub("[<>&]", lambda match: _SCRIPT_UNSAFE[match.group()], text)
