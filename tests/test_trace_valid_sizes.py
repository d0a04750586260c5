"""valid_input_sizes: which sizes pass through a model, which keep their size."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import convgeom.tracing as ct  # noqa: E402


@pytest.fixture(scope="module")
def unet():
    nets = pytest.importorskip("monai.networks.nets")
    return nets.UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(4, 8, 16), strides=(2, 2),
                     num_res_units=0).eval()


def test_unet_valid_and_same_size_match_real_forward(unet):
    sizes = range(8, 41)
    result = ct.valid_input_sizes(unet, (1, 1, 32, 32), sizes)
    for n in sizes:
        try:
            with torch.no_grad():
                out = unet(torch.randn(1, 1, n, n))
        except RuntimeError:
            assert n not in result.valid, n
            continue
        assert n in result.valid, n
        assert (tuple(out.shape[2:]) == (n, n)) == (n in result.same_size), n
    assert result.same_size == tuple(n for n in sizes if n % 4 == 0)
    assert result.nearest(30, same_size=True) == (28, 32)
    assert 30 not in result.valid and "cat" in dict(result.failures)[30]


def test_failing_sizes_and_period():
    nn = torch.nn

    class Skip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.down = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, x):
            return torch.cat([x, self.up(self.up(self.down(self.down(x))))], 1)

    result = ct.valid_input_sizes(Skip(), (1, 1, 16, 16), range(4, 30), axes=[1])
    assert result.valid == tuple(range(4, 30, 4)) and result.period == 4
    assert result.same_size == result.valid
    n, why = result.failures[0]
    assert n == 5 and "cat" in why
    for size in (5, 8):
        try:
            Skip()(torch.randn(1, 1, 16, size))
            ok = True
        except RuntimeError:
            ok = False
        assert ok == (size in result.valid)
