"""Ported layers against the real frameworks, live: for random layers of each source framework
(PyTorch, Keras on the torch backend, JAX lax, ONNX Runtime) the source runs with its own API,
the code ``convgeom.port`` writes runs in each other framework with the weights
``convgeom.port_weights`` converts, and the outputs agree to 1e-5 (float32). Refusals must be
one of the known reasons; every ordered pair must have hundreds of verified layers.

Keras 'same' average pools with asymmetric pads are left to the TensorFlow golden test: Keras
on the torch backend counts replicated edge cells there (see ``keras_torch_backend_differs``).

``CONVGEOM_PORT_CONFIGS`` sets the layers per source framework (default 200).
"""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest

import convgeom
from _port_harness import (
    FRAMEWORKS,
    TOLERANCE,
    import_frameworks,
    keras_torch_backend_differs,
    known_refusal,
    run_config,
    run_ported,
    tool,
)
from convgeom.port.verify import relative_error

PER_SOURCE = int(os.environ.get("CONVGEOM_PORT_CONFIGS", "200"))
MIN_VERIFIED = 0.75  # share of the layers each pair must verify (the rest: known refusals)


@pytest.fixture(scope="module", autouse=True)
def _frameworks() -> None:
    import_frameworks()


@pytest.mark.parametrize("source", FRAMEWORKS)
def test_ported_code_computes_the_source_layer(source: str) -> None:
    rng = random.Random(2024 + FRAMEWORKS.index(source))
    verified: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    failures: list[str] = []
    worst: dict[str, float] = {}
    drawn = 0
    while drawn < PER_SOURCE:
        config = tool.draw_config(rng, source)
        if keras_torch_backend_differs(config):
            continue
        drawn += 1
        data, expected = run_config(config, seed=drawn)
        for target in FRAMEWORKS:
            if target == source:
                continue
            try:
                ported = convgeom.port.port(**config, target=target)
            except convgeom.port.PortError as err:
                if not known_refusal(str(err)):
                    failures.append(f"{config} -> {target}: unexpected refusal {err}")
                refused[target] += 1
                continue
            try:
                got = run_ported(config, data, target, ported.code)
            except Exception as err:  # the framework refused code convgeom wrote: a bug
                failures.append(f"{config} -> {target}: {type(err).__name__}: {str(err).splitlines()[0]}")
                continue
            error = relative_error(got, expected)
            worst[target] = max(worst.get(target, 0.0), error)
            if error >= TOLERANCE:
                failures.append(f"{config} -> {target}: error {error:.3g}, shapes {got.shape} {expected.shape}")
            verified[target] += 1
    summary = {t: (verified[t], refused[t], f"{worst.get(t, 0.0):.2g}") for t in FRAMEWORKS if t != source}
    print(f"\n{source} -> (verified, refused, max error): {summary}")
    assert not failures, f"{len(failures)} failures, first: " + "\n".join(failures[:10])
    for target, (count, _, _) in summary.items():
        assert count >= MIN_VERIFIED * PER_SOURCE, f"{source} -> {target}: only {count} verified of {PER_SOURCE}"
