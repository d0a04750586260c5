"""``convgeom experiment``: train small CNN variants over a grid of kernel size, stride vs
pooling, padding, padding mode, dilation and depth, and measure what the tutorials claim.

One module per idea: :mod:`.config` (what an experiment is, caps, file parsing),
:mod:`.presets` (the named experiments and their claims; one assembled from a preset, a file
and overrides), :mod:`.data` (offline data sets),
:mod:`.models` (the CNNs, planned with convgeom's geometry and described by ``convgeom.trace``),
:mod:`.training` (one deterministic trial), :mod:`.stats` (confidence intervals, paired tests),
:mod:`.analysis` (summaries, comparisons, claim verdicts), :mod:`.backends` (local or Ray),
:mod:`.sweep` (running the grid, resume), :mod:`.store` (the output folder's files),
:mod:`.plots` and :mod:`.report`. The command line is :mod:`convgeom.cli.experiment`.

Importing this package imports nothing heavy: torch, NumPy, scikit-learn, matplotlib and Ray
are imported by the functions that need them (``pip install 'convgeom[experiments]'``, and
``'convgeom[ray]'`` for ``--backend ray``).
"""

from __future__ import annotations
