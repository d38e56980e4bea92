"""What is measured: the workloads of the performance contract, as plain data.

A *task* is one measurable thing a peer runs (W1 with SGD, W3 at batch 1, W6 at width
1024, ...); a workload (W1..W6) is one or more tasks. W5 is not run: it is derived from
W1's tasks at one thread and at the most threads asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")


@dataclass(frozen=True)
class Arch:
    """A ReLU MLP with a softmax head trained with cross-entropy: layer widths in order."""

    sizes: tuple[int, ...]

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.sizes[1:-1]

    @property
    def n_out(self) -> int:
        return self.sizes[-1]

    def train_flops_per_sample(self) -> int:
        """FLOPs (2 per multiply-add) of the products one training sample needs: the
        forward product and dW of every layer, dX of every layer but the first (no one
        computes the gradient of the input). What a share of the FMA peak counts."""
        products = [a * b for a, b in zip(self.sizes, self.sizes[1:])]
        return 6 * sum(products) - 2 * products[0]

    def __str__(self) -> str:
        return "-".join(map(str, self.sizes))


@dataclass(frozen=True)
class OptimizerSpec:
    """An update rule as every peer implements it (Keras's formulation, eps 1e-7)."""

    name: str  # "sgd" (with momentum) or "adam"
    lr: float
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-7

    def __str__(self) -> str:
        return f"SGD-momentum {self.momentum:g}" if self.name == "sgd" else "Adam"


SGD_MOMENTUM = OptimizerSpec("sgd", lr=0.01, momentum=0.9)
ADAM = OptimizerSpec("adam", lr=1e-3)
W1_ARCH = Arch((784, 256, 128, 10))
W2_ARCH = Arch((784, 2048, 2048, 10))
W4_SIZE = 1024
# W6: one hidden layer of these widths; the narrow end is overhead-bound, the wide end
# shows how close training comes to the FMA peak.
W6_WIDTHS = (64, 256, 1024, 4096)
W6_BATCH = 128


@dataclass(frozen=True)
class Task:
    """One measurable operation. ``kind``: "train" (one pass over the training rows),
    "predict" (one call on ``rows`` rows), "sgemm" (C = A B, square ``size``)."""

    key: str  # stable id, used in JSON and by the workers
    workload: str
    label: str  # the row title in the table
    kind: str
    unit: str
    higher_is_better: bool
    arch: Arch | None = None
    optimizer: OptimizerSpec | None = None
    batch: int = 0
    rows: int = 0
    size: int = 0


def _train(key: str, workload: str, arch: Arch, optimizer: OptimizerSpec, batch: int, unit: str):
    label = f"{workload} {arch} b{batch} {'SGD-mom' if optimizer.name == 'sgd' else 'Adam'}"
    return Task(key, workload, label, "train", unit, unit == "samples/s", arch, optimizer, batch)


TASKS = (
    _train("W1-sgd", "W1", W1_ARCH, SGD_MOMENTUM, 128, "s/epoch"),
    _train("W1-adam", "W1", W1_ARCH, ADAM, 128, "s/epoch"),
    _train("W2", "W2", W2_ARCH, ADAM, 512, "samples/s"),
    Task("W3-1", "W3", "W3 predict 1 sample", "predict", "µs", False, W1_ARCH, rows=1),
    Task("W3-10k", "W3", "W3 predict 10,000", "predict", "ms", False, W1_ARCH, rows=10_000),
    Task("W4", "W4", f"W4 sgemm {W4_SIZE}³", "sgemm", "GFLOP/s", True, size=W4_SIZE),
    *(
        _train(f"W6-{width}", "W6", Arch((784, width, 10)), ADAM, W6_BATCH, "samples/s")
        for width in W6_WIDTHS
    ),
)
TASK_BY_KEY = {task.key: task for task in TASKS}

# W5: the speed-up of these tasks from 1 thread to the most threads measured.
SCALING_TASKS = ("W1-sgd", "W1-adam")
# Training throughput shown as a share of the measured fp32 FMA peak (with W4's sgemm).
PEAK_SHARE_TASKS = ("W2", *(f"W6-{width}" for width in W6_WIDTHS), "W4")


def gflops(task: Task, value: float) -> float | None:
    """GFLOP/s of a measured value: samples/s of training, or W4's own figure."""
    if task.kind == "sgemm":
        return value
    if task.kind == "train" and task.unit == "samples/s":
        return value * task.arch.train_flops_per_sample() / 1e9
    return None


def tasks_for(workloads: tuple[str, ...]) -> list[Task]:
    """The tasks to run for the workloads asked for (W5 needs W1's)."""
    wanted = set(workloads)
    if "W5" in wanted:
        wanted.add("W1")
    return [task for task in TASKS if task.workload in wanted]


def parse_workloads(text: str) -> tuple[str, ...]:
    """ "W1,W3" -> ("W1", "W3"); raises ValueError naming the unknown ones."""
    names = tuple(dict.fromkeys(p.strip().upper() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        raise ValueError(
            f"unknown workload(s) {', '.join(unknown) or repr(text)}; "
            f"expected a comma-separated subset of {','.join(WORKLOADS)}"
        )
    return names
