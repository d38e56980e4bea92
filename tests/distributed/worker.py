"""One rank of a test job: ``mpiexec -n N python worker.py SCENARIO OUT_DIR [ARGS...]``.

Each scenario trains or fails in a chosen way and writes what the test checks to
OUT_DIR/rank<r>.json (weights' hashes, histories, errors). tests/test_distributed.py
starts the jobs and compares the ranks' files with each other and with training in
one process (``reference``, importable from the test).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

import fastnn as fn

N_ROWS, N_IN, N_CLASSES = 203, 13, 4  # 203 rows: batches of 40 leave a short last one


def data(n_rows: int = N_ROWS, dtype=np.float64):
    rng = np.random.default_rng(42)
    X = rng.standard_normal((n_rows, N_IN)).astype(dtype)
    y = (np.abs(X[:, :3]).sum(axis=1) * 1.3).astype(np.int64) % N_CLASSES
    return X, y


def build(seed=0, dtype="float64", hidden=16, dropout=0.25, optimizer=None, penalty=1e-3):
    """The test network: Dropout and an L2 penalty, so masks and the penalty are tested."""
    layers = [
        fn.Dense(hidden, "relu", kernel_regularizer=fn.regularizers.L2(penalty)),
        fn.Dropout(dropout),
        fn.Dense(hidden, "tanh"),
        fn.Dense(N_CLASSES, "softmax"),
    ]
    model = fn.Model(layers, input_dim=N_IN, seed=seed, dtype=dtype)
    model.compile(
        loss="cross_entropy",
        optimizer=optimizer if optimizer is not None else fn.optimizers.Adam(lr=3e-3),
        metrics=["accuracy"],
    )
    return model


def weights_hash(model) -> str:
    return hashlib.blake2b(model.params.tobytes(), digest_size=16).hexdigest()


class StepHashes(fn.callbacks.Callback):
    """The weights' hash after every step (compared across ranks)."""

    def __init__(self):
        super().__init__()
        self.hashes = []

    def on_batch_end(self, batch, logs=None):
        self.hashes.append(weights_hash(self.model))


def options(args) -> dict:
    """ "epochs=9 batch=40 twice" -> {"epochs": "9", "batch": "40", "twice": True}."""
    return dict(a.split("=", 1) if "=" in a else (a, True) for a in args)


def reference(epochs=3, batch_size=40, n_rows=N_ROWS, **options):
    """Single-process training with the settings the ``train`` scenario uses."""
    X, y = data(n_rows)
    model = build(**options)
    history = model.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model, history


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    args = sys.argv[3:]
    import fastnn.distributed as fnd

    fnd.init(timeout=float(os.environ.get("TEST_TIMEOUT", "60")))
    rank = fnd.rank()
    result = SCENARIOS[scenario](fnd, rank, args, out)
    result.update(rank=rank, size=fnd.size())
    (out / f"rank{rank}.json").write_text(json.dumps(result))


def distributed_model(fnd, **options):
    """The one change: the optimizer wrapped by DistributedOptimizer."""
    return build(optimizer=fnd.DistributedOptimizer(fn.optimizers.Adam(lr=3e-3)), **options)


def scenario_train(fnd, rank, args, out):
    """Train; report per-step hashes, final weights, history; twice when asked."""
    given = options(args)
    epochs, batch = int(given["epochs"]), int(given["batch"])
    dtype = given.get("dtype", "float64")
    runs = []
    for _ in range(2 if "twice" in given else 1):
        X, y = data(int(given.get("rows", N_ROWS)))
        model = distributed_model(fnd, dtype=dtype)
        hashes = StepHashes()
        history = model.fit(X, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[hashes])
        runs.append(
            {
                "hashes": hashes.hashes,
                "params": model.params.tolist(),
                "history": history.history,
                "steps": model.steps_trained,
            }
        )
    return {"runs": runs}


def scenario_mismatch(fnd, rank, args, out):
    """Rank 1 differs in one field; every rank must raise the same error."""
    field = args[0]
    options, batch, n_rows = {}, 40, N_ROWS
    if rank == 1:
        if field == "seed":
            options["seed"] = 1
        elif field == "dtype":
            options["dtype"] = "float32"
        elif field == "architecture":
            options["hidden"] = 17
        elif field == "batch_size":
            batch = 41
        elif field == "data_size":
            n_rows = N_ROWS - 1
    X, y = data(n_rows)
    model = distributed_model(fnd, **options)
    try:
        model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
    except fnd.CollectiveError as error:
        return {"error": str(error)}
    return {"error": None}


def scenario_fail(fnd, rank, args, out):
    """Rank 1 fails in the way args[0] names, in the middle of training."""
    how = args[0]

    class Fail(fn.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            if rank != 1 or batch != 2:
                return
            if how == "raise":
                raise RuntimeError("rank 1 fails on purpose")
            if how == "exit":
                sys.exit(3)
            if how == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "hang":
                time.sleep(600)

    X, y = data()
    model = distributed_model(fnd)
    model.fit(X, y, epochs=50, batch_size=40, verbose=0, callbacks=[Fail()])
    return {"finished": True}


def scenario_raise_outside(fnd, rank, args, out):
    """Rank 1 raises in the script while rank 0 waits in a fastnn collective."""
    if rank == 1:
        raise RuntimeError("rank 1 fails outside fit")
    fnd.barrier()
    return {"finished": True}


def scenario_broadcast(fnd, rank, args, out):
    """Models built without a seed differ; broadcast_parameters makes them rank 0's."""
    model = build(seed=None)
    before = weights_hash(model)
    fnd.broadcast_parameters(model)
    return {
        "before": before,
        "after": weights_hash(model),
        "seed": model.seed,
        "local": [fnd.local_rank(), fnd.local_size()],
        "threads": fn.get_num_threads(),
    }


def scenario_save(fnd, rank, args, out):
    """Every rank calls save; only rank 0 may write."""
    X, y = data()
    model = distributed_model(fnd)
    folder = out / "saves"
    folder.mkdir(exist_ok=True)
    model.fit(X, y, epochs=1, batch_size=40, verbose=0)
    model.save(folder / "model.fnn")
    fnd.barrier()
    return {"files": sorted(p.name for p in folder.iterdir()), "hash": weights_hash(model)}


def scenario_resume(fnd, rank, args, out):
    """Train 4 epochs checkpointing each; then every rank loads the epoch-2 checkpoint
    rank 0 wrote and trains epochs 3-4 again: the same bits as the uninterrupted run."""
    X, y = data()
    model = distributed_model(fnd)
    checkpoint = fn.callbacks.ModelCheckpoint(str(out / "ckpt-{epoch}.fnn"), monitor="loss")
    straight = model.fit(X, y, epochs=4, batch_size=40, verbose=0, callbacks=[checkpoint])
    fnd.barrier()
    resumed_model = fnd.load_model(out / "ckpt-2.fnn")
    resumed = resumed_model.fit(X, y, epochs=4, initial_epoch=2, batch_size=40, verbose=0)
    return {
        "straight": weights_hash(model),
        "resumed": weights_hash(resumed_model),
        "straight_loss": straight.history["loss"][2:],
        "resumed_loss": resumed.history["loss"],
        "files": sorted(p.name for p in out.iterdir() if p.suffix == ".fnn"),
    }


def scenario_interrupt(fnd, rank, args, out):
    """Train for long with a checkpoint each epoch; rank 0 writes 'started' after the
    first epoch so that the test knows when to send Ctrl-C to mpiexec."""
    X, y = data()
    model = distributed_model(fnd)

    class Started(fn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1 and rank == 0:
                (out / "started").write_text("1")

    checkpoint = fn.callbacks.ModelCheckpoint(str(out / "ckpt.fnn"), monitor="loss")
    model.fit(X, y, epochs=100_000, batch_size=40, verbose=0, callbacks=[checkpoint, Started()])
    model.save(out / "final.fnn")
    return {"steps": model.steps_trained, "hash": weights_hash(model)}


def scenario_rows(fnd, rank, args, out):
    """Train from a uint8 file through Rows (each rank reading only its rows), and from
    the same values in memory: the same bits; report which rows each rank read."""
    X, y = data()
    pixels = np.round((X - X.min()) / (X.max() - X.min()) * 255).astype(np.uint8)
    path = out / f"pixels-{rank}.u8"
    pixels.tofile(path)
    mapped = np.memmap(path, dtype=np.uint8, mode="r", shape=pixels.shape)
    read = []

    class Counting(fnd.Rows):
        def read(self, rows, out, name="X"):
            read.extend(np.arange(self.n_rows)[rows].tolist())
            return super().read(rows, out, name)

    from_file = distributed_model(fnd)
    from_file.fit(Counting(mapped, divisor=255), y, epochs=2, batch_size=40, verbose=0)
    in_memory = distributed_model(fnd)
    in_memory.fit(pixels / 255.0, y, epochs=2, batch_size=40, verbose=0)
    return {
        "file": weights_hash(from_file),
        "memory": weights_hash(in_memory),
        "read": read,
        "n_rows": len(X),
    }


SCENARIOS = {
    name[len("scenario_") :]: function
    for name, function in globals().items()
    if name.startswith("scenario_")
}

if __name__ == "__main__":
    main()
