"""Optimizers: hyperparameters, the learning rate (constant or scheduled) and the state.

An optimizer is a setting of one of a few update rules (``StepSpec``); the backend
applies the rule in one pass over the model's flat parameter buffer. The state arrays
(velocity, moments, accumulators) are flat buffers of the same layout, created when the
model is compiled, and saved with the model. Formulations follow Keras: e.g. SGD with
momentum keeps ``v = momentum * v - lr * g; w += v``, Adam corrects the bias of its
moments through the step size, eps defaults to 1e-7. A state value below the smallest
normal floating-point number is stored as 0 (denormal arithmetic stalls the CPU; the
difference to keeping it is far below any weight's rounding).

``clipnorm`` (any optimizer) scales the gradient of all trainable parameters together so
that its L2 norm is at most clipnorm (PyTorch's ``clip_grad_norm_``; Keras calls this
``global_clipnorm``).
"""

from __future__ import annotations

import math
from typing import Union

import numpy as np

from .backends.spec import Opt, StepSpec
from .schedules import Schedule
from .schedules import from_config as schedule_from_config

LearningRate = Union[float, Schedule]


def _check_number(
    name: str,
    value,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value > low if low_open else value >= low)
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in {lo}{low}, {high}{hi}; got {value!r}")
    return value


class Optimizer:
    """Base class. Subclasses set ``kind`` and their hyperparameters."""

    kind: Opt

    def __init__(self, lr: LearningRate, clipnorm: float | None = None) -> None:
        if isinstance(lr, Schedule):
            self.lr: LearningRate = lr
        else:
            self.lr = _check_number("lr", lr, 0.0, low_open=True)
        self.clipnorm = (
            None if clipnorm is None else _check_number("clipnorm", clipnorm, 0.0, low_open=True)
        )
        self.iterations = 0  # steps taken; Adam's t is iterations after the increment
        self.states: list[np.ndarray] = []

    # ---- what the kernels see
    def step_spec(self) -> StepSpec:
        return StepSpec(self.kind, clipnorm=self.clipnorm or 0.0, **self._rule_params())

    def _rule_params(self) -> dict:
        return {}

    def learning_rate(self, epoch: int) -> float:
        """The learning rate for a (0-based) epoch."""
        return float(self.lr(epoch)) if isinstance(self.lr, Schedule) else float(self.lr)

    # ---- state
    def build(self, n_params: int, dtype) -> None:
        """Create zeroed state for a parameter buffer of n_params (keeps matching state)."""
        spec = self.step_spec()
        wanted = spec.n_states()
        fits = len(self.states) == wanted and all(
            s.shape == (n_params,) and s.dtype == np.dtype(dtype) for s in self.states
        )
        if not fits:
            self.states = [
                np.full(n_params, spec.initial_state_value(i), dtype=dtype) for i in range(wanted)
            ]
            self.iterations = 0

    # ---- persistence
    def get_config(self) -> dict:
        lr = self.lr.get_config() if isinstance(self.lr, Schedule) else self.lr
        return {
            "name": type(self).__name__,
            "lr": lr,
            "clipnorm": self.clipnorm,
            **self._rule_params_config(),
        }

    def _rule_params_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain, momentum or Nesterov gradient descent."""

    kind = Opt.SGD

    def __init__(
        self,
        lr: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        clipnorm: float | None = None,
    ) -> None:
        super().__init__(lr, clipnorm)
        self.momentum = _check_number("momentum", momentum, 0.0, 1.0, high_open=True)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False; got {nesterov!r}")
        self.nesterov = bool(nesterov)

    def _rule_params(self) -> dict:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    _rule_params_config = _rule_params


class Adam(Optimizer):
    kind = Opt.ADAM

    def __init__(
        self,
        lr: LearningRate = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-7,
        clipnorm: float | None = None,
    ) -> None:
        super().__init__(lr, clipnorm)
        self.beta1 = _check_number("beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = _check_number("beta2", beta2, 0.0, 1.0, high_open=True)
        self.eps = _check_number("eps", eps, 0.0, low_open=True)

    def _rule_params(self) -> dict:
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    _rule_params_config = _rule_params


class AdamW(Adam):
    """Adam with decoupled weight decay: w -= lr * weight_decay * w before each update."""

    kind = Opt.ADAMW

    def __init__(
        self,
        lr: LearningRate = 0.001,
        weight_decay: float = 0.004,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-7,
        clipnorm: float | None = None,
    ) -> None:
        super().__init__(lr, beta1, beta2, eps, clipnorm)
        self.weight_decay = _check_number("weight_decay", weight_decay, 0.0)

    def _rule_params(self) -> dict:
        return {**super()._rule_params(), "weight_decay": self.weight_decay}

    _rule_params_config = _rule_params


class RMSprop(Optimizer):
    kind = Opt.RMSPROP

    def __init__(
        self,
        lr: LearningRate = 0.001,
        rho: float = 0.9,
        eps: float = 1e-7,
        momentum: float = 0.0,
        clipnorm: float | None = None,
    ) -> None:
        super().__init__(lr, clipnorm)
        self.rho = _check_number("rho", rho, 0.0, 1.0, high_open=True)
        self.eps = _check_number("eps", eps, 0.0, low_open=True)
        self.momentum = _check_number("momentum", momentum, 0.0, 1.0, high_open=True)

    def _rule_params(self) -> dict:
        return {"rho": self.rho, "eps": self.eps, "momentum": self.momentum}

    _rule_params_config = _rule_params


class Adagrad(Optimizer):
    kind = Opt.ADAGRAD

    def __init__(
        self,
        lr: LearningRate = 0.001,
        initial_accumulator: float = 0.1,
        eps: float = 1e-7,
        clipnorm: float | None = None,
    ) -> None:
        super().__init__(lr, clipnorm)
        self.initial_accumulator = _check_number("initial_accumulator", initial_accumulator, 0.0)
        self.eps = _check_number("eps", eps, 0.0, low_open=True)

    def _rule_params(self) -> dict:
        return {"initial_accumulator": self.initial_accumulator, "eps": self.eps}

    _rule_params_config = _rule_params


_CLASSES = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}
NAMES = tuple(_CLASSES)

OptimizerLike = Union[str, Optimizer]


def get(identifier: OptimizerLike) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.strip().lower()
        if key in _CLASSES:
            return _CLASSES[key]()
        raise ValueError(f"unknown optimizer {identifier!r}; expected one of {', '.join(NAMES)}")
    raise TypeError(
        f"optimizer must be a name (str) or an fn.optimizers.Optimizer; "
        f"got {type(identifier).__name__}"
    )


def from_config(config: dict) -> Optimizer:
    config = dict(config)
    cls = _CLASSES[config.pop("name").lower()]
    if isinstance(config.get("lr"), dict):
        config["lr"] = schedule_from_config(config["lr"])
    return cls(**config)
