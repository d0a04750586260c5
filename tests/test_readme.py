"""The README's API examples, checked against live PyTorch where it can produce the value."""

from __future__ import annotations

import pytest

import convgeom as cg

torch = pytest.importorskip("torch")
F = torch.nn.functional


def test_front_page_examples() -> None:
    r = cg.conv(input=(7, 7), kernel=3, stride=2, padding=1)
    assert r.output == tuple(F.conv2d(torch.zeros(1, 1, 7, 7), torch.zeros(1, 1, 3, 3), stride=2, padding=1).shape[2:])
    assert r.pad == ((1, 1), (1, 1))
    assert cg.conv(input=8, kernel=3, stride=2, padding="same", framework="tensorflow").pad == ((0, 1),)
    y = F.conv_transpose1d(torch.zeros(1, 1, 3), torch.zeros(1, 1, 3), stride=2, padding=1, output_padding=1)
    assert cg.conv_transpose(input=3, kernel=3, stride=2, padding=1, output_padding=1).output == (y.shape[-1],)
    m = F.max_pool1d(torch.zeros(1, 1, 5), 2, 2, 1, ceil_mode=True)
    assert cg.max_pool(input=5, kernel=2, stride=2, padding=1, ceil_mode=True).output == (m.shape[-1],)
    assert cg.avg_pool(input=5, kernel=3, stride=2, padding="same", framework="onnx").pad == ((1, 1),)
    assert cg.conv(input=2, kernel=3, framework="jax").output == (0,)
    with pytest.raises(RuntimeError):
        F.conv1d(torch.zeros(1, 1, 2), torch.zeros(1, 1, 3))
    with pytest.raises(cg.GeometryError, match="output would be 0"):
        cg.conv(input=2, kernel=3)


def test_solving_examples() -> None:
    sp = cg.same_padding(224, 3, 2, framework="tensorflow")
    assert sp.pad == ((0, 1),) and sp.static is False and sp.torch_pad == (0, 1)
    x = F.pad(torch.zeros(1, 1, 224), sp.torch_pad)
    assert F.conv1d(x, torch.zeros(1, 1, 3), stride=2).shape[-1] == sp.output[0]
    assert cg.padding_for_output(28, 28, kernel=5).pad == ((2, 2),)
    for c in cg.search(224, 112, kernels=range(1, 8)):
        out = F.conv1d(torch.zeros(1, 1, 224), torch.zeros(1, 1, c.kernel), stride=c.stride, padding=c.padding,
                       dilation=c.dilation)
        assert out.shape[-1] == 112
    inv = cg.inverse_transpose(cg.conv(8, 3, 2, 1))
    assert inv.output_padding == (1,) and inv.output == (8,)
    assert cg.same_profile(3, 2, sizes=range(1, 33)).asymmetric_inputs == tuple(range(2, 33, 2))
