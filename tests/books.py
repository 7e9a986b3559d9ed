"""Generated books for the benchmarks and the simulator: pipeline-shaped processed JSON whose ACS row is ~3.5 KB."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = ("tide harbor lantern chart survey estuary marsh current beacon ledger season quiet machine "
         "river stone archive compass island weather signal keeper almanac").split()


def isbn13(n: int) -> str:
    first12 = f"9781{n:08d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def text(rng: random.Random, words: int) -> str:
    sentences, out = [], []
    for _ in range(words):
        out.append(rng.choice(WORDS))
        if len(out) >= rng.randrange(8, 18):
            sentences.append(" ".join(out).capitalize() + ".")
            out = []
    return " ".join(sentences + ([" ".join(out).capitalize() + "."] if out else []))


def make_book(n: int, rng: random.Random, quotes: int = 40) -> dict:
    return {
        "title": f"{text(rng, 4).rstrip('.')} {n}",
        "subtitle": "",
        "author": "AI Lab for Book-Lovers",
        "publisher": "Harbor Light Press",
        "imprint": "Harbor Light",
        "publication_date": "2026-03-03",
        "language": "English",
        "bisac_categories": "NATURE / Ecology; SCIENCE / Earth Sciences / Oceanography",
        "series_name": "",
        "series_number": n,
        "keywords": "; ".join(rng.sample(WORDS, 12)),
        "storefront_description_en": "\n\n".join(text(rng, 90) for _ in range(3)),
        "table_of_contents": "\n".join(f"Chapter {i}: {text(rng, 4)}" for i in range(1, 13)),
        "isbn13": isbn13(n),
        "isbn_13": isbn13(n),
        "isbn": isbn13(n),
        "page_count": 120 + n % 300,
        "list_price_usd": 24.95,
        "quotes": [{"quote": text(rng, 40), "source": text(rng, 6), "author": "Someone"} for _ in range(quotes)],
        "responses": {"model": [{"prompt_key": f"p{i}", "raw_content": text(rng, 200)} for i in range(quotes // 5)]},
    }


def write_books(folder: Path, count: int, quotes: int = 40, seed: int = 1) -> None:
    """count books; quotes=40 gives ~33 KiB of JSON a book like the pipeline's, quotes=0 a lean ~4 KiB."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for n in range(count):
        book = make_book(n, rng, quotes)
        (folder / f"book_{n:06}.json").write_text(json.dumps(book, indent=4), encoding="utf-8")
