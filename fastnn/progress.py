"""What fit prints: a live bar per epoch (verbose=1), one line per epoch (verbose=2).

The bar is tqdm's when tqdm is installed (extra ``progress``): samples done, samples/s,
the time left in the epoch, and the epoch's running mean loss; at the epoch's end it
shows the epoch's loss and metrics (validation ones included). Without tqdm, verbose=1
falls back to the one-line-per-epoch log: duration, samples/s, the time left for the
remaining epochs, loss and metrics.
"""

from __future__ import annotations

import sys
import time

from .callbacks import Callback

try:  # optional: a well-kept progress bar when available
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - depends on the environment
    tqdm = None

# Seconds between updates of the bar's loss: formatting it for every batch would cost
# more than a small batch's training step.
POSTFIX_INTERVAL = 0.1


def format_logs(logs: dict) -> str:
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


def format_seconds(seconds: float) -> str:
    """3.2ms, 0.41s, 12.3s, 2m05s, 1h02m."""
    if seconds < 1:
        return f"{seconds * 1000:.1f}ms" if seconds < 0.1 else f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressLogger(Callback):
    """The printing fit does itself; ``batch_end(rows, loss)`` is called by fit per batch."""

    def __init__(self, verbose: int, epochs: int, n_samples: int, stream=None) -> None:
        super().__init__()
        self.verbose = verbose
        self.epochs = epochs
        self.n_samples = n_samples
        self.stream = stream or sys.stdout
        self.bar = None
        self.first_epoch: int | None = None
        self.train_started = time.perf_counter()  # fit resets it in on_train_begin
        self.epochs_done = 0
        self._reset_epoch()

    @property
    def live(self) -> bool:
        return self.verbose == 1 and tqdm is not None

    def _reset_epoch(self) -> None:
        self.started = time.perf_counter()
        self.seen = 0
        self.loss_sum = 0.0
        self.shown = self.started

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.train_started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.first_epoch is None:
            self.first_epoch = epoch
        self._reset_epoch()
        if self.live:
            self.bar = tqdm(
                total=self.n_samples,
                desc=f"Epoch {epoch - self.first_epoch + 1}/{self.epochs}",
                unit=" samples",
                unit_scale=True,
                leave=True,
                file=self.stream,
                dynamic_ncols=True,
            )

    def batch_end(self, rows: int, loss: float) -> None:
        self.seen += rows
        self.loss_sum += loss * rows
        if self.bar is None:
            return
        self.bar.update(rows)
        now = time.perf_counter()
        if now - self.shown >= POSTFIX_INTERVAL:
            self.shown = now
            self.bar.set_postfix_str(f"loss: {self.loss_sum / self.seen:.4f}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self.started
        self.epochs_done += 1
        text = format_logs(logs or {})
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
            self.bar.close()
            self.bar = None
            return
        if self.verbose:
            print(self._epoch_line(epoch, seconds, text), file=self.stream, flush=True)

    def _epoch_line(self, epoch: int, seconds: float, text: str) -> str:
        number = epoch - (self.first_epoch or 0) + 1
        rows = self.seen or self.n_samples
        parts = [f"Epoch {number}/{self.epochs}", format_seconds(seconds)]
        if seconds > 0:
            parts.append(f"{rows / seconds:,.0f} samples/s")
        left = self.epochs - number
        if left > 0:
            per_epoch = (time.perf_counter() - self.train_started) / self.epochs_done
            parts.append(f"ETA {format_seconds(per_epoch * left)}")
        if text:
            parts.append(text)
        return " - ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
