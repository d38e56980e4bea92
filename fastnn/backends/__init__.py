"""Numeric backends: the NumPy reference and the native C kernels (see base.py)."""
