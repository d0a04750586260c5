"""Real third-party models (random weights, offline): every leaf module's traced output shape
equals the real forward pass, params equal ``sum(p.numel())``, conv MACs agree with torchinfo
(torchinfo's mult-adds for a Conv = our ``macs + bias_adds``), and the model is untouched."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import convgeom.tracing as ct  # noqa: E402


def real_leaf_shapes(model, shape):
    """Output shapes of every leaf-module call of a real forward pass, per qualified name."""
    names = {id(m): n for n, m in model.named_modules()}
    leaves = {id(m) for m in model.modules() if next(iter(m.children()), None) is None}
    calls: dict[str, list[tuple[int, ...]]] = {}

    def hook(module, args, out):
        if id(module) in leaves and isinstance(out, torch.Tensor):
            calls.setdefault(names[id(module)], []).append(tuple(out.shape))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            out = model(torch.randn(shape))
    finally:
        for h in handles:
            h.remove()
    return calls, out


def state(model):
    return {k: (v.device, v.dtype, v.clone()) for k, v in model.state_dict().items()}


def check_against_forward(model, shape):
    model.eval()
    before = state(model)
    t = ct.trace(model, shape)
    calls, out = real_leaf_shapes(model, shape)
    traced: dict[str, list[tuple[int, ...]]] = {}
    for rec in t.layers:
        traced.setdefault(rec.name, []).append(rec.output_shape)
    assert calls, "no leaf modules ran"
    for name, shapes in calls.items():
        assert traced.get(name, [])[: len(shapes)] == shapes, name
    assert t.output_shape == tuple(out.shape)
    assert t.params == sum(p.numel() for p in model.parameters())
    after = state(model)
    assert before.keys() == after.keys()
    for k in before:
        assert before[k][0] == after[k][0] and before[k][1] == after[k][1] and torch.equal(before[k][2], after[k][2]), k
    assert not torch.nn.modules.module._global_forward_hooks
    assert not torch.nn.modules.module._global_forward_pre_hooks
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    return t


@pytest.fixture(scope="module")
def effnet():
    ep = pytest.importorskip("efficientnet_pytorch")
    return ep.EfficientNet.from_name("efficientnet-b0")


@pytest.mark.parametrize("size", [64, 65, 67, 97])
def test_efficientnet_odd_sizes(effnet, size):
    t = check_against_forward(effnet, (1, 3, size, size))
    assert t.layer("_conv_stem").padding == ((0, 0), (0, 0))
    assert t.layer("_conv_stem.static_padding").padding == ((0, 1), (0, 1))  # TF 'same' for 224, static


def test_efficientnet_static_same_padding_findings(effnet):
    t = ct.trace(effnet, (1, 3, 225, 225))
    # the stem's static pad (0, 1) was computed for 224; TF 'same' for 225 pads (1, 1) and gives 113
    stem = [f for f in t.findings_with("static-same-padding") if f.layer == "_conv_stem"]
    assert stem and "(1, 1)" in stem[0].message and "113" in stem[0].message
    t224 = ct.trace(effnet, (1, 3, 224, 224))
    assert not t224.findings_with("static-same-padding")
    assert any(f.layer == "_conv_stem" for f in t224.findings_with("same-padding-differs"))


def test_efficientnet_macs_match_torchinfo(effnet):
    torchinfo = pytest.importorskip("torchinfo")
    effnet.eval()
    shape = (1, 3, 96, 96)
    t = ct.trace(effnet, shape, findings=False)
    stats = torchinfo.summary(effnet, input_size=shape, verbose=0)
    names = {id(m): n for n, m in effnet.named_modules()}
    ours: dict[str, list[int]] = {}
    for rec in t.layers:
        if rec.op == "conv":
            ours.setdefault(rec.name, []).append(rec.macs + rec.bias_adds)
    compared = 0
    seen: dict[str, int] = {}
    for info in stats.summary_list:
        module = info.module
        if not isinstance(module, torch.nn.modules.conv._ConvNd) or module.transposed or info.macs == 0:
            continue
        name = names[id(info.module)]
        k = seen.get(name, 0)
        seen[name] = k + 1
        assert ours[name][k] == info.macs, name
        compared += 1
    assert compared >= 80
    assert t.macs == sum(r.macs for r in t.layers)


@pytest.fixture(scope="module")
def monai_nets():
    return pytest.importorskip("monai.networks.nets")


def test_monai_unet_2d(monai_nets):
    net = monai_nets.UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(8, 16, 32, 64),
                          strides=(2, 2, 2), num_res_units=2)
    check_against_forward(net, (1, 1, 64, 64))
    t = check_against_forward(net, (1, 1, 63, 63))
    assert t.output_shape == (1, 2, 64, 64)  # a 63-wide input gives a 64-wide mask
    mismatch = t.findings_with("output-size-mismatch")
    assert mismatch and "63" in mismatch[0].message and "64" in mismatch[0].fix and "56" in mismatch[0].fix
    assert t.receptive_field.center == (0, 0) and t.receptive_field.exact
    assert not t.findings_with("misaligned-merge")
    assert t.findings_with("checkerboard")  # ConvTranspose k3 s2


def test_monai_unet_3d_impossible_input(monai_nets):
    net = monai_nets.UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2),
                          num_res_units=1).eval()
    check_against_forward(net, (1, 1, 16, 19, 15))
    with pytest.raises(RuntimeError):
        with torch.no_grad():
            net(torch.randn(1, 1, 16, 17, 15))
    with pytest.raises(ct.ImpossibleInput) as info:
        ct.trace(net, (1, 1, 16, 17, 15))
    err = info.value
    assert "cat" in err.layer and len(err.shapes) == 2 and err.shapes[0] != err.shapes[1]
    assert (1, 1, 16, 16, 15) in err.nearest and (1, 1, 16, 19, 15) in err.nearest
    assert "16x16x15" in str(err) and "17" in str(err)
    assert isinstance(err, ct.GeometryError)
    for shape in err.nearest:
        with torch.no_grad():
            net(torch.randn(shape))


def test_monai_segresnet_2d_3d(monai_nets):
    check_against_forward(monai_nets.SegResNet(spatial_dims=2, in_channels=1, out_channels=2, init_filters=8),
                          (1, 1, 32, 32))
    net3 = monai_nets.SegResNet(spatial_dims=3, in_channels=1, out_channels=2, init_filters=8, blocks_down=(1, 1, 1),
                                blocks_up=(1, 1))
    t = check_against_forward(net3, (1, 1, 16, 16, 16))
    assert t.receptive_field.global_context  # GroupNorm statistics over space
