"""Coefficients of the erfc approximation in csrc/elementwise/vmath.h, and their accuracy.

    python tools/erfc_coefficients.py      # needs mpmath

erfc(x) for x >= 0 is evaluated from two Chebyshev series (Clenshaw's recurrence):

* x < 1:      erfc(x) = 1 - x h(x^2),        h(s) = erf(sqrt(s)) / sqrt(s),  s in [0, 1]
* 1 <= x < 6: erfc(x) = e^(-x^2) g(1/x) / x, g(t) = x e^(x^2) erfc(x),      t in [1/6, 1]

Both functions are smooth on their intervals (h is entire; g is analytic away from
t = 0), so Chebyshev interpolation at Chebyshev points converges fast. The
coefficients come from 40-digit evaluations; the script prints them as C literals and
checks the double-precision Clenshaw sums against 40-digit erfc on a fine grid.
Beyond x = 6, erfc(x) < 2.2e-17 and erf(x) rounds to 1: the kernels use 0 there.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np

mp.mp.dps = 40


def chebyshev(f, a, b, degree):
    """Chebyshev coefficients c_0..c_degree of f on [a, b] (interpolation at the
    Chebyshev points of the first kind)."""
    count = degree + 1
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / count) for k in range(count)]
    values = [f((b - a) / 2 * u + (a + b) / 2) for u in nodes]
    coefficients = []
    for j in range(count):
        total = mp.fsum(
            values[k] * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / count) for k in range(count)
        )
        coefficients.append(2 * total / count)
    coefficients[0] /= 2
    return [float(c) for c in coefficients]


def clenshaw(c, u):
    """sum c_k T_k(u), in double, as the C code evaluates it."""
    b1 = b2 = np.zeros_like(u)
    for ck in reversed(c[1:]):
        b1, b2 = 2 * u * b1 - b2 + ck, b1
    return u * b1 - b2 + c[0]


def h(s):
    x = mp.sqrt(s)
    return mp.mpf(2) / mp.sqrt(mp.pi) if s == 0 else mp.erf(x) / x


def g(t):
    x = 1 / t
    return x * mp.exp(x * x) * mp.erfc(x)


def main():
    small = chebyshev(h, mp.mpf(0), mp.mpf(1), 14)
    large = chebyshev(g, mp.mpf(1) / 6, mp.mpf(1), 24)
    for name, c in (("FNN_ERFC_SMALL", small), ("FNN_ERFC_LARGE", large)):
        print(f"{name} ({len(c)} terms):")
        print(",\n".join(f"    {v!r}" for v in c))
    x = np.linspace(0, 6, 200_001)[:-1]
    s = x * x
    near = 1 - x * clenshaw(small, 2 * s - 1)
    t = 1 / np.maximum(x, 1)
    far = np.exp(-s) * clenshaw(large, (2 * t - (1 + 1 / 6)) / (1 - 1 / 6)) / np.maximum(x, 1)
    got = np.where(x < 1, near, far)
    exact = np.array([float(mp.erfc(mp.mpf(v))) for v in x[::50]])
    error = np.max(np.abs(got[::50] - exact) / exact)
    print(f"max relative error of erfc on [0, 6) (numpy's exp): {error:.2e}")


if __name__ == "__main__":
    main()
