"""Rules for the text columns: Annotation / Summary (HTML), Short Description (plain), Keywords. Pure.

HTML is cleaned by nh3 (the Rust html5ever parser and the ammonia sanitiser), not by regular expressions:
what leaves here is balanced and holds only the tags allowed, without attributes. Which tags: Ingram's
"HTML markup and special characters" lists the tags it recommends for book descriptions (ANNOTATION_TAGS);
LSI's glossary asks for none, so the plain-text columns hold none and a publisher may narrow the list
(lsi.annotation_tags). A block tag that is removed leaves a separator, so that no two words or sentences run
together: a list item's end becomes "; ", any other block end a space (a <div> or heading becomes a <p>
where <p> is allowed).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Iterable

import nh3

from .values import clean, split

# HTML markup and special characters (Ingram Marketing Insights): the tags it lists for descriptions.
ANNOTATION_TAGS = ("p", "br", "b", "strong", "i", "em", "u", "sub", "sup", "ul", "ol", "li", "cite", "dl", "dt", "dd")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPHS = re.compile(r"\n\s*\n")
_BLOCK = re.compile(r"<(/?)(div|h[1-6]|section|article|header|footer|blockquote|pre|figure|figcaption|address|aside|"
                    r"nav|main|table|thead|tbody|tr|td|th|ul|ol|li|dl|dt|dd|p|br|hr)\b[^>]*>", re.IGNORECASE)
_ITEMS = ("li", "dt", "dd", "td", "th")
BLOCK_MARK, ITEM_MARK = "\x1e", "\x1f"  # stand where a removed block or list item ended, until joined
_MARKS = re.compile(f"[\\s{BLOCK_MARK}{ITEM_MARK}]*[{BLOCK_MARK}{ITEM_MARK}][\\s{BLOCK_MARK}{ITEM_MARK}]*")
_LEADING = re.compile(f"(^|<[a-z][^>]*>)[\\s{BLOCK_MARK}{ITEM_MARK}]*[{BLOCK_MARK}{ITEM_MARK}][\\s{BLOCK_MARK}{ITEM_MARK}]*")
_TRAILING = re.compile(f"[\\s{BLOCK_MARK}{ITEM_MARK}]*[{BLOCK_MARK}{ITEM_MARK}][\\s{BLOCK_MARK}{ITEM_MARK}]*(</|$)")
_EMPTY_P = re.compile(r"<p>\s*</p>")


@dataclass(frozen=True)
class Fitted:
    """Text within a limit, and what was left out to fit (empty: nothing)."""

    text: str
    left_out: str = ""


def keyword_list(value: Any) -> list[str]:
    """Keywords are separated by ';' (or are list items): a comma belongs to its keyword ("Smith, John").
    Whitespace, newlines included, is folded to single spaces; a repeated keyword is kept once."""
    words: dict[str, str] = {}
    for word in split(value, ";"):
        word = " ".join(plain_text(word).split())
        if word:
            words.setdefault(word.lower(), word)
    return list(words.values())


def join_keywords(words: list[str], limit: int) -> Fitted:
    """Keywords joined with '; ', whole keywords only, within limit characters; the ones left out named."""
    joined, kept = "", 0
    for word in words:
        candidate = f"{joined}; {word}" if joined else word
        if len(candidate) > limit:
            break
        joined, kept = candidate, kept + 1
    rest = words[kept:]
    return Fitted(joined, f"{len(rest)} keyword(s): {'; '.join(rest)}" if rest else "")


def _separate(text: str, tags: Iterable[str]) -> str:
    """Block tags that will be removed replaced by separator marks (or by <p> where <p> is kept)."""
    kept = set(tags)

    def replace(found: re.Match[str]) -> str:
        tag = found[2].lower()
        if tag in kept:
            return found[0]
        if tag in _ITEMS:
            return ITEM_MARK
        if tag in ("br", "hr") or "p" not in kept:
            return BLOCK_MARK
        return f"<{found[1]}p>"

    return _BLOCK.sub(replace, text) if "<" in text else text


def _join_marks(text: str) -> str:
    if BLOCK_MARK not in text and ITEM_MARK not in text:
        return text
    text = _TRAILING.sub(r"\1", _LEADING.sub(r"\1", text))
    # between two list items "; "; where a list starts or ends, or any other block, a space
    return _MARKS.sub(lambda m: "; " if ITEM_MARK in m[0] and BLOCK_MARK not in m[0] else " ", text)


def plain_text(value: Any) -> str:
    """Text without markup: tags dropped (a script's or style's content with them), entities read, a
    separator where a block or list item ended."""
    text = value if isinstance(value, str) else str(value)
    if "<" not in text and "&" not in text:
        return text
    cleaned = nh3.clean(_separate(text, ()), tags=set(), attributes={}, strip_comments=True)
    return _join_marks(html.unescape(cleaned))


def short_description(value: Any) -> str:
    """Plain text, whitespace folded (LSI's glossary: no HTML in a description). LSI publishes no limit for
    it, so nothing is cut."""
    if not isinstance(value, str):
        raise ValueError("not text")
    return " ".join(plain_text(clean(value)).split())


def sanitize(text: str, tags: Iterable[str] = ANNOTATION_TAGS) -> str:
    """Only the given tags, without attributes, balanced; comments, scripts and styles removed; a separator
    where a removed block ended."""
    cleaned = nh3.clean(_separate(text, tags), tags=set(tags), attributes={}, strip_comments=True, link_rel=None)
    return _EMPTY_P.sub("", _join_marks(cleaned)).strip()


def fit_html(cleaned: str, tags: Iterable[str], limit: int) -> Fitted:
    """Clean HTML within limit characters: whole paragraphs (else whole sentences of the text), the rest named."""
    if len(cleaned) <= limit:
        return Fitted(cleaned)
    end = cleaned.rfind("</p>", 0, limit - 64)  # room for the tags the cut may leave open
    fitted = sanitize(cleaned[: end + 4], tags) if end > 0 else ""
    if not fitted or len(fitted) > limit:
        fitted = fit_paragraphs(plain_text(cleaned), limit).text
    kept = len(" ".join(plain_text(fitted).split()))
    whole = " ".join(plain_text(cleaned).split())
    return Fitted(fitted, f"{len(whole) - kept:,} characters of text from '{_start_of(whole[kept:])}'")


def _start_of(text: str) -> str:
    words = text.split()
    return " ".join(words[:6]) + (" ..." if len(words) > 6 else "")


def fit_paragraphs(text: str, limit: int) -> Fitted:
    """Plain text (blank lines between paragraphs) as escaped <p> paragraphs within limit characters: whole
    paragraphs, then whole sentences of the next one; and what was left out to fit."""
    out = ""
    kept: list[str] = []
    for para in _PARAGRAPHS.split(text):
        para = " ".join(para.split())
        if not para:
            continue
        piece = f"<p>{html.escape(para, quote=False)}</p>"
        if len(out) + len(piece) <= limit:
            out, kept = out + piece, kept + [para]
            continue
        cut = _whole_sentences(para, limit - len(out) - len("<p></p>"))
        if cut:
            out, kept = out + f"<p>{html.escape(cut, quote=False)}</p>", kept + [cut]
        whole, shown = " ".join(text.split()), len(" ".join(kept))
        return Fitted(out, f"{len(whole) - shown:,} characters of text from '{_start_of(whole[shown:])}'")
    return Fitted(out)


def _whole_sentences(text: str, limit: int) -> str:
    """The longest run of whole sentences within limit HTML-escaped characters ("" when none fits)."""
    kept = ""
    for sentence in SENTENCE_END.split(text[: limit + 1] if len(text) > limit else text):
        candidate = f"{kept} {sentence}".strip()
        if len(html.escape(candidate, quote=False)) > limit:
            break
        kept = candidate
    return kept
