"""Untrusted text (file names, DICOM fields, library messages) made safe to show.

A POSIX file name is bytes: Python hands bytes that are not UTF-8 over as lone
surrogates (PEP 383), which no UTF-8 file or terminal can take, and a name may
hold a newline that would split a one-line-per-file output. Every path that
PneumoScan prints or exports goes through :func:`display_path`, which keeps
it on one line and reversible:

* a byte that is not UTF-8 -> ``\\xHH`` (the byte, 80-ff);
* an ASCII control character (00-1f, 7f) -> ``\\xHH``;
* other control, line/paragraph separator and bidirectional-override
  characters -> ``\\uXXXX``;
* a backslash -> ``\\\\`` (paths only, on POSIX), so the escape can be undone.

Everything else (letters of any script, spaces, also a trailing space) is
kept as it is. :func:`escape_text` does the same for other text, leaving
backslashes alone. :func:`error_line` and :func:`warning_line` make the one-line
``pneumo: error: ...`` and ``pneumo: warning: ...`` messages of standard error.
"""

from __future__ import annotations

import os
from pathlib import PurePath

_BIDI = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
_ESCAPE_BACKSLASH = os.sep == "/"


def escape_text(text: str, *, backslash: bool = False) -> str:
    """``text`` with no line break, control character or unencodable surrogate.

    ``backslash=True`` also doubles backslashes (what :func:`display_path`
    does), making the escape reversible.
    """
    if text.isprintable() and not (backslash and "\\" in text):
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0x80 <= code < 0xA0 or 0xD800 <= code <= 0xDFFF or code in (0x2028, 0x2029) \
                or code in _BIDI:
            out.append(f"\\u{code:04x}")
        elif ch == "\\" and backslash:
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


def display_path(path: str | PurePath) -> str:
    """The one printable, single-line form of a path used in every output."""
    return escape_text(os.fspath(path), backslash=_ESCAPE_BACKSLASH)


def unescape_path(text: str) -> str:
    """Inverse of :func:`display_path` (on POSIX): the path as Python names it."""
    if "\\" not in text or not _ESCAPE_BACKSLASH:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 >= len(text):
            out.append(ch)
            i += 1
        elif text[i + 1] == "\\":
            out.append("\\")
            i += 2
        elif text[i + 1] == "x":
            code = int(text[i + 2 : i + 4], 16)
            out.append(chr(0xDC00 + code) if code >= 0x80 else chr(code))
            i += 4
        else:  # "u"
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
    return "".join(out)


WARNING_PREFIX = "pneumo: warning: "
"""How every warning line on standard error starts."""


def warning_line(message: str, path: str | PurePath | None = None) -> str:
    """``pneumo: warning: [PATH: ]message`` on one line: the path as
    :func:`display_path` writes it, the message's whitespace collapsed and its
    untrusted characters escaped."""
    where = "" if path is None else f"{display_path(path)}: "
    return f"{WARNING_PREFIX}{where}{escape_text(' '.join(message.split()))}"


def error_line(message: str) -> str:
    """``pneumo: error: message`` on one line (as :func:`warning_line`)."""
    return f"pneumo: error: {escape_text(' '.join(message.split()))}"
