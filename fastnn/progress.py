"""What fit prints: a live bar per epoch (verbose=1), one line per epoch (verbose=2).

The bar is tqdm's when tqdm is installed (extra ``progress``); without it, verbose=1
falls back to the one-line-per-epoch log. Lines show samples/s, loss and metrics.
"""

from __future__ import annotations

import sys
import time

from .callbacks import Callback

try:  # optional: a well-kept progress bar when available
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover - depends on the environment
    tqdm = None


def format_logs(logs: dict) -> str:
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


class ProgressLogger(Callback):
    """The printing fit does itself; ``batch_end(rows, loss)`` is called by fit per batch."""

    def __init__(self, verbose: int, epochs: int, n_samples: int, stream=None) -> None:
        super().__init__()
        self.verbose = verbose
        self.epochs = epochs
        self.n_samples = n_samples
        self.stream = stream or sys.stdout
        self.bar = None
        self.started = 0.0
        self.first_epoch: int | None = None

    @property
    def live(self) -> bool:
        return self.verbose == 1 and tqdm is not None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.first_epoch is None:
            self.first_epoch = epoch
        self.started = time.perf_counter()
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
        if self.bar is not None:
            self.bar.update(rows)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self.started
        rate = self.n_samples / seconds if seconds > 0 else float("inf")
        text = format_logs(logs or {})
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
            self.bar.close()
            self.bar = None
            return
        if self.verbose:
            number = epoch - (self.first_epoch or 0) + 1
            print(
                f"Epoch {number}/{self.epochs} - {seconds:.2f}s - {rate:,.0f} samples/s - {text}",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
