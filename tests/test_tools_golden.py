"""The golden-vector generator (``tools/golden``), checked without TensorFlow or JAX.

* the configuration draws replay exactly the configurations (and "call" descriptions) recorded
  in the committed files, and the numeric cases of tensorflow_ops.json;
* the writer reproduces the committed files byte for byte from their parsed content;
* the pad inference recovers, from PyTorch's output values, the pad_before that the convgeom
  engine computes for the same layer;
* ONNX Runtime (installed) rerun through the crash-isolated worker reproduces recorded results.
"""
from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tools/ is not installed; `python -m pytest` from the root has it
    sys.path.insert(0, str(ROOT))

from tools.golden import configs, inference, isolation, numeric, writing  # noqa: E402
from tools.golden.data import make_datas  # noqa: E402
from tools.golden.reference import ref_conv, ref_pool  # noqa: E402
from tools.golden.runners.base import err_str  # noqa: E402
from tools.golden.schema import base_cfg, public_items  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
FRAMEWORKS = ("tensorflow", "jax", "onnx")
# keys a record adds to its configuration
RESULT_KEYS = {"result", "symbolic", "symbolic_disagrees", "onednn_off", "shape_inference"}


@cache
def committed(name: str) -> dict[str, Any]:
    path = GOLDEN / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path} is absent (run tools/make_golden.py)")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@cache
def drawn(fw: str) -> list[Any]:
    """The items the generator draws for fw's committed file (as many, same seed)."""
    data = committed(fw)
    return configs.draw_items(fw, len(data["records"]), data["meta"]["seed"])


# --------------------------------------------------------------------------------------------
# configuration draws
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fw", FRAMEWORKS)
def test_draws_replay_the_committed_configurations(fw: str) -> None:
    mismatches = []
    for i, (item, rec) in enumerate(zip(drawn(fw), committed(fw)["records"])):
        want = {k: v for k, v in rec.items() if k not in RESULT_KEYS}
        # same keys, same order, same values (the record's JSON is compared as written)
        if json.dumps(public_items(item.cfg)) != json.dumps(want):
            mismatches.append(f"#{i}: drew {public_items(item.cfg)}, recorded {want}")
    assert not mismatches, "\n".join(mismatches[:5])


def test_symbolic_runs_are_the_drawn_ones() -> None:
    items = drawn("tensorflow")
    for item, rec in zip(items, committed("tensorflow")["records"]):
        crashed = rec["result"].get("error", "").startswith("Crash:")
        # a crashed oneDNN worker returns no symbolic result
        assert ("symbolic" in rec) == (item.symbolic and not crashed), rec["call"]
    assert sum(item.symbolic for item in items) > 0


def test_draws_are_deterministic_and_distinct() -> None:
    a = configs.draw_items("onnx", 300, 7)
    b = configs.draw_items("onnx", 300, 7)
    assert [(x.cfg, x.seed, x.symbolic) for x in a] == [(x.cfg, x.seed, x.symbolic) for x in b]
    assert len({json.dumps(public_items(x.cfg), sort_keys=True) for x in a}) == 300
    assert configs.draw_items("onnx", 5, 8)[0].cfg != a[0].cfg


def test_numeric_cases_replay_the_committed_inputs() -> None:
    data = committed("tensorflow_ops")
    rng = np.random.default_rng(configs.framework_seed("tensorflow", data["meta"]["seed"]) + 1)
    drawn: list[numeric.NumericCase] = []
    while len(drawn) < len(data["records"]):
        case = numeric.draw_case(rng, numeric.KINDS[len(drawn) % len(numeric.KINDS)])
        if case is not None:  # every committed case ran in TensorFlow
            drawn.append(case)
    for case, rec in zip(drawn, data["records"]):
        got = case.record(np.asarray(rec["output"], np.float32))
        assert json.dumps(got) == json.dumps(rec), rec["call"]


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*FRAMEWORKS, "tensorflow_ops"])
def test_writer_reproduces_committed_bytes(name: str) -> None:
    data = committed(name)
    text = (GOLDEN / f"{name}.json").read_text()
    assert writing.dumps(data["meta"], data["records"]) == text


def test_meta_counts_match_committed() -> None:
    for fw in FRAMEWORKS:
        meta = committed(fw)["meta"]
        ours = writing.framework_meta(fw, meta["versions"], meta["seed"], committed(fw)["records"])
        assert {k: v for k, v in meta.items() if k in ours} == ours


def test_write_json_round_trips(tmp_path: Path) -> None:
    records = [{"op": "conv", "result": {"output": [3], "pad_before": [None]}},
               {"op": "max_pool", "result": {"error": "ValueError: \u00e9 \"quoted\""}}]
    path = tmp_path / "x.json"
    writing.write_json(str(path), {"b": 1, "a": [1.5, None]}, records)
    text = path.read_text()
    assert json.loads(text) == {"meta": {"a": [1.5, None], "b": 1}, "records": records}
    assert text.splitlines()[0] == '{"meta": {"a":[1.5,null],"b":1},'
    assert len(text.splitlines()) == 2 + len(records) + 1  # one record per line


def test_f32list_is_shortest_round_trip() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    out = writing.f32list(a)
    assert np.array_equal(np.asarray(out, np.float32), a)
    assert writing.f32list(np.float32([0.1, -2.5])) == [0.1, -2.5]
    # each decimal is the shortest one: dropping a digit changes the float32
    for v in np.asarray(out).ravel():
        s = repr(float(v))
        if len(s.rstrip("0")) > 4:
            assert np.float32(float(s[:-1])) != np.float32(v)


# --------------------------------------------------------------------------------------------
# pad inference against PyTorch's values and the engine's answer
# --------------------------------------------------------------------------------------------

def _torch_forward(cfg: dict[str, Any], pads: list[tuple[int, int]], x: np.ndarray,
                   w: np.ndarray | None) -> np.ndarray:
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    rank = len(cfg["input"])
    flat = [v for before, after in reversed(pads) for v in (before, after)]
    t = torch.from_numpy(x.reshape((1, 1, *x.shape)))
    if cfg["op"] == "conv":
        assert w is not None
        conv = getattr(f, f"conv{rank}d")
        y = conv(f.pad(t, flat), torch.from_numpy(w.reshape((1, 1, *w.shape))),
                 stride=cfg["stride"], dilation=cfg["dilation"])
    else:
        raise AssertionError(cfg["op"])
    return np.asarray(y.numpy()[0, 0])


CONV_CASES = [  # (input, kernel, stride, dilation, padding, framework)
    ((7,), (4,), (1,), (1,), "same", "tensorflow"),
    ((7, 8), (4, 3), (1, 2), (1, 1), "same", "tensorflow"),
    ((9, 6), (4, 2), (2, 1), (1, 1), "same_lower", "onnx"),
    ((10,), (3,), (3,), (1,), ((2, 1),), "onnx"),
    ((12,), (3,), (1,), (2,), "causal", "tensorflow"),
    ((5, 6, 4), (2, 3, 2), (1, 2, 1), (1, 1, 2), "same", "jax"),
]


@pytest.mark.parametrize("n, k, s, d, padding, fw", CONV_CASES)
def test_inference_recovers_engine_pads_from_torch_conv(n: tuple[int, ...], k: tuple[int, ...],
                                                        s: tuple[int, ...], d: tuple[int, ...],
                                                        padding: Any, fw: str) -> None:
    cg = pytest.importorskip("convgeom")
    r = cg.conv(n, k, stride=s, dilation=d, padding=padding, framework=fw)
    cfg = base_cfg("conv", n, k, s, d, padding if isinstance(padding, str)
                   else [list(pair) for pair in padding])
    datas = make_datas(cfg, 12345)
    y = _torch_forward(cfg, list(r.pad), datas[0].x, datas[0].w)
    res = inference.infer_result(cfg, [y], datas)
    assert res["output"] == list(r.output)
    assert res["pad_before"] == list(r.pad_before)
    if isinstance(padding, str):  # the mode pads exactly what the last window needs
        assert res["pad_after_min"] == [max(0, a) for a in r.pad_after]


def test_inference_recovers_transposed_crop_and_orientation() -> None:
    torch = pytest.importorskip("torch")
    cg = pytest.importorskip("convgeom")
    n, k, s, p, op = (5, 4), (3, 4), (2, 3), (1, 2), (1, 0)
    r = cg.conv_transpose(n, k, stride=s, padding=p, output_padding=op)
    for flip in (False, True):  # torch scatters x[i]*w[j] to i*s + j: not flipped
        cfg = base_cfg("conv_transpose", n, k, s, (1, 1), [list(v) for v in r.pad])
        cfg["_flip"] = flip
        datas = make_datas(cfg, 777)
        assert datas[0].w is not None
        y = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(datas[0].x.reshape((1, 1, *n))),
            torch.from_numpy(datas[0].w.reshape((1, 1, *k))), stride=s, padding=p,
            output_padding=op).numpy()[0, 0]
        res = inference.infer_result(cfg, [y], datas)
        assert res["output"] == list(r.output)
        assert res["pad_before"] == list(r.pad_before)
        assert res["pad_after_min"] == list(r.pad_after)
        assert res.get("unexpected_kernel_orientation", False) is flip


@pytest.mark.parametrize("count_include_pad", [False, True])
def test_inference_recovers_engine_pads_and_divisor_from_torch_pools(
        count_include_pad: bool) -> None:
    torch = pytest.importorskip("torch")
    cg = pytest.importorskip("convgeom")
    f = torch.nn.functional
    n, k, s, p = (7, 9), (3, 4), (2, 3), (1, 2)
    for op in ("max_pool", "avg_pool"):
        fn = getattr(cg, op)
        extra = {"count_include_pad": count_include_pad} if op == "avg_pool" else {}
        r = fn(n, k, stride=s, padding=p, ceil_mode=True, **extra)
        cfg = base_cfg(op, n, k, s, (1, 1), [[v, v] for v in p], ceil_mode=True)
        cfg["_pad_decl"] = list(p)
        cfg["_divisors"] = ["exclude_pad", "include_pad", "kernel"]
        datas = make_datas(cfg, 99)
        ys = []
        for dt in datas:
            x = torch.from_numpy(dt.x.reshape((1, 1, *n)))
            if op == "max_pool":
                y = f.max_pool2d(x, k, s, p, ceil_mode=True)
            else:
                y = f.avg_pool2d(x, k, s, p, ceil_mode=True, count_include_pad=count_include_pad)
            ys.append(y.numpy()[0, 0])
        res = inference.infer_result(cfg, ys, datas)
        assert res["output"] == list(r.output), op
        assert res["pad_before"] == list(r.pad_before), op
        if op == "avg_pool":
            assert res["divisor"] == ("include_pad" if count_include_pad else "exclude_pad")


def test_inference_reports_what_it_cannot_identify() -> None:
    cfg = base_cfg("conv", (6,), (3,), (1,), (1,), "valid")
    datas = make_datas(cfg, 5)
    y = ref_conv(datas[0].x64, datas[0].w64, [1], [1], [1], [6])
    assert inference.infer_result(cfg, [y], datas)["pad_before"] == [1]
    bumped = y.copy()
    bumped[2] += 0.5  # no padding reproduces this
    res = inference.infer_result(cfg, [bumped], datas)
    assert res["pad_before"] is None
    assert res["inference"] == "no candidate matched the framework output"
    garbage = y.copy()
    garbage[0] = 1e9
    assert "garbage" in inference.infer_result(cfg, [garbage], datas)["inference"]
    empty = inference.infer_result(cfg, [np.zeros((0,))], datas)
    assert empty == {"output": [0], "pad_before": None, "pad_after_min": None}
    # a max window that covers the whole input at several offsets: the axis is ambiguous
    pool = base_cfg("max_pool", (2,), (5,), (1,), (1,), "same")
    pdatas = make_datas(pool, 5)
    ys = [ref_pool(dt.x64, [5], [1], [1], [2], [2], "max") for dt in pdatas]
    res = inference.infer_result(pool, ys, pdatas)
    assert res["pad_before"] == [None] and res["ambiguous_axes"] == [0]


# --------------------------------------------------------------------------------------------
# messages and crash isolation
# --------------------------------------------------------------------------------------------

def test_err_str_keeps_the_backend_first_line() -> None:
    e = ValueError("\x1b[31mException encountered when calling Conv1D.call().\x1b[0m\n\n"
                   "{{function_node __wrapped__Conv2D}} Negative dimension size\nmore")
    assert err_str(e) == "ValueError: Negative dimension size"
    assert err_str(RuntimeError("x" * 500)) == "RuntimeError: " + "x" * 400 + "..."
    assert err_str(KeyError()) == "KeyError: "


def test_crash_reason_names_the_signal_and_the_fatal_line() -> None:
    log = ('W0000 00:00:1 123 x.cc:1] harmless\n'
           'F0000 00:00:12.5 4242 hlo.cc:77] Check failed: "reduce_window.12" bad\nnext\n')
    assert isolation.crash_reason(-6, log) == (
        'process killed by signal SIGABRT (Check failed: "reduce_window" bad)')
    assert isolation.crash_reason(3, "") == "process exited with status 3"
    assert isolation.differs({"output": [1]}, {"output": [1], "pad_before": [0]})
    assert not isolation.differs({"error": "A"}, {"error": "B"})


def test_onnx_worker_reproduces_recorded_results() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    data = committed("onnx")
    items = configs.draw_items("onnx", 24, data["meta"]["seed"])
    runner = isolation.Isolated("onnx", jobs=1)
    try:
        got = list(runner.run_many(items))
    finally:
        runner.close()
    assert runner.versions is not None and runner.versions["opset"] == 21
    for (result, extras), rec in zip(got, data["records"]):
        want = rec["result"]
        assert ("error" in result) == ("error" in want), rec["call"]
        if "error" not in want:
            assert result == want, rec["call"]
        assert ("shape_inference" in extras) == ("shape_inference" in rec), rec["call"]
