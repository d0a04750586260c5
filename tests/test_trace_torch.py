"""The PyTorch frontend: records, names, functional ops, conventions, memory, failures."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import convgeom.tracing as ct  # noqa: E402


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.w = nn.Parameter(torch.randn(8, 8, 3, 3))
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        y = self.act(self.stem(x))
        z = F.conv2d(F.pad(y, (1, 1, 1, 1)), self.w)
        y = self.act(y + z)
        y = torch.cat([y, F.interpolate(y[:, :, ::2, ::2], scale_factor=2.0)], dim=1)[:, :8]
        return self.head(y.flatten(1).view(x.shape[0], -1))


def test_functional_ops_and_names():
    t = ct.trace(Mixed(), (2, 3, 16, 16), findings=False)
    names = [r.name for r in t.layers]
    assert names[:2] == ["stem", "act"]
    assert "pad" in names and "add" in names and "cat" in names and "interpolate" in names
    assert "flatten" in names and "view" in names and "head" in names
    conv = next(r for r in t.layers if r.op == "conv" and r.name != "stem")
    assert conv.name == "Mixed" and conv.type == "Mixed"  # F.conv2d with the root's own parameter
    assert conv.params == 8 * 8 * 9
    act_calls = [r for r in t.layers if r.name == "act"]
    assert [r.call for r in act_calls] == [0, 1]
    assert t.output_shape == (2, 10)
    assert t.layer("stem").padding == ((1, 1), (1, 1)) and t.layer("stem").stride == (2, 2)
    assert t.layer("pad").padding == ((1, 1), (1, 1))
    assert t.params == sum(p.numel() for p in Mixed().parameters())


def test_mac_conventions():
    model = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1, groups=2), nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1),
                          nn.Flatten(), nn.Linear(4 * 16 * 16, 5))
    t = ct.trace(model, (2, 4, 8, 8), findings=False)
    conv, convt, _, lin = t.layers
    assert conv.macs == 2 * 6 * 64 * (4 // 2) * 9 and conv.bias_adds == 2 * 6 * 64
    assert convt.macs == 2 * 6 * 64 * 4 * 16 and convt.bias_adds == 2 * 4 * 16 * 16  # per input element
    assert lin.macs == 2 * 1024 * 5 and lin.bias_adds == 2 * 5
    assert t.macs == conv.macs + convt.macs + lin.macs and t.flops == 2 * t.macs


def test_peak_memory_from_lifetimes_and_views():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 1, 3, padding=1),
                          nn.Flatten())
    t = ct.trace(model, (1, 1, 10, 10), findings=False)
    b = 4 * 100
    # input (kept) + conv1 out (relu in place) + conv2 out; flatten is a view
    assert t.peak_activation_bytes == b + 4 * b + b
    assert t.activation_bytes == 4 * b + 4 * b + b + b
    assert t.layers[1].inputs == t.layers[0].outputs


def test_model_is_untouched_in_training_mode():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ct.trace(model, (2, 1, 8, 8))
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]) and v.device.type == "cpu", k
    assert int(model[1].num_batches_tracked) == 0


def test_unknown_and_data_dependent_ops_do_not_crash():
    class Odd(nn.Module):
        def forward(self, x):
            y = torch.fft.fft2(x).real
            if y.sum() > 0:
                y = y * 2
            return y

    t = ct.trace(Odd(), (1, 1, 8, 8))
    assert t.output_shape == (1, 1, 8, 8)
    codes = {f.code for f in t.findings}
    assert "unknown-op" in codes and "data-dependent" in codes
    assert not t.receptive_field.exact


def test_half_precision_bytes():
    t = ct.trace(nn.Conv2d(3, 4, 1), (1, 3, 8, 8), dtype="float16", findings=False)
    assert t.layers[0].output_bytes == 4 * 64 * 2


def test_kernel_larger_than_input_is_impossible_with_nearest():
    model = nn.Sequential(nn.Conv2d(1, 1, 5), nn.MaxPool2d(2), nn.Conv2d(1, 1, 5))
    with pytest.raises(ct.ImpossibleInput) as info:
        ct.trace(model, (1, 1, 12, 20))
    err = info.value
    assert err.layer == "2" and err.axis == 0
    assert err.nearest == ((1, 1, 14, 20),)
    assert "Kernel size can't be greater than actual input size" in str(err)


def test_linear_in_features_mismatch():
    model = nn.Sequential(nn.Conv2d(3, 2, 3, stride=2), nn.Flatten(), nn.Linear(2 * 7 * 7, 4))
    ct.trace(model, (1, 3, 16, 16), findings=False)
    with pytest.raises(ct.ImpossibleInput) as info:
        ct.trace(model, (1, 3, 17, 16))
    assert info.value.layer == "2" and "mat1 and mat2" in str(info.value)
    assert (1, 3, 16, 16) in info.value.nearest


def test_trace_with_channels_mismatch_names_layer():
    with pytest.raises(ct.ImpossibleInput) as info:
        ct.trace(nn.Sequential(nn.Conv2d(3, 2, 3)), (1, 4, 8, 8))
    assert info.value.layer == "0" and "channels" in str(info.value)


def test_bad_arguments():
    with pytest.raises(ct.GeometryError):
        ct.trace(nn.Conv2d(1, 1, 1), (1, 1, 0, 4))
    with pytest.raises(ct.GeometryError):
        ct.trace(nn.Conv2d(1, 1, 1), None)
    with pytest.raises(ct.GeometryError):
        ct.trace(object(), (1, 1, 4, 4))


def test_import_convgeom_stays_light():
    code = "import sys, convgeom, convgeom.tracing; assert not {'torch', 'onnx', 'keras', 'numpy'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_json_and_csv_round_trip():
    import csv
    import io
    import json

    t = ct.trace(Mixed(), (1, 3, 16, 16))
    data = json.loads(t.to_json())
    assert data["params"] == t.params and len(data["layers"]) == len(t.layers)
    assert data["layers"][0]["receptive_field"]["size"] == [3, 3]
    rows = list(csv.DictReader(io.StringIO(t.to_csv())))
    assert len(rows) == len(t.layers) and rows[0]["rf_H"] == "3"
    assert "stem (Conv2d)" in ct.summary(t) and str(t).startswith("Trace of Mixed (torch): 1x3x16x16 -> ")
    assert "stem" in ct.summary(t, depth=1)
