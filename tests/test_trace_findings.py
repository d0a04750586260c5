"""Each diagnostic fires on a small model built to trigger it, with a computed fix."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import convgeom  # noqa: E402
import convgeom.tracing as ct  # noqa: E402


def codes(t):
    return {f.code for f in t.findings}


def test_dropped_rows_with_fix_checked_by_engine():
    t = ct.trace(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2)), (1, 1, 10, 11))
    (f,) = [f for f in t.findings if f.code == "dropped-input"]
    assert f.severity == "warning" and f.axis == 0 and "last 1 input row along H" in f.message
    assert "padding (0, 1)" in f.fix
    assert convgeom.conv(10, 3, 2, ((0, 1),), framework="onnx").axes[0].dropped == 0


def test_gap_stride_larger_than_kernel():
    t = ct.trace(nn.Sequential(nn.Conv2d(1, 1, 1, stride=2)), (1, 1, 8, 8))
    (f,) = t.findings_with("gap")
    assert "1 of every 2" in f.message and "along H and W" in f.message and f.axis is None


def test_gap_from_stride_and_dilation_sharing_a_factor():
    t = ct.trace(nn.Sequential(nn.Conv1d(1, 1, 3, stride=2, dilation=2)), (1, 1, 21))
    assert t.findings_with("gap")


def test_ceil_mode_window():
    t = ct.trace(nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True)), (1, 1, 5, 4))
    (f,) = t.findings_with("ceil-mode-window")
    assert f.axis == 0 and "starts at input index 4" in f.message and "reads 1 of its 2" in f.message
    assert "ceil_mode=False with padding (0, 1)" in f.fix


def test_even_kernel_same():
    t = ct.trace(nn.Sequential(nn.Conv2d(1, 1, 4, padding="same")), (1, 1, 8, 8))
    (f,) = t.findings_with("even-kernel-same")
    assert "(1, 2)" in f.message


def test_same_padding_differs_between_frameworks():
    t = ct.trace(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1)), (1, 1, 8, 7))
    found = t.findings_with("same-padding-differs")
    assert len(found) == 1 and found[0].axis == 0  # 8: TF pads (0, 1); 7: TF pads (1, 1) like PyTorch
    assert "F.pad the input by (0, 1)" in found[0].fix


def test_checkerboard():
    t = ct.trace(nn.Sequential(nn.ConvTranspose2d(1, 1, 3, stride=2)), (1, 1, 4, 4))
    assert t.findings_with("checkerboard")
    t2 = ct.trace(nn.Sequential(nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)), (1, 1, 4, 4))
    assert not t2.findings_with("checkerboard")


def test_aliasing_is_info():
    t = ct.trace(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.AvgPool2d(2)), (1, 1, 8, 8))
    found = t.findings_with("aliasing")
    assert len(found) == 1 and found[0].severity == "info" and found[0].layer == "0"


class EncDec(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(1, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 1, 2, stride=2)

    def forward(self, x):
        return self.up(self.down(x))


def test_output_size_mismatch_with_nearest_same_size_inputs():
    t = ct.trace(EncDec(), (1, 1, 9, 8))
    (f,) = t.findings_with("output-size-mismatch")
    assert f.axis == 0 and "9 to output 10" in f.message and "8 or 10" in f.fix


def test_rf_smaller_than_input_and_exceeds_input():
    small = ct.trace(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), (1, 1, 32, 32))
    (f,) = small.findings_with("rf-smaller-than-input")
    assert "sees 5 of the 32" in f.message and "about 14 more" in f.fix
    big = ct.trace(nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(6)]), (1, 1, 8, 8))
    (g,) = big.findings_with("rf-exceeds-input")
    assert g.layer == "3" and "2 later layer(s)" in g.message


def test_unused_parameters():
    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Conv2d(1, 1, 1)
            self.spare = nn.Linear(3, 3)

        def forward(self, x):
            return self.used(x)

    (f,) = ct.trace(Unused(), (1, 1, 4, 4)).findings_with("unused-parameters")
    assert f.message.startswith("12 of 14")


def test_same_padding_differs_ends_with_the_ported_code():
    """The fix ends with convgeom.port's code, and that code really pads like TensorFlow."""
    t = ct.trace(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1)), (1, 1, 8, 8))
    (f,) = t.findings_with("same-padding-differs")
    code = f.fix.split("; as code: ", 1)[1]
    assert code.startswith("nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1))")
    expression = code.split(" (exact for ", 1)[0]
    ported = eval(expression, {"nn": nn})  # noqa: S307 - convgeom's own output
    with torch.no_grad():
        ported[1].weight.fill_(1.0)
        ported[1].bias.zero_()
        x = torch.arange(64, dtype=torch.float32).reshape(1, 1, 8, 8)
        tf_pads = convgeom.conv((8, 8), 3, 2, "same", framework="tensorflow").torch_pad
        expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, tf_pads), torch.ones(1, 1, 3, 3), stride=2)
        assert torch.equal(ported(x), expected)
