"""How a global batch is split over the ranks (pure arithmetic, no MPI).

A batch of ``n`` rows (any n >= 1, divisible by the number of ranks or not) is cut
into ``size`` consecutive parts whose sizes differ by at most one row; the first
``n % size`` ranks take the longer parts, so rank 0, which adds the regularization
penalty, always has a row. A batch shorter than the number of ranks leaves the last
ranks without rows: they contribute zero gradients to the sum and still take the
step.
"""

from __future__ import annotations


def share(n_rows: int, size: int, rank: int) -> tuple[int, int]:
    """[start, stop) of rank's part of n_rows consecutive rows."""
    if size < 1 or not 0 <= rank < size or n_rows < 0:
        raise ValueError(
            f"share needs n_rows >= 0 and 0 <= rank < size; got {n_rows}, {rank}, {size}"
        )
    base, extra = divmod(n_rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)
