"""Every worked example of the tutorials in shared/seeds/, computed by convgeom and, where
PyTorch can run it, checked against live PyTorch as well."""

from __future__ import annotations

import warnings

import pytest

import convgeom as cg
from convgeom.explanation import explain, explain_call

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_out(n: int, k: int, s: int, p: int | str, ndim: int = 2) -> tuple[int, ...]:
    x = torch.zeros((1, 1) + (n,) * ndim)
    w = torch.zeros((1, 1) + (k,) * ndim)
    from _torch_ops import CONV

    conv = CONV[ndim]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(conv(x, w, stride=s, padding=p).shape[2:])


# seed 000 / 002 / 001 quiz 3: input 7, kernel 3, stride 2, padding 1 -> 4
def test_seed_7_k3_s2_p1() -> None:
    r = cg.conv(input=(7, 7), kernel=3, stride=2, padding=1)
    assert r.output == (4, 4) == torch_out(7, 3, 2, 1)
    assert r.pad == ((1, 1), (1, 1))
    text = explain(cg.conv(input=7, kernel=3, stride=2, padding=1))
    assert "floor((7 + 2*1 - 3) / 2) + 1 = floor(6 / 2) + 1 = 4" in text


# seed 002 self-check: 28, k5, p0 -> 24; padding (k-1)/2 = 2 -> 28
def test_seed_28_k5() -> None:
    assert cg.conv(28, 5, 1, 0).output == (24,) == torch_out(28, 5, 1, 0, 1)
    assert cg.conv(28, 5, 1, 2).output == (28,) == torch_out(28, 5, 1, 2, 1)
    assert "floor((28 + 2*0 - 5) / 1) + 1 = floor(23 / 1) + 1 = 24" in explain(cg.conv(28, 5))
    from convgeom.solve import padding_for_output

    assert padding_for_output(28, 28, 5).pad == ((2, 2),)


# seed 001: 1x1x5x5 image, zero padding 1 -> 7x7, 3x3 kernel stride 2 -> 3x3
def test_seed_001_pipeline_shapes() -> None:
    r = cg.conv(input=(5, 5), kernel=3, stride=2, padding=1)
    assert tuple(a.padded_input for a in r.axes) == (7, 7)
    assert r.output == (3, 3) == torch_out(5, 3, 2, 1)
    assert r.axes[0].window_starts == (-1, 1, 3)


# seed 001 quiz 4: Conv2d(k3, s2, p0) on a 1x1 input fails
def test_seed_001_quiz4_rejects_1x1() -> None:
    with pytest.raises(RuntimeError):
        torch_out(1, 3, 2, 0)
    with pytest.raises(cg.GeometryError, match=r"padding >= 1"):
        cg.conv(input=(1, 1), kernel=3, stride=2, padding=0)
    assert "rejected" in explain_call("conv", input=(1, 1), kernel=3, stride=2, padding=0)


# seed 001 quiz 5 / seed 003: padding (k-1)/2 keeps 7x7 with k5 s1
def test_seed_001_quiz5_same_padding() -> None:
    assert cg.conv((7, 7), 5, 1, 2).output == (7, 7) == torch_out(7, 5, 1, 2)
    from convgeom.solve import padding_for_output

    assert padding_for_output((7, 7), (7, 7), 5).pad_before == (2, 2)
    assert cg.conv((7, 7), 5, padding="same").pad == ((2, 2), (2, 2))


# seed 000 pitfalls: 32x32, k5 s2 p0 vs p2; k3 s3 p0 vs p1
def test_seed_000_pitfalls() -> None:
    assert cg.conv((32, 32), 5, 2, 0).output == torch_out(32, 5, 2, 0) == (14, 14)
    assert cg.conv((32, 32), 5, 2, 2).output == torch_out(32, 5, 2, 2) == (16, 16)
    no_pad = cg.conv(32, 3, 3, 0)
    assert no_pad.output == torch_out(32, 3, 3, 0, 1)
    assert no_pad.dropped == (2,)  # edges ignored: windows at 0..29, columns 30 and 31 unread
    assert cg.conv(32, 3, 3, 1).output == torch_out(32, 3, 3, 1, 1)


# seed 003: 5x5 with a 3x3 filter and no padding -> 3x3; sample code 32 -> 16
def test_seed_003() -> None:
    assert cg.conv((5, 5), 3).output == (3, 3) == torch_out(5, 3, 1, 0)
    r = cg.conv((32, 32), 3, 2, 1)
    assert r.output == (16, 16) == torch_out(32, 3, 2, 1)
    assert "floor((32 + 2*1 - 3) / 2) + 1 = floor(31 / 2) + 1 = 16" in explain(cg.conv(32, 3, 2, 1))
    # "the pixels at the edges are only seen a few times": coverage of a same conv
    cov = cg.conv(5, 3, padding=1).axes[0].coverage()
    assert cov[0] < cov[2]


# seed 004: Keras Conv2D(k3, s2, 'same') on 28x28 -> 14x14; 'same' may be asymmetric
def test_seed_004_tensorflow_same() -> None:
    r = cg.conv((28, 28), 3, 2, "same", framework="tensorflow")
    assert r.output == (14, 14)
    assert r.pad == ((0, 1), (0, 1))  # even input, stride 2: the extra zero goes after
    assert cg.conv((28, 28), 3, 1, "same", framework="tensorflow").output == (28, 28)
    assert cg.conv(28, 3, 1, "valid", framework="tensorflow").output == (26,)
    # stride with dilation: Keras refuses the combination
    with pytest.raises(cg.GeometryError, match="dilation"):
        cg.conv((28, 28), 3, 2, "same", 2, framework="tensorflow")


# Anchor: k=3, s=2 on 224: TF pads (0,1), PyTorch padding=1 pads (1,1): same size, shifted
def test_anchor_port_shift() -> None:
    tf = cg.conv(224, 3, 2, "same", framework="tensorflow")
    pt = cg.conv(224, 3, 2, 1)
    assert tf.output == pt.output == (112,)
    assert tf.pad == ((0, 1),) and pt.pad == ((1, 1),)
    assert tf.axes[0].window_starts[0] - pt.axes[0].window_starts[0] == 1
