"""Is this file finished being written? The one answer the service gives, chosen once for its watch mode.

Events are hints. A close after writing, or a rename into the folder, means "finished now". A bare
create (a rename from another folder, or a writer that has just opened the file), and with polling any
change, means "maybe unfinished": such a file is taken once it parses as a book, or once it has not
changed for settle_seconds. The engine's part of the rule: a maybe-unfinished file that was modified
within the last two seconds and does not parse is "unfinished", never rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from watchdog.events import EVENT_TYPE_CLOSED, EVENT_TYPE_CREATED, EVENT_TYPE_MODIFIED, EVENT_TYPE_MOVED

from ..settings import Settings

SETTLE_SECONDS = 1.0  # inotify: a created file that does not parse yet is read again once it is this still


@dataclass(frozen=True)
class Readiness:
    polling: bool  # no close events: only "stopped changing between two polls" proves a file finished
    settle_seconds: float

    @classmethod
    def for_settings(cls, settings: Settings) -> Readiness:
        poll = settings.poll_seconds
        return cls(polling=poll is not None, settle_seconds=poll or SETTLE_SECONDS)

    def unfinished_after(self, event_kind: str) -> bool | None:
        """For a watchdog event kind: False, finished now; True, maybe unfinished; None, nothing to do."""
        if event_kind in (EVENT_TYPE_CLOSED, EVENT_TYPE_MOVED):
            return False
        if event_kind == EVENT_TYPE_CREATED or (event_kind == EVENT_TYPE_MODIFIED and self.polling):
            return True
        return None

    @property
    def try_unfinished_at_once(self) -> bool:
        """With inotify a created book is tried at once (renamed in from elsewhere, it is complete);
        polling sees no closes, so there it waits to settle."""
        return not self.polling

    def marker_ready(self, unfinished: bool) -> bool:
        """With inotify a marker's create event comes before its content (a batch id): wait for its close."""
        return self.polling or not unfinished
