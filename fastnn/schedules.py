"""Learning-rate schedules, stepped once per epoch: ``schedule(epoch) -> lr``.

Pass one as an optimizer's ``lr``: ``fn.optimizers.SGD(lr=fn.schedules.StepDecay(0.1, 10))``.
"""

from __future__ import annotations

import math


class Schedule:
    """Base class: ``__call__(epoch)`` returns the learning rate for that (0-based) epoch."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        """The schedule's configuration as plain data."""
        raise NotImplementedError


def _positive(name: str, value, integer: bool = False):
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        expected = "an integer >= 1" if integer else "a number > 0"
        raise ValueError(f"{name} must be {expected}; got {value!r}")
    return value


class StepDecay(Schedule):
    """lr * factor ** (epoch // step_size)."""

    def __init__(self, lr: float, step_size: int, factor: float = 0.5) -> None:
        self.lr = float(_positive("lr", lr))
        self.step_size = int(_positive("step_size", step_size, integer=True))
        self.factor = float(_positive("factor", factor))

    def __call__(self, epoch: int) -> float:
        return self.lr * self.factor ** (epoch // self.step_size)

    def get_config(self) -> dict:
        return {
            "name": "StepDecay",
            "lr": self.lr,
            "step_size": self.step_size,
            "factor": self.factor,
        }

    def __repr__(self) -> str:
        return f"StepDecay(lr={self.lr}, step_size={self.step_size}, factor={self.factor})"


class CosineDecay(Schedule):
    """Cosine from lr down to alpha * lr over decay_steps epochs, then flat."""

    def __init__(self, lr: float, decay_steps: int, alpha: float = 0.0) -> None:
        self.lr = float(_positive("lr", lr))
        self.decay_steps = int(_positive("decay_steps", decay_steps, integer=True))
        if not (isinstance(alpha, (int, float)) and 0 <= alpha <= 1):
            raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}")
        self.alpha = float(alpha)

    def __call__(self, epoch: int) -> float:
        progress = min(epoch, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * ((1 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict:
        return {
            "name": "CosineDecay",
            "lr": self.lr,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
        }

    def __repr__(self) -> str:
        return f"CosineDecay(lr={self.lr}, decay_steps={self.decay_steps}, alpha={self.alpha})"


_CLASSES = {"StepDecay": StepDecay, "CosineDecay": CosineDecay}


def from_config(config: dict) -> Schedule:
    """The schedule a get_config() dict describes."""
    config = dict(config)
    return _CLASSES[config.pop("name")](**config)
