"""A document's text as docflow stores it: one UTF-8 file, its pages separated by form
feeds, each page normalised by one pure function whichever engine read it (pdfium, pypdf,
Tesseract); and Extraction, what the steps that write a text say about it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import IO

PAGE_SEPARATOR = "\f"  # as pdftotext separates pages

# Three or more single letters, each followed by one space: "e x p a n d a f t e r".
_LETTER_SPACED = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")


@dataclass(frozen=True)
class Extraction:
    """What a step that wrote a document's text says of it: extract and join of a PDF's,
    thumbnail of an image's. The document workflow carries it to analyze and record."""

    page_count: int | None  # None for an image
    word_count: int
    char_count: int
    pages_failed: int
    text_key: str
    # Pages not reached before the time ran out: the text holds them empty.
    pages_unread: int = 0
    # Pages read by OCR: no text layer (DOCFLOW_OCR=auto), or every page (force).
    ocr_pages: int = 0
    # The parts the ocr step reads the pages that need OCR in (docflow.ocr_parts); 0 when
    # no page needs it.
    ocr_parts: int = 0
    # Pages that needed OCR past DOCFLOW_MAX_OCR_PAGES: the text holds them empty.
    ocr_pages_over_limit: int = 0
    # The first page as a picture, as the thumbnail step makes one of an image:
    # {thumbnail_key, width, height}; None when it could not be rendered.
    preview: dict | None = None
    # Why only part of the document could be read, for people; None when all of it was.
    partial_reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def partial_reason(
    page_count: int | None, failed: int = 0, unread: int = 0, over_limit: int = 0, max_ocr_pages: int = 0
) -> str | None:
    """Why a text is partial, in a sentence or two for people; None when it is whole."""
    of = f" of {page_count:,}" if page_count is not None else ""
    reasons = []
    if failed:
        reasons.append(f"{_pages(failed)}{of} could not be read.")
    if unread:
        reasons.append(f"The time ran out with {_pages(unread)}{of} still to read.")
    if over_limit:
        reasons.append(
            f"OCR left {_pages(over_limit)} without a text layer unread: docflow reads at most "
            f"{_pages(max_ocr_pages)} of a document by OCR (DOCFLOW_MAX_OCR_PAGES)."
        )
    return " ".join(reasons) or None


def _pages(count: int) -> str:
    return f"{count:,} page" if count == 1 else f"{count:,} pages"


def iter_pages(stream: IO[str], chunk_chars: int = 1 << 16) -> Iterator[str]:
    """The pages of a text docflow stored, in order, read a chunk at a time: memory holds a
    page, not the text. A text of n pages has n - 1 separators; an empty text is one empty page."""
    pending = ""
    while chunk := stream.read(chunk_chars):
        *pages, pending = (pending + chunk).split(PAGE_SEPARATOR)
        yield from pages
    yield pending


# ---------------------------------------------------------------------------------------
# Text normalisation: one pure function, applied to every page whichever engine read it

# pdfium's marks for a hyphen it judged a line-end hyphenation (U+FFFE from the whole-page
# text, U+0002 from bounded text), and the soft hyphen proper.
_SOFT_HYPHEN = "[\ufffe\x02\u00ad]"
# A marked hyphen between two letters, with the line break pdfium may leave after it.
_HYPHEN_BETWEEN_LETTERS = re.compile(rf"(?<=([^\W\d_])){_SOFT_HYPHEN}([ \t]*(?:\n[ \t]*)?)(?=([^\W\d_]))")
_SOFT_HYPHEN_LEFT = re.compile(_SOFT_HYPHEN)
# Whitespace controls become line breaks (a form feed must not reach the text: it is the
# page separator); every other control, noncharacter or lone surrogate is dropped.
_BREAKING_CONTROLS = re.compile("[\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
_OTHER_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")
_LIGATURES = re.compile("[\ufb00-\ufb06]")  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ

# Spacing diacritics TeX sets beside a letter (the \accent primitive), with the combining
# mark each stands for. The ASCII grave is code as often as an accent ("`A", "\catcode`"),
# so it counts only between two letters ("H`an" -> "Hàn").
_SPACING_ACCENTS = {
    "\u00b4": "\u0301",  # ´ acute
    "`": "\u0300",  # ` grave
    "\u02cb": "\u0300",  # ˋ modifier grave
    "\u00a8": "\u0308",  # ¨ diaeresis
    "\u02c6": "\u0302",  # ˆ circumflex
    "\u02dc": "\u0303",  # ˜ tilde
    "\u00b8": "\u0327",  # ¸ cedilla
    "\u02c7": "\u030c",  # ˇ caron
    "\u02d8": "\u0306",  # ˘ breve
    "\u02da": "\u030a",  # ˚ ring
    "\u02dd": "\u030b",  # ˝ double acute
    "\u00af": "\u0304",  # ¯ macron
    "\u02c9": "\u0304",  # ˉ modifier macron
    "\u02d9": "\u0307",  # ˙ dot above
    "\u02db": "\u0328",  # ˛ ogonek
}
# Combining marks: those of the accents above and every other (" ̸=" is how pdfium may
# give "≠": the slash of a negated relation drawn over its symbol).
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_ACCENT = re.compile("[" + re.escape("".join(_SPACING_ACCENTS)) + _COMBINING + "]")
_ASCII_FORMS = {"\u02c6": "^", "\u02dc": "~"}
_BELOW = frozenset({"\u0327", "\u0328"})
_DOTLESS = {"\u0131": "i", "\u0237": "j"}  # ı ȷ: TeX's base for an accented i or j


def normalize_text(text: str) -> str:
    """A page's text as docflow stores it: line breaks as "\\n"; words hyphenated at a line
    end joined ("imple\\ufffementation" -> "implementation"; other marked hyphens stay
    hyphens); control characters dropped; ligatures expanded ("ﬁ" -> "fi", and only those
    code points: NFKC on the whole text would also rewrite superscripts, fractions and
    full-width forms); accents TeX placed beside their letter composed ("Jos´e" -> "José",
    "Dr¨oge" -> "Dröge", "Lo¨ıc" -> "Loïc", " ̸=" -> "≠"); then Unicode NFC. A page with
    text ends with one line break."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HYPHEN_BETWEEN_LETTERS.sub(_join_hyphenated, text)
    text = _SOFT_HYPHEN_LEFT.sub("-", text)
    text = _BREAKING_CONTROLS.sub("\n", text)
    text = _OTHER_CONTROLS.sub("", text)
    text = _LIGATURES.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)
    if _ACCENT.search(text):
        text = _compose_accents(text)
    text = unicodedata.normalize("NFC", text).rstrip()
    return text + "\n" if text else ""


def _join_hyphenated(match: re.Match) -> str:
    """A word cut at a line end is joined when both halves are in lower case ("imple" +
    "mentation"); otherwise the hyphen stays a hyphen ("NEN-normen", "sub-31")."""
    if match.group(1).islower() and match.group(3).islower():
        return ""
    return "-" + match.group(2)


def _compose_accents(text: str) -> str:
    """Moves each accent onto the letter it belongs to, as a combining mark.

    A spacing accent goes to the letter after it when the two make one precomposed
    character, else to the letter before it when those do (TeX draws an accent before its
    letter, but a cedilla, say, may come out after it), else to whichever neighbour is a
    letter, the next first ("r¯" -> "r̄"); an accent with no letter beside it is left as it
    is. A circumflex or tilde that composes with neither neighbour is no accent but the
    ASCII ^ or ~, which groff and TeX draw with those glyphs ("ˆX" -> "^X", a control key in
    a manual; "X˜]"). A combining mark already
    follows its base; one with no base before it (at the start, after a space) goes onto
    the character after it."""
    cells = list(text)  # one cell per character; a letter's cell gathers its marks
    for match in _ACCENT.finditer(text):
        index, character = match.start(), match.group()
        if cells[index] != character:
            continue  # an earlier accent's mark went onto this one: leave the pair alone
        if character not in _SPACING_ACCENTS:  # a combining mark
            if index and not cells[index - 1][:1].isspace():
                continue  # after its base already, as Unicode writes it
            if index + 1 < len(cells) and cells[index + 1][:1] and not cells[index + 1][:1].isspace():
                cells[index + 1] = _with_mark(cells[index + 1], character)
                cells[index] = ""
            continue
        before = index - 1 if index and cells[index - 1][:1].isalpha() else None
        after = index + 1 if index + 1 < len(cells) and cells[index + 1][:1].isalpha() else None
        if character == "`" and (before is None or after is None):
            continue
        mark = _SPACING_ACCENTS[character]
        candidates = [position for position in (after, before) if position is not None]
        target = next((position for position in candidates if _composes(cells[position], mark)), None)
        if target is None and character in _ASCII_FORMS:
            cells[index] = _ASCII_FORMS[character]
            continue
        if target is None:
            if not candidates:
                continue
            target = candidates[0]
        cells[target] = _with_mark(cells[target], mark)
        cells[index] = ""
    return "".join(cells)


def _with_mark(cell: str, mark: str) -> str:
    base = cell[:1]
    if base in _DOTLESS and mark not in _BELOW:
        base = _DOTLESS[base]
    return base + cell[1:] + mark


def _composes(cell: str, mark: str) -> bool:
    return len(unicodedata.normalize("NFC", _with_mark(cell, mark))) == 1


def join_letter_spacing(text: str) -> str:
    """Rejoins words pypdf split letter by letter. TeX sets code listings one glyph at a
    time, and pypdf reads each glyph's offset as a space: on the corpus this tripled the
    word count of such pages. A run of three or more lone letters is one word. Applied to
    the pages pypdf reads (the fallback); pdfium does not split them."""
    return _LETTER_SPACED.sub(lambda match: match.group().replace(" ", ""), text)
