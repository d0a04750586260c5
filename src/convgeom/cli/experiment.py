"""``convgeom experiment``: the command lives in :mod:`convgeom.experiments.command` (with the
rest of the experiments package); this module is its row in the CLI's command table."""

from __future__ import annotations

from ..experiments.command import add_arguments, run

__all__ = ["add_arguments", "run"]
