"""The four worked examples of the classic introductions, computed by fastnn, exactly.

1. One ReLU neuron with inputs (0, 0.5, 1), weights (-1, -0.5, 0.5) and bias 1 outputs 1.25.
2. A 2-2-1 ReLU network whose weights are set by hand computes XOR.
3. The mean squared error of predictions (1, 2, 0, 3) against targets (-1, -1, 0, 2) is 3.5.
4. One step of gradient descent on a single weight w = 5 (input 2, target 6, MSE, lr 0.1):
   the gradient is 16 and w becomes 3.4.

    python examples/worked_examples.py        # instant; --fast is accepted, changes nothing
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import fastnn as fn


def one_neuron() -> float:
    model = fn.Model([fn.Dense(1, activation="relu")], input_dim=3, dtype="float64")
    neuron = model.layers[0]
    neuron.W = [[-1.0], [-0.5], [0.5]]  # one column: the neuron's three weights
    neuron.b = [1.0]
    return float(model.predict([[0.0, 0.5, 1.0]])[0, 0])


def xor_by_hand() -> np.ndarray:
    # h1 = relu(x1 + x2) counts the ones, h2 = relu(x1 + x2 - 1) fires only for (1, 1);
    # h1 - 2 h2 is then 0, 1, 1, 0.
    model = fn.Model([fn.Dense(2, "relu"), fn.Dense(1)], input_dim=2)
    hidden, out = model.layers
    hidden.W = [[1.0, 1.0], [1.0, 1.0]]
    hidden.b = [0.0, -1.0]
    out.W = [[1.0], [-2.0]]
    out.b = [0.0]
    return model.predict([[0, 0], [0, 1], [1, 0], [1, 1]])[:, 0]


def mse_by_hand() -> float:
    return fn.losses.mse([-1, -1, 0, 2], [1, 2, 0, 3])


def one_gradient_step() -> tuple[float, float]:
    model = fn.Model([fn.Dense(1, use_bias=False)], input_dim=1, dtype="float64")
    model.layers[0].W = [[5.0]]
    model.compile(loss="mse", optimizer=fn.optimizers.SGD(lr=0.1))
    (gradient,) = model.gradients([[2.0]], [6.0])  # d/dw (2w - 6)² = 4 (2w - 6) = 16
    model.fit([[2.0]], [6.0], epochs=1, batch_size=1, verbose=0)
    return float(gradient[0, 0]), float(model.layers[0].W[0, 0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="accepted for symmetry")
    parser.parse_args(argv)

    output = one_neuron()
    print(f"1. one ReLU neuron: {output}")
    assert output == 1.25

    xor = xor_by_hand()
    print(f"2. hand-set XOR network on (0,0) (0,1) (1,0) (1,1): {xor.tolist()}")
    assert xor.tolist() == [0, 1, 1, 0]

    mse = mse_by_hand()
    print(f"3. MSE of (1, 2, 0, 3) against (-1, -1, 0, 2): {mse}")
    assert mse == 3.5

    gradient, w = one_gradient_step()
    print(f"4. gradient {gradient}, w after one SGD step: {w:.10g}")
    assert gradient == 16.0 and abs(w - 3.4) < 1e-12
    return 0


if __name__ == "__main__":
    sys.exit(main())
