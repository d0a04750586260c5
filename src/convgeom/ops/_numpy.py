"""NumPy for the ops, or one line naming the extra that installs it.

Every module of :mod:`convgeom.ops` imports NumPy from here, so the first op used (or any
submodule imported) without NumPy raises :class:`convgeom.errors.MissingExtraError` (through
:mod:`convgeom.optional`) instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from ..optional import needed

with needed("convgeom.ops"):  # exercised in a subprocess by tests/test_ops_extras.py
    import numpy as np
    import numpy.typing as npt

__all__ = ["np", "npt"]
