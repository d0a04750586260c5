"""Python-API fuzz test of ``convgeom.ops``: every op called with arrays of odd shapes and dtypes
and parameters of every type and size.

Each call must return an array of the expected dtype (a trace for ``trace_*``, which must also
render) or raise ``GeometryError`` / ``TypeError`` whose message is one non-empty line; anything
else (MemoryError, OverflowError, IndexError, a NumPy error, ...) is a failure. The calls run in a
child process with an address-space limit (``resource.setrlimit(RLIMIT_AS)``: a regression that
allocates gigabytes fails with MemoryError instead of taking the runner down) and a per-case hang
guard (``CASE_SECONDS``, far above what any case needs: not a timing assertion). Outputs are
capped with ``max_output_bytes`` (a small cap, or junk to fuzz the parameter itself), so a
legitimate output never meets the memory limit; the default cap's refusals are in
test_ops_limits.py. The child keeps going after a failure and reports every distinct one.

The harness (child process, memory limit, hang guard) is ``tests/_fuzz.py``, shared with
test_api_fuzz.py (whose test checks that the memory limit catches a hog). Run it by hand:
``python tests/test_ops_fuzz.py [op ...]`` (no op: all of them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest

from _fuzz import limit_memory, outcome, run_child

OPS = ("pad", "conv", "conv_transpose", "max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool",
       "trace_conv", "trace_max_pool", "trace_avg_pool")
EXAMPLES = 60
CASE_SECONDS = 30.0
#: address space the child may add to what it holds after its imports
HEADROOM_BYTES = 1024 * 2**20
#: the largest max_output_bytes the fuzz passes (outputs stay far below the memory limit)
FUZZ_CAP = 2**24


def test_fuzz_every_op() -> None:
    pytest.importorskip("hypothesis")
    done = run_child([__file__, *OPS], timeout=900, CONVGEOM_NUM_THREADS="1")
    assert done.returncode == 0, f"fuzzing the ops found failures:\n{done.stdout[-8000:]}\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout.splitlines()[-1])
    for op in OPS:  # every op was reached with valid arguments, and refused others
        assert report["tally"][op].get("ok", 0) > 0, report["tally"]
        assert report["tally"][op].get("refused", 0) > 0, report["tally"]


# ======================================================================================
# the child
# ======================================================================================
def _strategies() -> Any:
    """Hypothesis strategies: (x, parameters) for each op."""
    import numpy as np
    from hypothesis import strategies as st

    huge = st.sampled_from((2**63, 2**63 - 1, -(2**63), 10**30, -(10**30), 2**62, 10**18, 10**9, -(10**9),
                            4097, 10**5, 10**400))
    # more than 4300 digits: str() of it raises, so a message that prints it must not
    beyond_str = st.builds(pow, st.sampled_from((10, -10)), st.just(5001))
    ints = st.one_of(st.integers(-3, 8), huge, beyond_str, st.integers(-(2**70), 2**70))
    odd = st.sampled_from((None, True, False, 3.5, 2.0, float("nan"), float("inf"), "3", "", "same", "bogus", b"3",
                           3 + 0j, {}, object(), np.int64(3), np.uint8(2), np.float64(2.0), np.bool_(True),
                           np.array(3), np.array([2, 2]), np.zeros((2, 2), dtype=int), np.array(["7"])))
    leaf = st.one_of(ints, odd)
    anything = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=4).map(tuple),
                                                          st.lists(inner, max_size=4)), max_leaves=6)

    dtypes = st.sampled_from(("float64", "float32", "float64", "float32", "float16", "int32", "uint8", "int64",
                              "bool", "complex64", "object", "<U1", "datetime64[s]"))
    float_dtypes = st.sampled_from(("float64", "float32"))

    @st.composite
    def arrays(draw: Any, dtype: Any = dtypes, min_ndim: int = 0) -> Any:
        shape = tuple(draw(st.lists(st.integers(0, 7) | st.integers(1, 3), min_size=min_ndim, max_size=5)))
        dt = np.dtype(draw(dtype))
        values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(shape) * 10
        if draw(st.integers(0, 9)) == 0 and values.size:
            values.flat[0] = draw(st.sampled_from((np.nan, np.inf, -np.inf)))
        if dt.kind in "biu":
            values = np.nan_to_num(values)
        return values.astype(dt) if dt.kind != "M" else np.zeros(shape, dtype=dt)

    not_arrays = st.sampled_from((None, 3, 2.5, "abc", [[[1.0, 2.0], [3.0]]], [[[1.0, 2.0]]], [], b"x", object()))
    x_any = st.one_of(arrays(float_dtypes, 3), arrays(float_dtypes, 3), arrays(), not_arrays)

    small = st.one_of(st.integers(1, 4), st.integers(-1, 5))
    per_axis = st.one_of(small, st.lists(small, min_size=1, max_size=3).map(tuple))
    pads = st.integers(-2, 4)
    padding = st.one_of(pads, st.lists(pads, min_size=1, max_size=3).map(tuple),
                        st.lists(st.tuples(pads, pads), min_size=1, max_size=3).map(tuple),
                        st.sampled_from(("same", "valid", "same_lower", "causal", "full")))
    frameworks = st.sampled_from(("torch", "tensorflow", "jax", "onnx", "torch", "onnx", "caffe"))
    caps = st.one_of(st.integers(1, FUZZ_CAP), st.integers(FUZZ_CAP // 2, FUZZ_CAP), st.sampled_from(
        (0, -1, 2.5, True, None, "big")))
    good = {
        "kernel": per_axis, "stride": st.one_of(st.none(), per_axis), "padding": padding, "dilation": per_axis,
        "groups": st.integers(1, 3), "output_padding": st.one_of(st.none(), st.integers(0, 2)),
        "output_size": st.one_of(st.none(), per_axis), "ceil_mode": st.booleans(),
        "count_include_pad": st.one_of(st.none(), st.booleans()), "divisor": st.one_of(st.none(), small),
        "framework": frameworks, "padding_mode": st.sampled_from(("zeros", "reflect", "replicate", "circular")),
        "mode": st.sampled_from(("zeros", "constant", "reflect", "replicate", "circular")),
        "value": st.one_of(st.integers(-300, 300), st.floats(allow_nan=True), st.booleans()),
        "pad": padding.filter(lambda p: not isinstance(p, str)), "channels_last": st.booleans(),
        "max_output_bytes": caps, "max_cells": st.one_of(st.integers(1, 5000), st.sampled_from((0, 2.5, None))),
        "max_buffer_bytes": st.sampled_from((2**20, 256 * 2**20, 0, -3, 1.5, None)),
        "output_size_adaptive": st.one_of(small, st.lists(st.one_of(st.none(), small), min_size=1, max_size=3)),
    }
    return dict(st=st, np=np, anything=anything, good=good, x_any=x_any, arrays=arrays, float_dtypes=float_dtypes)


PARAMS = {
    "pad": ("pad", "mode", "value", "channels_last", "max_output_bytes"),
    "conv": ("bias", "stride", "padding", "dilation", "groups", "padding_mode", "framework", "channels_last",
             "max_buffer_bytes", "max_output_bytes"),
    "conv_transpose": ("bias", "stride", "padding", "output_padding", "groups", "dilation", "framework",
                       "output_size", "channels_last", "max_buffer_bytes", "max_output_bytes"),
    "max_pool": ("kernel", "stride", "padding", "dilation", "ceil_mode", "framework", "channels_last",
                 "max_output_bytes"),
    "avg_pool": ("kernel", "stride", "padding", "ceil_mode", "count_include_pad", "divisor", "dilation",
                 "framework", "channels_last", "max_output_bytes"),
    "adaptive_avg_pool": ("output_size_adaptive", "channels_last", "max_output_bytes"),
    "adaptive_max_pool": ("output_size_adaptive", "channels_last", "max_output_bytes"),
    "trace_conv": ("bias", "stride", "padding", "dilation", "groups", "padding_mode", "framework", "max_cells"),
    "trace_max_pool": ("kernel", "stride", "padding", "dilation", "ceil_mode", "framework", "max_cells"),
    "trace_avg_pool": ("kernel", "stride", "padding", "ceil_mode", "count_include_pad", "divisor", "dilation",
                       "framework", "max_cells"),
}
ALWAYS = {"max_output_bytes", "max_cells"}  # always passed (the fuzz's own output cap)


def _clean_x(draw: Any, s: dict[str, Any]) -> Any:
    """A float array ``(N, C, *spatial)`` of 1 to 3 small spatial axes (to reach the kernels)."""
    st, np = s["st"], s["np"]
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 4))) + tuple(
        draw(st.lists(st.integers(1, 7), min_size=1, max_size=3)))
    values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    return values.astype(draw(s["float_dtypes"]))


def _weight(draw: Any, s: dict[str, Any], x: Any, op: str, groups: Any) -> Any:
    """A weight that fits ``x`` and ``groups`` most of the time (to reach the kernels), else any array."""
    st, np = s["st"], s["np"]
    shape = getattr(x, "shape", ())
    if len(shape) >= 3 and draw(st.integers(0, 4)) and isinstance(groups, int) and groups >= 1:
        channels = shape[1]
        per = max(channels // groups, 0)
        kernel = tuple(draw(st.integers(1, max(1, min(4, n)))) for n in shape[2:])
        other = draw(st.integers(1, 3)) * groups
        lead = (channels, other // groups) if op == "conv_transpose" else (other, per)
        dtype = draw(st.sampled_from((x.dtype, x.dtype, x.dtype, np.int8, np.bool_)))
        return np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(lead + kernel).astype(dtype)
    return draw(s["x_any"])


def _call(op: str, data: Any, s: dict[str, Any]) -> tuple[Callable[[], Any], str]:
    from convgeom import ops

    st, good, anything = s["st"], s["good"], s["anything"]
    plan = data.draw(st.sampled_from(("clean", "clean", "one junk", "any")), label="plan")
    params = PARAMS[op]
    junk = data.draw(st.sampled_from(params), label="junk") if plan == "one junk" else None
    x = _clean_x(data.draw, s) if plan != "any" else data.draw(s["x_any"], label="x")
    kwargs: dict[str, Any] = {}
    for name in params:
        if name == "bias" or (name not in ALWAYS and name != junk
                              and data.draw(st.integers(0, 2), label=f"omit {name}") == 0):
            continue
        strategy = anything if name == junk else good[name]
        if plan == "clean":
            strategy = CLEAN.get(name, strategy)(s) if name in CLEAN else strategy
        elif plan == "any" and data.draw(st.integers(0, 3), label=f"junk {name}") == 0:
            strategy = anything
        kwargs[name] = data.draw(strategy, label=name)
    if plan == "clean" and "groups" in kwargs and hasattr(x, "shape"):
        kwargs["groups"] = data.draw(st.sampled_from([g for g in (1, 2, 3) if x.shape[1] % g == 0]), label="groups")
    args: list[Any] = [x]
    if op in ("conv", "conv_transpose", "trace_conv"):
        groups = kwargs.get("groups", 1)
        args.append(_weight(data.draw, s, x, "conv_transpose" if op == "conv_transpose" else "conv", groups))
        if data.draw(st.integers(0, 2), label="bias?") == 0:
            w = args[1]
            fits = hasattr(w, "shape") and len(w.shape) >= 2 and isinstance(groups, int)
            channels = (w.shape[1] * groups if op == "conv_transpose" else w.shape[0]) if fits else 1
            kwargs["bias"] = data.draw(st.one_of(st.just(s["np"].ones(max(channels, 0))), anything), label="bias")
    if op == "pad":
        args.append(kwargs.pop("pad", 1))
    if op in ("max_pool", "avg_pool", "trace_max_pool", "trace_avg_pool"):
        args.append(kwargs.pop("kernel", 2))
    if op.startswith("adaptive"):
        args.append(kwargs.pop("output_size_adaptive", 2))
    fn = getattr(ops, op)
    shown = f"{op}({_short(args)}, {_short(kwargs)})"
    return (lambda: _check_result(op, x, fn(*args, **kwargs))), shown


#: plausible values for the "clean" plan (reaching the kernels); the other plans mix in junk
CLEAN: dict[str, Callable[[dict[str, Any]], Any]] = {
    "kernel": lambda s: s["st"].integers(1, 3),
    "stride": lambda s: s["st"].one_of(s["st"].none(), s["st"].integers(1, 3)),
    "dilation": lambda s: s["st"].integers(1, 2),
    "padding": lambda s: s["st"].one_of(s["st"].integers(0, 1), s["st"].sampled_from(("same", "valid"))),
    "framework": lambda s: s["st"].sampled_from(("torch", "torch", "onnx", "jax", "tensorflow")),
    "max_output_bytes": lambda s: s["st"].integers(FUZZ_CAP // 2, FUZZ_CAP),
    "max_cells": lambda s: s["st"].integers(1000, 5000),
    "max_buffer_bytes": lambda s: s["st"].sampled_from((2**20, 256 * 2**20)),
    "output_size": lambda s: s["st"].none(),
    "output_padding": lambda s: s["st"].none(),
    "divisor": lambda s: s["st"].none(),
    "output_size_adaptive": lambda s: s["st"].integers(1, 4),
    "value": lambda s: s["st"].integers(-3, 3),
}


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer of more than 4300 digits somewhere inside
        text = f"<{type(value).__name__} holding an integer too long to print>"
    return text if len(text) < 400 else text[:400] + "..."


def _check_result(op: str, x: Any, result: Any) -> None:
    """What a successful call must give: an array of the input's dtype, or a trace that renders."""
    import numpy as np

    from convgeom.ops import OpTrace

    if op.startswith("trace"):
        assert isinstance(result, OpTrace), type(result)
        result.render(max_windows=3)
        json.dumps(result.to_dict())
        return
    assert isinstance(result, np.ndarray), type(result)
    assert result.dtype == np.asarray(x).dtype, (result.dtype, np.asarray(x).dtype)


def _fuzz(op: str, tally: dict[str, int]) -> dict[str, list[str]]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    s = _strategies()
    failures: dict[str, list[str]] = {}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data: Any) -> None:
        call, shown = _call(op, data, s)
        verdict = outcome(call, CASE_SECONDS)
        tally[verdict.split()[0]] = tally.get(verdict.split()[0], 0) + 1
        if verdict.startswith("FAIL"):
            failures.setdefault(verdict, []).append(shown)

    run()
    return failures


def main(argv: list[str]) -> int:
    import warnings

    warnings.simplefilter("ignore")  # NumPy's overflow/invalid-value warnings on random data
    limit_memory(HEADROOM_BYTES)
    report: dict[str, Any] = {"failures": {}, "tally": {}}
    for op in argv or OPS:
        tally: dict[str, int] = {}
        failures = _fuzz(op, tally)
        report["tally"][op] = tally
        for verdict, cases in failures.items():
            report["failures"][f"{op}: {verdict}"] = cases[:3]
            print(f"{op}: {verdict}\n    e.g. {cases[0]}", file=sys.stderr)
    print(json.dumps(report))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
