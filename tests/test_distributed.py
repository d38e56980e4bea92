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
from fastnn.distributed._digest import describe, disagreement

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed" / "worker.py"
sys.path.insert(0, str(WORKER.parent))
import worker  # noqa: E402  (the ranks' script: its data, model and reference run)


def _mpiexec() -> list[str] | None:
    # the launcher of the MPI mpi4py loads: the mpich wheel puts it beside python
    beside_python = str(Path(sys.executable).parent)
    found = shutil.which("mpiexec", path=beside_python) or shutil.which("mpiexec")
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
    environment = {key: value for key, value in environment.items() if value is not None}
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


def test_the_digest_tells_bf16_from_float32_products():
    """A rank with bf16 products would train another model: the precision is a field."""
    fields = {}
    for precision in ("float32", "bf16"):
        model = worker.build(dtype="float32")
        model.precision = precision
        X, y = worker.data()
        fields[precision] = describe(
            model,
            batch_size=40,
            epochs=1,
            n_rows=len(X),
            n_features=X.shape[1],
            targets=y.reshape(-1, 1),
            shuffle=True,
            validation="none",
        )
    message = disagreement([fields["float32"], fields["bf16"]])
    assert "precision differs (rank 0: float32; rank 1: bf16)" in message


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


def test_disagreement_names_the_weights_when_no_setting_explains_them():
    same = {"seed": "0", "weights": "aa", "random_state": "r"}
    assert "weights differs" in disagreement([same, {**same, "weights": "bb"}])
    only_seed = disagreement([same, {**same, "seed": "1", "weights": "bb", "random_state": "s"}])
    assert "seed differs" in only_seed and "weights" not in only_seed.split(".")[0]


def test_import_fastnn_does_not_start_mpi():
    code = "import sys, fastnn, fastnn.distributed; assert 'mpi4py' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


@needs_mpi
def test_without_mpiexec_a_distributed_script_is_plain_training(tmp_path):
    """One process (MPI's singleton): the same bits as the script without the change."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(WORKER), "train", str(tmp_path), "epochs=3", "batch=40"]
    subprocess.run(command, check=True, env=environment, timeout=120, cwd=tmp_path)
    run = json.loads((tmp_path / "rank0.json").read_text())["runs"][0]
    model, history = worker.reference(epochs=3, batch_size=40)
    assert run["params"] == model.params.tolist() and run["history"] == history.history
    saved = json.loads((tmp_path / "rank0.json").read_text())
    assert saved["size"] == 1


# ---------------------------------------------------------------- MPI jobs


@needs_mpi
def test_broadcast_parameters_gives_every_rank_rank0s_model(tmp_path):
    done, _, ranks = run_job(3, "broadcast", tmp_path, timeout=60, env={"OMP_NUM_THREADS": None})
    assert done.returncode == 0, done.stderr
    assert len({r["before"] for r in ranks}) == 3  # unseeded: three different models
    assert {r["after"] for r in ranks} == {ranks[0]["before"]}
    assert len({r["seed"] for r in ranks}) == 1
    assert [r["local"] for r in ranks] == [[0, 3], [1, 3], [2, 3]]  # one machine
    cores = len(os.sched_getaffinity(0))
    assert all(r["threads"] == max(1, cores // 3) for r in ranks)  # the cores are shared


@needs_mpi
def test_a_rank_raising_outside_fit_ends_the_job_quickly(tmp_path):
    done, seconds, _ = run_job(2, "raise_outside", tmp_path, timeout=60)
    assert done.returncode != 0
    assert "rank 1 fails outside fit" in done.stderr
    assert "uncaught RuntimeError; aborting all ranks" in done.stderr
    assert seconds < 20


def _reference(**options):
    model, history = worker.reference(**options)
    return model.params, history.history


@needs_mpi
@pytest.mark.parametrize("n, rows", [(2, 203), (3, 202)])
def test_n_ranks_train_the_one_process_model(tmp_path, n, rows):
    """54 steps with Dropout and an L2 penalty; a batch of 40 split 20/20 or 14/13/13 and
    a last batch of 3 (2 ranks) or 2 rows (3 ranks: the last rank has none)."""
    done, _, ranks = run_job(n, "train", tmp_path, "epochs=9", "batch=40", f"rows={rows}", "twice")
    assert done.returncode == 0, done.stderr
    assert len(ranks) == n
    first = ranks[0]["runs"][0]
    assert first["steps"] == 54 and len(first["hashes"]) == 54
    for rank in ranks:  # the same bits on every rank after every step, and in every run
        for run in rank["runs"]:
            assert run["hashes"] == first["hashes"]
            assert run["history"] == first["history"]
    params, history = _reference(epochs=9, batch_size=40, n_rows=rows)
    np.testing.assert_allclose(first["params"], params, rtol=1e-10, atol=1e-13)
    assert first["history"].keys() == history.keys()
    for key in history:
        np.testing.assert_allclose(first["history"][key], history[key], rtol=1e-10)


@needs_mpi
@pytest.mark.parametrize(
    "field, shown",
    [
        ("seed", "seed differs (rank 0: 0; rank 1: 1)"),
        ("dtype", "dtype differs (rank 0: float64; rank 1: float32)"),
        ("architecture", "architecture differs (rank 0: 13 -> Dense 16 relu"),
        ("batch_size", "batch_size differs (rank 0: 40; rank 1: 41)"),
        ("data_size", "data_size differs (rank 0: 203 rows; rank 1: 202 rows)"),
    ],
)
def test_ranks_that_disagree_stop_before_training_with_one_error(tmp_path, field, shown):
    done, _, ranks = run_job(2, "mismatch", tmp_path, field, timeout=60)
    assert done.returncode == 0, done.stderr  # every rank caught the same error
    errors = {rank["error"] for rank in ranks}
    assert len(errors) == 1 and shown in errors.pop()


@needs_mpi
@pytest.mark.parametrize(
    "how",
    ["raise", "exit", "die", "hang"],  # raise / exit: caught by the fitting scope
)
def test_a_failing_rank_ends_the_job_in_bounded_time(tmp_path, how):
    """raise / sys.exit in a callback: MPI_Abort; killed: mpiexec ends the others; a rank
    that hangs: the others' watchdog (4 s here) aborts the job."""
    done, seconds, ranks = run_job(2, "fail", tmp_path, how, timeout=90, env={"TEST_TIMEOUT": "4"})
    assert done.returncode != 0 and not ranks
    assert seconds < 40
    expected = {
        "raise": "RuntimeError during fit; aborting all ranks",
        "exit": "SystemExit during fit; aborting all ranks",
        "die": "",
        "hang": "(timeout 4 s) in the gradient Allreduce",
    }[how]
    assert expected in done.stderr


@needs_mpi
def test_rank0_alone_writes_and_resuming_continues_bitwise(tmp_path):
    done, _, ranks = run_job(3, "resume", tmp_path, timeout=90)
    assert done.returncode == 0, done.stderr
    for rank in ranks:
        assert rank["resumed"] == rank["straight"] == ranks[0]["straight"]
        assert rank["resumed_loss"] == rank["straight_loss"]
    assert ranks[0]["files"] == [f"ckpt-{e}.fnn" for e in range(1, 5)]  # no temporary files
    loaded = fn.load_model(tmp_path / "ckpt-4.fnn")  # an ordinary model file
    assert worker.weights_hash(loaded) == ranks[0]["straight"]
    assert type(loaded.optimizer) is fn.optimizers.Adam


@needs_mpi
def test_save_writes_once_from_rank0(tmp_path):
    done, _, ranks = run_job(2, "save", tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(rank["files"] == ["model.fnn"] for rank in ranks)
    saved = fn.load_model(tmp_path / "saves" / "model.fnn")
    assert worker.weights_hash(saved) == ranks[0]["hash"]


@needs_mpi
def test_ctrl_c_under_mpiexec_stops_every_rank_together_and_leaves_loadable_files(tmp_path):
    import signal

    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    command = [*MPIEXEC, "-n", "2", sys.executable, str(WORKER), "interrupt", str(tmp_path)]
    job = subprocess.Popen(
        command, env=environment, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline and job.poll() is None, "training never started"
            time.sleep(0.05)
        job.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends mpiexec
        _, stderr = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, stderr
    assert "training interrupted (KeyboardInterrupt)" in stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["steps"] == ranks[1]["steps"] and ranks[0]["hash"] == ranks[1]["hash"]
    assert 12 <= ranks[0]["steps"] < 600_000  # stopped after epoch 2 began, long before the end
    final = fn.load_model(tmp_path / "final.fnn")
    assert worker.weights_hash(final) == ranks[0]["hash"]
    assert fn.load_model(tmp_path / "ckpt.fnn").steps_trained <= final.steps_trained


@needs_mpi
def test_rows_from_a_file_each_rank_reads_only_its_rows(tmp_path):
    done, _, ranks = run_job(2, "rows", tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(rank["file"] == rank["memory"] == ranks[0]["file"] for rank in ranks)
    n = ranks[0]["n_rows"]  # 203: batches of 40 split 20/20, the last (3 rows) 2/1
    share_per_epoch = [102, 101]
    epochs = []
    for rank, reads in zip(ranks, (r["read"] for r in ranks)):
        mine = share_per_epoch[rank["rank"]]
        assert len(reads) == 2 * mine  # 2 epochs of its part of each batch, never all rows
        epochs.append([set(reads[:mine]), set(reads[mine:])])
    for first, second in zip(*epochs):  # within an epoch: disjoint parts covering the set
        assert not first & second and len(first | second) == n


@needs_mpi
def test_the_mpi_example_and_the_cli_run_under_mpiexec(tmp_path):
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "FASTNN_EXAMPLES_FAST": "1",
    }
    example = [sys.executable, str(ROOT / "examples" / "distributed_mpi.py")]
    done = subprocess.run(
        [*MPIEXEC, "-n", "2", *example, "--save", str(tmp_path / "m.fnn")],
        capture_output=True, text=True, timeout=120, env=environment, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("2 rank(s): training loss") == 1  # rank 0 alone prints
    fn.load_model(tmp_path / "m.fnn")
    cli = [sys.executable, "-m", "fastnn", "train", "--distributed", "--epochs", "2"]
    done = subprocess.run(
        [*MPIEXEC, "-n", "2", *cli, "--save", str(tmp_path / "c.fnn")],
        capture_output=True, text=True, timeout=120, env=environment, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("test accuracy") == 1 and "2 MPI ranks" in done.stdout
    assert fn.load_model(tmp_path / "c.fnn").epochs_trained == 2
