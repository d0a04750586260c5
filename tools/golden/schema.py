"""What a golden record is: the configuration drawn, the result observed, and their JSON keys.

A configuration (``Config``) travels as a plain JSON object from the parent process to a worker
and back into the record; keys starting with ``_`` are private hints for the runner and the pad
inference and are never written.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple, TypedDict

FRAMEWORKS = ("tensorflow", "jax", "onnx")
ONNX_OPSET = 21
GENERATOR = "tools/make_golden.py"  # recorded in every file's meta: the command to regenerate

# JSON objects as recorded; their keys are documented in the package docstring
Result = dict[str, Any]
Extras = dict[str, Any]
# "valid" | "same" | ... | [[before, after], ...] | {"raw": [[lo, hi], ...]} | {"auto_pad", "pads"}
Padding = str | list[list[int]] | dict[str, Any]


class _Geometry(TypedDict):
    op: str
    input: list[int]
    kernel: list[int]
    stride: list[int]
    dilation: list[int]
    padding: Padding
    output_padding: list[int] | None
    output_size: list[int] | None
    ceil_mode: bool
    count_include_pad: bool | None


class Config(_Geometry, total=False):
    call: str  # what was executed, in the framework's own words
    _divisors: list[str]  # average-pool divisor rules to try, in order
    _pad_decl: list[int]  # declared end padding of each axis (explicit pads, 'valid')
    _flip: bool  # the framework's transposed conv uses the flipped kernel (JAX)
    _attrs: dict[str, Any]  # ONNX node attributes


class Item(NamedTuple):
    """One configuration to run, with the seed of its data and whether to run it symbolically."""

    cfg: Config
    seed: int
    symbolic: bool


def base_cfg(op: str, n: Sequence[int], k: Sequence[int], s: Sequence[int], d: Sequence[int],
             padding: Padding, output_padding: list[int] | None = None,
             output_size: list[int] | None = None, ceil_mode: bool = False,
             count_include_pad: bool | None = None) -> Config:
    return {"op": op, "input": list(n), "kernel": list(k), "stride": list(s),
            "dilation": list(d), "padding": padding, "output_padding": output_padding,
            "output_size": output_size, "ceil_mode": bool(ceil_mode),
            "count_include_pad": count_include_pad}


def public_items(cfg: Config) -> dict[str, Any]:
    """The keys of cfg that are written to the record (private ``_`` hints dropped)."""
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


def cfg_key(cfg: Config) -> str:
    """Identity of a configuration: two draws with the same key are the same experiment."""
    return json.dumps({k: v for k, v in public_items(cfg).items() if k != "call"},
                      sort_keys=True)


def clean_record(cfg: Config, result: Result) -> dict[str, Any]:
    rec = public_items(cfg)
    rec["result"] = result
    return rec


def effective_kernel(k: Sequence[int], d: Sequence[int]) -> list[int]:
    """Dilated kernel extent per axis, d*(k-1)+1 (Dumoulin & Visin, relationship 15)."""
    return [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
