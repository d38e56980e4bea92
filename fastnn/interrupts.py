"""What Ctrl-C (SIGINT) does while fit trains: stop at a batch boundary, never mid-step.

A training step is one native call that updates the weights and the optimizer state,
followed by a little bookkeeping in Python (step counters). A KeyboardInterrupt raised
in between (Python runs signal handlers as soon as a native call returns) would leave
weights one step ahead of the counters. So during fit nothing is raised inside a step;
what happens instead depends on the SIGINT handler the program had:

* Python's default (``signal.default_int_handler``): fastnn's own handler. The first
  Ctrl-C sets the flag that the loop reads at the next batch boundary, where it stops
  with a warning and a usable model; a second Ctrl-C raises KeyboardInterrupt at once.
* the program's own handler (a job runner's graceful shutdown, say): it stays in charge.
  fastnn records each signal and calls the handler, with the signal's number and frame,
  when the loop next asks whether to stop, i.e. at the next batch boundary. A
  KeyboardInterrupt the handler raises there stops fit as above (warning, usable model,
  history returned); anything else it raises propagates from the boundary; a handler
  that returns lets training go on.
* ignored (``signal.SIG_IGN``: nohup, a background job), or the operating system's
  default (``SIG_DFL``), or a handler installed outside Python: left as it is.

Only the main thread can handle signals; fit in another thread never sees a Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StopFlag(threading.Event):
    """The flag fit's loop reads at batch boundaries (``is_set()``): set by a Ctrl-C
    under Python's default handler, or by a KeyboardInterrupt from the program's own
    handler, which ``is_set`` runs for each signal recorded since the last call."""

    def __init__(self, handler=None) -> None:
        super().__init__()
        self._handler = handler  # the program's own handler, or None
        self._pending: list = []  # the frames of the signals not yet handed to it

    def record(self, signum: int, frame) -> None:
        """The SIGINT handler fit installs in front of the program's own."""
        self._pending.append(frame)

    def is_set(self) -> bool:
        while self._pending:
            frame = self._pending.pop(0)
            try:
                self._handler(signal.SIGINT, frame)
            except KeyboardInterrupt:
                self.set()
        return super().is_set()

    def take_pending(self) -> list:
        """The frames of the signals recorded and not yet handed on (and forget them)."""
        pending, self._pending = self._pending, []
        return pending


@contextmanager
def sigint_as_flag() -> Iterator[StopFlag]:
    """For the duration of the block, SIGINT as the module docstring says; yields the
    flag. On exit the program's handler is back in place (unless the block installed
    another one itself), and signals still recorded are handed to it there."""
    if threading.current_thread() is not threading.main_thread():
        yield StopFlag()
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        flag = StopFlag()

        def handler(signum, frame):
            if flag.is_set():
                raise KeyboardInterrupt
            flag.set()

    elif callable(previous):
        flag = StopFlag(previous)
        handler = flag.record
    else:  # SIG_IGN, SIG_DFL, or None (installed outside Python): not ours to change
        yield StopFlag()
        return

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        if signal.getsignal(signal.SIGINT) == handler:
            signal.signal(signal.SIGINT, previous)
        for frame in flag.take_pending():  # after the last boundary: as if fit were not there
            previous(signal.SIGINT, frame)
