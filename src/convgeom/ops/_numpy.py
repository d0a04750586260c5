"""NumPy for the ops, or one line naming the extra that installs it.

Every module of :mod:`convgeom.ops` imports NumPy from here, so the first op used (or any
submodule imported) without NumPy raises :class:`convgeom.errors.MissingExtraError` instead of
a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from ..errors import MissingExtraError

try:
    import numpy as np
    import numpy.typing as npt
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    if exc.name is None or exc.name.split(".")[0] != "numpy":
        raise
    raise MissingExtraError("convgeom.ops", "numpy", "ops") from exc

__all__ = ["np", "npt"]
