"""Rules for the text columns: Annotation / Summary (clean HTML), Short Description (plain), Keywords. Pure.

HTML is parsed and cleaned by nh3 (the Rust html5ever parser and the ammonia sanitiser), not by regular
expressions: what leaves here is balanced and holds only the tags LSI accepts, without attributes.
Which tags those are: the pipeline's documented LSI rule for the annotation is <p> <b> <i> <br>
(upstream-lsi-format.md section 6); Lightning Source's own glossary says a book description takes no
HTML at all ("no HTML tagging, bullets, or other special formatting", help.lightningsource.com, GLOSSARY),
so Short Description is plain text. A publisher may allow more tags with lsi.annotation_tags.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable, Mapping

import nh3

from .values import clean, first, split

SHORT_DESCRIPTION_MAX_BYTES = 350
ANNOTATION_MAX_CHARS = 4000
KEYWORDS_MAX_CHARS = 255
ANNOTATION_TAGS = ("p", "b", "i", "br")
# Tags a publisher may add to ANNOTATION_TAGS: formatting only, never links, images, scripts or layout.
FORMATTING_TAGS = ("p", "b", "i", "br", "em", "strong", "u", "ul", "ol", "li", "sub", "sup", "blockquote")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPHS = re.compile(r"\n\s*\n")


def keyword_list(value: Any) -> list[str]:
    """Keywords are separated by ';' (or are list items): a comma belongs to its keyword ("Smith, John").
    Whitespace, newlines included, is folded to single spaces; a repeated keyword is kept once."""
    words: dict[str, str] = {}
    for word in split(value, ";"):
        word = " ".join(plain_text(word).split())
        if word:
            words.setdefault(word.lower(), word)
    return list(words.values())


def keywords(value: Any) -> str:
    """Keywords joined with '; ', whole keywords only, within LSI's 255 characters."""
    return join_keywords(keyword_list(value))


def join_keywords(words: list[str]) -> str:
    joined = ""
    for word in words:
        candidate = f"{joined}; {word}" if joined else word
        if len(candidate) > KEYWORDS_MAX_CHARS:
            break
        joined = candidate
    return joined


def plain_text(value: Any) -> str:
    """Text without markup: tags dropped (a script's or style's content with them), entities read."""
    text = value if isinstance(value, str) else str(value)
    if "<" not in text and "&" not in text:
        return text
    return html.unescape(nh3.clean(text, tags=set(), attributes={}, strip_comments=True))


def short_description(value: Any) -> str:
    """Plain text within LSI's 350 bytes, cut at a sentence (else at a word, with '...')."""
    if not isinstance(value, str):
        raise ValueError("not text")
    text = " ".join(plain_text(clean(value)).split())
    if len(text.encode()) <= SHORT_DESCRIPTION_MAX_BYTES:
        return text
    return _cut_at_sentence(text, SHORT_DESCRIPTION_MAX_BYTES, bytes_=True)


def annotation(book: Mapping[str, Any], tags: Iterable[str] = ANNOTATION_TAGS,
               limit: int = ANNOTATION_MAX_CHARS) -> str | None:
    """The annotation as LSI takes it: the book's HTML annotation with only the allowed tags, balanced,
    within limit, cut at a paragraph end; else the plain sources as <p> paragraphs cut at a sentence;
    never blank while any of them has text."""
    summary = book.get("annotation_summary")
    if isinstance(summary, str) and summary.strip():
        cleaned = sanitize(clean(summary), tags)
        if len(cleaned) <= limit:
            return cleaned
        end = cleaned.rfind("</p>", 0, limit - 64)  # room for the tags the cut may leave open
        fitted = sanitize(cleaned[: end + 4], tags) if end > 0 else ""
        if fitted and len(fitted) <= limit:
            return fitted
    source = first(book, "summary_long", "storefront_description_en", "back_cover_text")
    if isinstance(source, str):  # plain text: a '<' in it is a character, escaped
        return paragraphs(clean(source), limit)
    if isinstance(summary, str) and summary.strip():  # the HTML annotation's own text, cut at a sentence
        return paragraphs(plain_text(clean(summary)), limit)
    return None


def sanitize(text: str, tags: Iterable[str] = ANNOTATION_TAGS) -> str:
    """Only the given tags, without attributes, balanced; comments, scripts and styles removed."""
    return nh3.clean(text, tags=set(tags), attributes={}, strip_comments=True, link_rel=None).strip()


def paragraphs(text: str, limit: int) -> str:
    """Plain text (blank lines between paragraphs) as escaped <p> paragraphs within limit characters."""
    out = ""
    for para in _PARAGRAPHS.split(text):
        para = " ".join(para.split())
        if not para:
            continue
        piece = f"<p>{html.escape(para, quote=False)}</p>"
        if len(out) + len(piece) <= limit:
            out += piece
            continue
        room = limit - len(out) - len("<p></p>")
        cut = _cut_at_sentence(para, room, escaped=True)
        if cut:
            out += f"<p>{html.escape(cut, quote=False)}</p>"
        break
    return out


def _cut_at_sentence(text: str, limit: int, bytes_: bool = False, escaped: bool = False) -> str:
    """The longest run of whole sentences within limit (as bytes, or as HTML-escaped characters);
    when not even one fits, the words that fit and '...'."""
    def size(s: str) -> int:
        s = html.escape(s, quote=False) if escaped else s
        return len(s.encode()) if bytes_ else len(s)

    text = text[: limit + 1]  # no size is below the character count: nothing further can fit
    kept = ""
    for sentence in SENTENCE_END.split(text):
        candidate = f"{kept} {sentence}".strip()
        if size(candidate) > limit:
            break
        kept = candidate
    if kept:
        return kept
    words = text.split(" ")
    while len(words) > 1 and size(" ".join(words) + "...") > limit:
        words.pop()
    cut = " ".join(words).rstrip(" ,;:")
    while cut and size(cut + "...") > limit:  # one word longer than the limit
        cut = cut[:-1]
    return cut + "..." if cut else ""
