"""User text (ids, labels, titles, file names) made harmless for the files exports write.
Generated Python never interpolates text: it uses ascii() literals (see export_python)."""
from __future__ import annotations

import re
from urllib.parse import unquote

# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Characters a zip member name cannot keep (NUL ends it; "/" and "\" are folders to some
# tools; "%" is the escape itself) and lone surrogates, which have no UTF-8 form.
_NPZ_UNSAFE = re.compile(r"[\x00-\x1f\x7f%/\\\ud800-\udfff]")

# Characters XML 1.0 does not allow anywhere, not even as &#...; references.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def csv_cell(text: str) -> str:
    """A text cell that a spreadsheet shows as text, never runs."""
    return "'" + text if text.startswith(FORMULA_START) else text


def npz_key_part(ident: str) -> str:
    """An id as it can stand in an npz member name; npz_ident reverses it."""
    return _NPZ_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in
                                              m.group().encode("utf-8", "surrogatepass")), ident)


def npz_ident(part: str) -> str:
    return unquote(part, errors="surrogatepass")


def xml_text(text: str) -> str:
    """Text with the characters XML 1.0 forbids removed."""
    return _XML_INVALID.sub("", text)
