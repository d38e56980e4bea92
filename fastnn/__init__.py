"""fastnn: multilayer perceptrons on the CPU, fast and readable."""

from ._version import __version__

__all__ = ["__version__"]
