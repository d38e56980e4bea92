"""fastnn.distributed: data-parallel training over MPI, checked by real MPI jobs.

Each test starts ``mpiexec -n 2`` or ``-n 3`` (3 ranks oversubscribe this 2-core
machine; MPICH's launcher allows it, Open MPI gets --oversubscribe) running
tests/distributed/worker.py, which writes one JSON file per rank. Every job runs under
a timeout, so a hang fails the test instead of stalling the suite. Without mpi4py or
mpiexec the MPI tests skip, saying so; CI installs fastnn[mpi], so there they run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastnn as fn
from fastnn.distributed import Rows, share
from fastnn.distributed._digest import disagreement

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed" / "worker.py"
sys.path.insert(0, str(WORKER.parent))


def _mpiexec() -> list[str] | None:
    beside_python = str(Path(sys.executable).parent)
    found = shutil.which("mpiexec") or shutil.which("mpiexec", path=beside_python)
    if found is None or not fn.distributed.mpi_available():
        return None
    command = [found]
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30)
    if "open mpi" in (version.stdout + version.stderr).lower():  # MPICH needs neither
        command += ["--oversubscribe", "--allow-run-as-root"]
    return command


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None, reason="MPI is not installed (pip install 'fastnn[mpi]': mpi4py + mpiexec)"
)


def run_job(n: int, scenario: str, out: Path, *args, timeout: float = 120, env=None):
    """Run the worker on n ranks; returns (completed process, seconds, per-rank results)."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    command = [*MPIEXEC, "-n", str(n), sys.executable, str(WORKER), scenario, str(out), *args]
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=environment, cwd=out
    )
    seconds = time.monotonic() - started
    results = {}
    for path in out.glob("rank*.json"):
        record = json.loads(path.read_text())
        results[record["rank"]] = record
    return done, seconds, [results[r] for r in sorted(results)]


# ---------------------------------------------------------------- no MPI needed


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 40, 41, 203])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_share_covers_the_batch_once_with_near_equal_parts(n, size):
    parts = [share(n, size, r) for r in range(size)]
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))  # consecutive, no overlap
    lengths = [stop - start for start, stop in parts]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)  # rank 0 gets a row whenever n >= 1


def test_share_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rank < size"):
        share(10, 2, 2)


def test_disagreement_names_each_field_and_rank():
    same = {"seed": "0", "batch_size": "40", "dtype": "float64"}
    assert disagreement([same, dict(same), dict(same)]) is None
    message = disagreement([same, {**same, "seed": "1"}, {**same, "batch_size": "41"}])
    assert "seed differs (ranks 0, 2: 0; rank 1: 1)" in message
    assert "batch_size differs (ranks 0, 1: 40; rank 2: 41)" in message
    assert "dtype" not in message
    assert "broadcast_parameters" in message  # the way out for unseeded models


def test_rows_reads_only_the_rows_asked_for_and_converts_like_the_loader(tmp_path):
    images = np.arange(6 * 4, dtype=np.uint8).reshape(6, 2, 2) * 9
    path = tmp_path / "x.u8"
    images.tofile(path)
    mapped = np.memmap(path, dtype=np.uint8, mode="r", shape=(6, 2, 2))
    rows = Rows(mapped, divisor=255)
    assert rows.shape == (6, 4) and len(rows) == 6
    out = np.empty((3, 4), np.float32)
    got = rows.read(np.array([5, 0, 2]), out)
    expected = images.reshape(6, 4)[[5, 0, 2]].astype(np.float32)
    expected /= 255.0  # what load_fashion_mnist does
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    assert np.array_equal(rows.read(slice(1, 3), out), images.reshape(6, 4)[1:3] / np.float32(255))


def test_rows_rejects_what_it_cannot_read():
    with pytest.raises(TypeError, match=r"np\.memmap"):
        Rows([1, 2, 3])
    with pytest.raises(ValueError, match="divisor"):
        Rows(np.zeros((2, 2)), divisor=0)
    bad = Rows(np.array([[1.0, np.nan], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        bad.read(np.array([0]), np.empty((1, 2)))


def _write_idx(path: Path, array: np.ndarray, code: int) -> None:
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def test_open_idx_maps_the_file_and_matches_load_idx(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 3, 5), dtype=np.uint8)
    _write_idx(tmp_path / "images", images, 0x08)
    mapped = fn.datasets.open_idx(tmp_path / "images")
    assert isinstance(mapped, np.memmap) and mapped.shape == (7, 3, 5)
    assert np.array_equal(mapped, fn.datasets.load_idx(tmp_path / "images"))
    floats = np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)
    _write_idx(tmp_path / "floats", floats, 0x0D)
    assert np.array_equal(fn.datasets.open_idx(tmp_path / "floats"), floats)


def test_open_idx_refuses_compressed_truncated_and_foreign_files(tmp_path):
    import gzip

    (tmp_path / "z.gz").write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x01\x05"))
    with pytest.raises(ValueError, match="gzip-compressed"):
        fn.datasets.open_idx(tmp_path / "z.gz")
    _write_idx(tmp_path / "short", np.zeros((4, 2), np.uint8), 0x08)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ValueError, match="truncated"):
        fn.datasets.open_idx(tmp_path / "short")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        fn.datasets.open_idx(tmp_path / "text")


# ---------------------------------------------------------------- MPI jobs


@needs_mpi
def test_broadcast_parameters_gives_every_rank_rank0s_model(tmp_path):
    done, _, ranks = run_job(3, "broadcast", tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len({r["before"] for r in ranks}) == 3  # unseeded: three different models
    assert {r["after"] for r in ranks} == {ranks[0]["before"]}
    assert len({r["seed"] for r in ranks}) == 1


@needs_mpi
def test_a_rank_raising_outside_fit_ends_the_job_quickly(tmp_path):
    done, seconds, _ = run_job(2, "raise_outside", tmp_path, timeout=60)
    assert done.returncode != 0
    assert "rank 1 fails outside fit" in done.stderr
    assert "uncaught RuntimeError; aborting all ranks" in done.stderr
    assert seconds < 20
