"""Receptive fields through traced graphs: the published table (Araujo et al., Distill 2019,
google-research/receptive_field) and small hand-checkable DAGs."""

from __future__ import annotations

from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import convgeom.tracing as ct  # noqa: E402


def _alexnet_v2() -> nn.Module:
    """TF-slim alexnet_v2 up to pool5: conv1 11x11/4 VALID, pools 3x3/2 VALID, other convs
    SAME (stride 1, odd kernels: TF SAME is symmetric k//2 here)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    )


def _vgg16() -> nn.Module:
    layers: list[nn.Module] = []
    cin = 3
    for width, repeat in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(repeat):
            layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU()]
            cin = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


@pytest.mark.parametrize("build, expected", [(_alexnet_v2, (195, 32, 64)), (_vgg16, (212, 32, 90))])
def test_published_table(build, expected):
    t = ct.trace(build(), (1, 3, 224, 224), findings=False)
    rf = t.receptive_field
    assert rf is not None and rf.exact
    for axis in range(2):
        assert (rf.size[axis], rf.stride[axis], rf.padding[axis]) == expected


def test_engine_layers_match_published_table():
    """The same numbers from the engine's rf_steps alone (TF dialect, SAME/VALID strings)."""
    import convgeom
    from convgeom.receptive_field import compose

    n = 224
    steps = []
    for op, k, s, pad in [("conv", 11, 4, "valid"), ("max_pool", 3, 2, "valid"), ("conv", 5, 1, "same"),
                          ("max_pool", 3, 2, "valid"), ("conv", 3, 1, "same"), ("conv", 3, 1, "same"),
                          ("conv", 3, 1, "same"), ("max_pool", 3, 2, "valid")]:
        g = getattr(convgeom, op)(n, k, s, pad, framework="tensorflow")
        steps.append(g.rf_steps[0])
        n = g.output[0]
    rf = compose(steps)
    assert (rf.size, rf.stride, rf.padding) == (195, 32, 64)


class Residual(nn.Module):
    def __init__(self, shortcut_pad: int = 0) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3, padding=1)
        self.b = nn.Conv2d(1, 1, 3, padding=1)
        self.shortcut_pad = shortcut_pad

    def forward(self, x):
        y = self.b(self.a(x))
        if self.shortcut_pad:
            x = F.pad(x, (self.shortcut_pad, -self.shortcut_pad, self.shortcut_pad, -self.shortcut_pad))
        return x + y


def test_residual_add_is_aligned_union():
    t = ct.trace(Residual(), (1, 1, 16, 16))
    rf = t.receptive_field
    # main path: two 3x3 convs: r = 5, P = 2; shortcut r = 1, P = 0: same centre 0 -> aligned
    assert rf.size == (5, 5) and rf.padding == (2, 2) and rf.stride == (1, 1) and rf.exact
    assert not t.findings_with("misaligned-merge")
    assert t.layer("add").op == "add"


def test_misaligned_merge_is_reported_and_unioned():
    t = ct.trace(Residual(shortcut_pad=1), (1, 1, 16, 16))
    issues = t.findings_with("misaligned-merge")
    assert issues and issues[0].severity == "warning"
    rf = t.receptive_field
    # shortcut shifted by one: unit 0 sees input -1 (centre -1); main path [-2, 2]: union [-2, 2]
    assert rf.size == (5, 5) and rf.padding == (2, 2) and not rf.exact


class Branches(nn.Module):
    """Inception-style: 1x1, 3x3 and dilated 3x3 branches concatenated along channels."""

    def __init__(self) -> None:
        super().__init__()
        self.p1 = nn.Conv2d(2, 2, 1)
        self.p3 = nn.Conv2d(2, 2, 3, padding=1)
        self.pd = nn.Conv2d(2, 2, 3, padding=2, dilation=2)

    def forward(self, x):
        return torch.cat([self.p1(x), self.p3(x), self.pd(x)], dim=1)


def test_concat_branches_with_dilation():
    t = ct.trace(Branches(), (1, 2, 9, 9))
    rf = t.receptive_field
    assert rf.size == (5, 5) and rf.padding == (2, 2) and rf.exact  # dilated 3x3 = 5 wide
    assert t.layer("cat").input_shapes == ((1, 2, 9, 9),) * 3
    assert t.output_shape == (1, 6, 9, 9)


def test_transposed_conv_fractional_stride():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.ConvTranspose2d(1, 1, 3, 2, 1, 1))
    t = ct.trace(model, (1, 1, 8, 8), findings=False)
    down, up = t.layers
    assert down.receptive_field.stride == (2, 2)
    # RFStep.transposed: kernel (3-1)/2 + 1 = 2, stride 1/2, padding (3-1-1)/2 = 1/2
    assert up.receptive_field.size == (5, 5)
    assert up.receptive_field.stride == (1, 1)
    assert up.receptive_field.padding == (2, 2)
    assert up.receptive_field.center == (0, 0)


def test_nearest_upsampling_stride_is_fraction():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Upsample(scale_factor=2), nn.Conv2d(1, 1, 3, padding=1))
    t = ct.trace(model, (1, 1, 8, 8), findings=False)
    up = t.layers[1]
    assert up.op == "interpolate" and up.receptive_field.stride == (1, 1)
    # conv: r=3 S=2 P=1; nearest x2: S=1; 3x3 conv: r = 3 + 2*1 = 5 (two source units)
    assert t.receptive_field.size == (5, 5) and t.receptive_field.padding == (2, 2)


def test_bilinear_upsampling_two_tap_tent():
    model = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
    t = ct.trace(model, (1, 1, 4, 4), findings=False)
    rf = t.receptive_field
    assert rf.size == (2, 2) and rf.stride == (Fraction(1, 2),) * 2 and rf.padding == (Fraction(3, 4),) * 2


def test_global_pool_and_flatten_make_rf_whole():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    t = ct.trace(model, (1, 3, 10, 12), findings=False)
    assert all(t.receptive_field.whole)
    assert t.last_spatial_receptive_field.size == (3, 3)


def test_squeeze_excitation_sets_global_context():
    class SE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)
            self.fc = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            y = self.conv(x)
            s = torch.sigmoid(self.fc(F.adaptive_avg_pool2d(y, 1)))
            return y * s

    t = ct.trace(SE(), (1, 4, 8, 8), findings=False)
    rf = t.receptive_field
    assert rf.size == (3, 3) and rf.global_context and not any(rf.whole)


def test_permute_and_linear_on_channels_keep_spatial_rf():
    """ConvNeXt style: NCHW -> NHWC, LayerNorm + Linear over channels, back to NCHW."""

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dw = nn.Conv2d(4, 4, 7, padding=3, groups=4)
            self.norm = nn.LayerNorm(4)
            self.pw = nn.Linear(4, 4)

        def forward(self, x):
            y = self.dw(x).permute(0, 2, 3, 1)
            y = self.pw(self.norm(y))
            return x + y.permute(0, 3, 1, 2)

    t = ct.trace(Block(), (1, 4, 12, 12), findings=False)
    rf = t.receptive_field
    assert rf.size == (7, 7) and rf.exact and not rf.global_context and not any(rf.whole)


def test_slicing_is_a_crop():
    class Crop(nn.Module):
        def forward(self, x):
            return x[:, :, 2:, 1::2]

    t = ct.trace(Crop(), (1, 1, 10, 10), findings=False)
    rf = t.receptive_field
    assert rf.padding == (-2, -1) and rf.stride == (1, 2) and rf.size == (1, 1)
    assert t.output_shape == (1, 1, 8, 5)


def test_non_square_per_axis():
    model = nn.Sequential(nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(1, 0), dilation=(2, 1)))
    t = ct.trace(model, (1, 1, 9, 21), findings=False)
    rf = t.receptive_field
    assert rf.size == (5, 5) and rf.stride == (1, 2) and rf.padding == (1, 0)
