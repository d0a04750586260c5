"""The im2col buffer stays under ``max_buffer_bytes``: the chunk planner never asks for more,
and peak traced memory of a large convolution stays far below an unchunked im2col."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from convgeom.ops import conv
from convgeom.ops._common import chunk_length
from convgeom.ops._flat import make_layout, plan_chunks


@pytest.mark.parametrize("limit", [2**12, 2**16, 2**20, 256 * 2**20])
def test_chunks_respect_limit(limit: int) -> None:
    outputs = (40, 52)
    layout = make_layout((3, 3), (1, 1), (1, 1), outputs)
    column_bytes = 64 * 9 * 4
    columns = chunk_length(column_bytes, 10**9, limit, limit)
    chunks = plan_chunks(layout, 4, outputs, columns)
    assert max(c.length for c in chunks) * column_bytes <= max(limit, column_bytes)
    covered = sum(c.count * (math.prod(outputs) if c.level < 0 else math.prod(outputs[c.level + 1:]))
                  for c in chunks)
    assert covered == 4 * math.prod(outputs)


@pytest.mark.parametrize("limit", [256 * 2**10, 2**20, 4 * 2**20])
def test_peak_memory_is_bounded(limit: int) -> None:
    """Beyond the padded input copy and the output, an op allocates at most ``max_buffer_bytes``
    (256 KiB runs the flat im2col kernel here, 1 and 4 MiB the row-tap kernel)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 32, 48, 48)).astype(np.float32)  # 1.2 MB
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    conv(x, w, padding=1, max_buffer_bytes=limit)
    tracemalloc.start()
    out = conv(x, w, padding=1, max_buffer_bytes=limit)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    padded_copy = x.nbytes * (50 * 50) / (48 * 48)  # the flat grid
    assert peak < padded_copy + out.nbytes + limit + 2**17  # and the plans, Python objects
    assert peak < x.nbytes * 9 + out.nbytes  # far below the im2col matrix of the whole batch
