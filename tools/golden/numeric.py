"""Small NHWC numeric cases for the NumPy reference-ops test (tensorflow_ops.json): drawing a
case needs no TensorFlow; the TensorFlow runner executes it and records the output."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .writing import f32list

# the kind of case number i is KINDS[i % len(KINDS)]
KINDS = ["conv2d"] * 24 + ["conv2d_dilated"] * 8 + ["max_pool2d"] * 18 + ["avg_pool2d"] * 18
COUNT = 72

Float32Array = NDArray[np.float32]


@dataclass(frozen=True)
class NumericCase:
    """tf.nn.conv2d (x NHWC, filter HWIO) or tf.nn.max_pool2d / avg_pool2d on x."""

    op: str  # conv2d | max_pool2d | avg_pool2d
    padding: str  # SAME | VALID
    strides: list[int]
    x: Float32Array
    f: Float32Array | None = None  # conv2d
    dilations: list[int] | None = None  # conv2d
    ksize: list[int] | None = None  # pools

    @property
    def call(self) -> str:
        st, pad = self.strides, self.padding
        if self.f is not None and self.dilations is not None:
            dil = self.dilations
            return (f"tf.nn.conv2d(x{list(self.x.shape)}, filter{list(self.f.shape)}, "
                    f"strides=[1,{st[0]},{st[1]},1], padding={pad!r}, "
                    f"dilations=[1,{dil[0]},{dil[1]},1])")
        kh, kw = self.ksize or []
        return (f"tf.nn.{self.op}(x{list(self.x.shape)}, ksize=[{kh},{kw}], "
                f"strides=[{st[0]},{st[1]}], padding={pad!r})")

    def record(self, y: NDArray[Any]) -> dict[str, Any]:
        """The case as recorded, with the framework's output y."""
        rec: dict[str, Any] = {"op": self.op, "padding": self.padding}
        if self.f is not None:
            rec.update(strides=self.strides, dilations=self.dilations, input=f32list(self.x),
                       filter=f32list(self.f))
        else:
            rec.update(ksize=self.ksize, strides=self.strides, input=f32list(self.x))
        rec.update(call=self.call, output_shape=list(y.shape), output=f32list(y))
        return rec


def _values(rng: np.random.Generator, shape: tuple[int, ...]) -> Float32Array:
    """Uniform in [-1, 1], rounded to 3 decimals (short, readable records)."""
    return np.round(rng.uniform(-1, 1, size=shape), 3).astype(np.float32)


def _pair(rng: np.random.Generator, lo: int, hi: int) -> list[int]:
    return [int(v) for v in rng.integers(lo, hi, size=2)]


def _conv_case(rng: np.random.Generator, kind: str, h: int, w: int,
               pad: str) -> NumericCase | None:
    cin, cout = _pair(rng, 1, 3)
    kh, kw = _pair(rng, 1, 5)
    if kind == "conv2d_dilated":
        st, dil = [1, 1], _pair(rng, 1, 4)
        if dil == [1, 1]:
            dil = [2, 1]
    else:
        st, dil = _pair(rng, 1, 4), [1, 1]
    if pad == "VALID" and ((kh - 1) * dil[0] + 1 > h or (kw - 1) * dil[1] + 1 > w):
        return None  # empty output: nothing to compare numerically
    x = _values(rng, (1, h, w, cin))
    return NumericCase("conv2d", pad, st, x, f=_values(rng, (kh, kw, cin, cout)), dilations=dil)


def _pool_case(rng: np.random.Generator, kind: str, h: int, w: int,
               pad: str) -> NumericCase | None:
    c = int(rng.integers(1, 3))
    kh, kw = _pair(rng, 1, 5)
    st = _pair(rng, 1, 4)
    if pad == "VALID" and (kh > h or kw > w):
        return None  # empty output (oneDNN max pool even crashes the process)
    return NumericCase(kind, pad, st, _values(rng, (1, h, w, c)), ksize=[kh, kw])


def draw_case(rng: np.random.Generator, kind: str) -> NumericCase | None:
    """The next case of this kind, or None where its output would be empty (skip it)."""
    h, w = _pair(rng, 1, 8)
    pad = "SAME" if rng.random() < 0.5 else "VALID"
    if kind.startswith("conv2d"):
        return _conv_case(rng, kind, h, w, pad)
    return _pool_case(rng, kind, h, w, pad)
