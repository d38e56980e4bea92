"""The server's sessions: bounded in number, and reclaimed when nobody uses them.

Each page makes one session; a session's memory is bounded by the settings' limits
(500 points, at most 6 x 8 neurons, a loss curve of at most 1000 points: well under a
MiB, ``Session.nbytes``). The store holds at most ``max_sessions``. A session with no
open page (no stream) and no request for ``idle_seconds`` is reclaimed; when the store
is full, a new session takes the place of the least recently used one that has no open
page and is not training, and is refused (``StoreFull``) when there is none.
Plain Python: the server supplies the streams and the play task.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Callable

from .session import Session

MAX_SESSIONS = 8
IDLE_SECONDS = 600.0


class StoreFull(RuntimeError):
    """Every session slot is held by an open page or a running training."""


class Entry:
    """A session and what the server keeps beside it."""

    def __init__(self, key: str, session: Session, now: float) -> None:
        self.key = key
        self.session = session
        self.streams: set[Any] = set()  # open WebSocket handlers of this session
        self.playing = False
        self.task: Any = None  # the asyncio task that plays, while it does
        self.last_active = now

    @property
    def in_use(self) -> bool:
        return bool(self.streams) or self.playing

    def close(self) -> None:
        """Stop training and close the streams (the session is being dropped)."""
        self.playing = False
        if self.task is not None:
            self.task.cancel()
        for stream in list(self.streams):
            stream.close(code=1001, reason="session closed")
        self.streams.clear()


class SessionStore:
    def __init__(
        self,
        max_sessions: int = MAX_SESSIONS,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._entries: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(list(self._entries.values()))

    def add(self, session: Session) -> Entry:
        """Store a new session under a fresh random key, making room if need be."""
        if len(self._entries) >= self.max_sessions:
            spare = [entry for entry in self._entries.values() if not entry.in_use]
            if not spare:
                raise StoreFull(
                    f"all {self.max_sessions} sessions are in use by open pages; close one"
                )
            self.remove(min(spare, key=lambda entry: entry.last_active).key)
        key = secrets.token_hex(8)
        entry = self._entries[key] = Entry(key, session, self.clock())
        return entry

    def get(self, key: str) -> Entry | None:
        """The entry under key (marked as just used), or None."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_active = self.clock()
        return entry

    def remove(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        entry.close()
        return True

    def reclaim_idle(self) -> list[str]:
        """Drop the sessions with no open page and no request for idle_seconds."""
        now = self.clock()
        idle = [
            entry.key
            for entry in self._entries.values()
            if not entry.streams and now - entry.last_active > self.idle_seconds
        ]
        for key in idle:
            self.remove(key)
        return idle

    def close(self) -> None:
        for key in list(self._entries):
            self.remove(key)
