"""A pipeline simulator: writes processed JSON the way codexes-factory does, for the fault scenarios.

Per book (upstream-lsi-format.md §1.1): stage 1 writes the JSON in place with plain open(path, 'w')
and json.dump(indent=4) (not atomic, without page_count); stage 3 rewrites it in place twice (the
schedule's isbn13, then prepress: page_count, the three ISBN keys, spine width, cover paths). Several
books are in flight at once; some get a `_lsi_metadata.json` sibling; some are left malformed (a run
that died mid-write); batch markers can open and close the run.

Usage: python tests/simulate.py FOLDER [--books 50] [--rate 5] [--in-flight 3] [--malformed 0.05]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from books import isbn13, make_book  # noqa: E402


@dataclass
class Written:
    """What the simulator left in the folder: books with their final bytes' hash, and malformed files."""

    books: dict[str, str] = field(default_factory=dict)  # path -> sha256 of its final content
    malformed: set[str] = field(default_factory=set)
    siblings: set[str] = field(default_factory=set)
    closed_at: dict[str, float] = field(default_factory=dict)  # isbn -> time of the last close
    lock: threading.Lock = field(default_factory=threading.Lock)


def write_slowly(path: Path, text: str, rng: random.Random, pieces: int = 3) -> None:
    """open(path, 'w') + json.dump: truncates first, then the content arrives in several writes."""
    step = len(text) // pieces + 1
    with open(path, "w", encoding="utf-8") as f:
        for i in range(0, len(text), step):
            f.write(text[i:i + step])
            f.flush()
            time.sleep(rng.uniform(0, 0.01))


def one_book(folder: Path, n: int, rng: random.Random, written: Written, malformed: bool, sibling: bool,
             quotes: int) -> None:
    book = make_book(n, rng, quotes)
    path = folder / f"Book_{n:05}.json"
    stage1 = {k: v for k, v in book.items() if k not in ("page_count", "isbn_13", "isbn", "spine_width_in")}
    stage1["isbn13"] = ""
    write_slowly(path, json.dumps(stage1, ensure_ascii=False, indent=4), rng)
    if malformed:  # the run died in the middle of this write
        text = json.dumps(stage1, indent=4)
        path.write_text(text[: len(text) // 2], encoding="utf-8")
        with written.lock:
            written.malformed.add(str(path))
        return
    time.sleep(rng.uniform(0, 0.05))
    stage3 = {**stage1, "isbn13": isbn13(n)}
    write_slowly(path, json.dumps(stage3, ensure_ascii=False, indent=4), rng)
    time.sleep(rng.uniform(0, 0.05))
    final = {**stage3, "page_count": book["page_count"], "isbn_13": isbn13(n), "isbn": isbn13(n),
             "spine_width_in": 0.5, "front_cover_image_path": f"output/x_build/covers/Book_{n:05}_front_cover.png"}
    text = json.dumps(final, ensure_ascii=False, indent=4)
    write_slowly(path, text, rng)
    with written.lock:
        written.books[str(path)] = hashlib.sha256(text.encode()).hexdigest()
        written.closed_at[isbn13(n)] = time.time()
    if sibling:
        lsi = folder / f"Book_{n:05}_lsi_metadata.json"
        lsi.write_text(json.dumps({"title": final["title"], "isbn13": isbn13(n), "llm_completions": {}}))
        with written.lock:
            written.siblings.add(str(lsi))


def simulate(folder: Path, books: int = 50, rate: float = 5.0, in_flight: int = 3, malformed: float = 0.05,
             siblings: float = 0.3, quotes: int = 40, seed: int = 1, first: int = 0,
             written: Written | None = None, stop: threading.Event | None = None) -> Written:
    """Write books first..first+books-1 at about `rate` a second, `in_flight` at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    written = written or Written()
    rng = random.Random(seed)
    plan = [(n, rng.random() < malformed, rng.random() < siblings, rng.randrange(1 << 30))
            for n in range(first, first + books)]
    slots = threading.Semaphore(in_flight)
    threads = []
    start = time.monotonic()
    for i, (n, bad, sibling, book_seed) in enumerate(plan):
        if stop is not None and stop.is_set():
            break
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        slots.acquire()

        def run(n=n, bad=bad, sibling=sibling, book_seed=book_seed) -> None:
            try:
                one_book(folder, n, random.Random(book_seed), written, bad, sibling, quotes)
            finally:
                slots.release()

        thread = threading.Thread(target=run)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--books", type=int, default=50)
    parser.add_argument("--rate", type=float, default=5.0, help="books started a second")
    parser.add_argument("--in-flight", type=int, default=3)
    parser.add_argument("--malformed", type=float, default=0.05, help="share of books left malformed")
    parser.add_argument("--siblings", type=float, default=0.3, help="share of books with a _lsi_metadata.json")
    parser.add_argument("--quotes", type=int, default=40, help="40: ~32 KiB a book; 400: ~250 KiB")
    parser.add_argument("--markers", action="store_true", help="drop .batch-start first and .batch-done last")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.markers:
        args.folder.mkdir(parents=True, exist_ok=True)
        (args.folder / ".batch-start").write_text(f"simulated-{args.seed}\n")
    written = simulate(args.folder, args.books, args.rate, args.in_flight, args.malformed, args.siblings,
                       args.quotes, args.seed)
    if args.markers:
        (args.folder / ".batch-done").write_text("")
    print(f"{len(written.books)} books, {len(written.malformed)} malformed, {len(written.siblings)} siblings "
          f"in {args.folder}")


if __name__ == "__main__":
    main()
