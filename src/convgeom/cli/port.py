"""``convgeom port``: the command lives with its feature, in :mod:`convgeom.port.command`."""

from __future__ import annotations

from ..port.command import add_arguments, run

__all__ = ["add_arguments", "run"]
