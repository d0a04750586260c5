"""Python-API fuzz test: every public function of the geometry core, and the methods of what
it returns, called with arguments of every type and size.

Each call must either return a result or raise ``GeometryError`` / ``TypeError`` whose message is
one non-empty line; any other exception (OverflowError, MemoryError, ZeroDivisionError,
AttributeError, a NumPy error, ...) is a failure. The calls run in a child process with an
address-space limit (``resource.setrlimit(RLIMIT_AS)``), so a regression that tries to
allocate gigabytes fails with MemoryError instead of taking the test runner down, and with a
per-case budget (a hang guard of ``CASE_SECONDS``, far above what any case needs: not a timing
assertion); the harness is ``tests/_fuzz.py``. The child keeps going after a failure and reports
every distinct failure class.

Run one function by hand: ``python tests/test_api_fuzz.py conv`` (``all`` for every one).
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

from _fuzz import limit_memory, outcome, run_child

#: public functions of the core under fuzz
FUNCTIONS = (
    "conv", "conv_transpose", "max_pool", "avg_pool", "unfold", "adaptive_avg_pool",
    "adaptive_max_pool", "interpolate", "explain", "explain_call", "same_padding", "same_profile",
    "padding_for_output", "search", "inverse_transpose",
)
EXAMPLES = 120
CASE_SECONDS = 20.0
#: address space the child may add to what it holds after its imports
HEADROOM_BYTES = 768 * 2**20
#: views that are O(n) by nature are only called below this many cells (above the documented
#: cap they must refuse with a GeometryError)
SMALL_CELLS = 5_000
#: cases every run starts with (the extremes a random draw may miss)
SEEDS: dict[str, list[dict[str, Any]]] = {
    "conv": [dict(input=2**63 - 1, kernel=1), dict(input=2**62, kernel=3), dict(input=10**30, kernel=3),
             dict(input=100_000_000, kernel=3), dict(input=(7, 7), kernel=3, stride=2, padding=1)],
    "conv_transpose": [dict(input=4096, kernel=3, stride=10**12), dict(input=2**62, kernel=3, stride=2)],
    "max_pool": [dict(input=2**62, kernel=1), dict(input=5, kernel=2, stride=2, padding=1, ceil_mode=True)],
    "avg_pool": [dict(input=(2**40, 5), kernel=(1, 3), padding=(0, 1), framework="onnx")],
    "adaptive_avg_pool": [dict(input=5, output_size=2**62)],
    "interpolate": [dict(input=5, size=2**62), dict(input=5, scale_factor=1e300), dict(input=3, size=4, mode="bogus")],
    "same_profile": [dict(kernel=3, stride=0), dict(kernel=3, sizes=range(1, 10**30)), dict(kernel=3, sizes=range(0, 5))],
    "padding_for_output": [dict(input=10, output=1, kernel=3, stride=10**15), dict(input=7, output=7, kernel=3, stride=0)],
    "search": [dict(input=None, output=112), dict(input=224, output=112, kernels=range(1, 10**30)),
               dict(input=224, output=112, op="bogus")],
}
#: indices the result methods that take one get (window_start(i), window(axis, i), ...)
JUNK_INDICES = (-1, 3, 10**30, 2.0, None, "0", True)


def test_harness_catches_a_memory_hog() -> None:
    """The child's memory limit turns an attempt to allocate 16 GB into a reported MemoryError
    (the harness of tests/_fuzz.py, which test_ops_fuzz.py shares)."""
    code = ("import _fuzz; _fuzz.limit_memory(768 * 2**20); "
            "print(_fuzz.outcome(lambda: bytearray(16 * 2**30), 20.0))")
    done = run_child(["-c", code], timeout=600)
    assert "FAIL MemoryError" in done.stdout, done.stdout + done.stderr


def test_fuzz_public_functions() -> None:
    """All functions in one child (one interpreter start); its report names each function."""
    done = run_child([__file__, "all"], timeout=600)
    assert done.returncode == 0, f"fuzzing found failures:\n{done.stdout[-8000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.count("0 failure classes") == len(FUNCTIONS), done.stdout


# ======================================================================================
# the child
# ======================================================================================
def _strategies() -> dict[str, Any]:
    import numpy as np
    from hypothesis import strategies as st

    from convgeom import RawPads

    huge = st.sampled_from((2**63, 2**63 - 1, -(2**63) - 1, 10**30, -(10**30), 2**62, 10**18, 100_000_000,
                            4097, 10**7 + 1))
    ints = st.one_of(st.integers(-3, 12), huge, st.integers(-(2**70), 2**70))
    odd = st.sampled_from((
        None, True, False, 3.5, 2.0, -1.5, float("nan"), float("inf"), -0.0, 1e300, "3", "", "\u0663", "7,7",
        "same", "valid", "SAME", " same", "bogus", "causal", "full", "same_lower", "nearest", b"3", 3 + 0j,
        {}, {"a": 1}, frozenset({1}), range(3), range(10**30), Ellipsis, object(),
    ))
    numpy_values = st.sampled_from((
        np.int64(3), np.int32(-1), np.uint8(7), np.float64(2.5), np.float32(2.0), np.bool_(True), np.array(7),
        np.array([7, 7]), np.array([3]), np.array([7.5, 7.0]), np.zeros((2, 2), dtype=int),
        np.array([], dtype=int), np.array([2**62, 2**62]), np.array([-1, 5]), np.array(["7"]),
    ))
    leaf = st.one_of(ints, odd, numpy_values)
    nested = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=4).map(tuple),
                                                        st.lists(inner, max_size=4)), max_leaves=8)
    anything = st.one_of(leaf, nested, st.builds(RawPads, nested))

    small = st.one_of(st.integers(1, 6), st.integers(-2, 6))  # the edges 0 and -1 as well
    per_axis = st.one_of(small, st.lists(small, min_size=1, max_size=3).map(tuple))
    sizes = st.one_of(st.integers(1, 40), st.lists(st.integers(1, 40), min_size=1, max_size=3).map(tuple))
    pads = st.integers(-1, 3)
    padding = st.one_of(pads, st.lists(pads, min_size=1, max_size=3).map(tuple),
                        st.lists(st.tuples(pads, pads), min_size=1, max_size=3).map(tuple),
                        st.sampled_from(("same", "valid", "same_lower", "causal", "full")))
    small_range = st.one_of(st.builds(range, st.integers(-1, 3), st.integers(1, 6)),
                            st.builds(range, st.integers(0, 2), st.sampled_from((10**6, 10**30))))

    def maybe(good: Any) -> Any:
        return st.one_of(good, good, good, anything)

    good = {
        "input": sizes, "kernel": per_axis, "stride": per_axis, "padding": padding, "dilation": per_axis,
        "groups": st.integers(1, 3), "output_padding": st.one_of(st.none(), st.integers(0, 2)),
        "output_size": st.one_of(st.none(), sizes), "ceil_mode": st.booleans(),
        "count_include_pad": st.one_of(st.none(), st.booleans()), "divisor": st.one_of(st.none(), small),
        "framework": st.sampled_from(("torch", "tensorflow", "jax", "onnx", "tf", "keras", "ort", "caffe")),
        "padding_mode": st.sampled_from(("zeros", "reflect", "replicate", "circular", "bogus")),
        "in_channels": st.one_of(st.none(), small), "out_channels": st.one_of(st.none(), small),
        "size": st.one_of(st.none(), sizes),
        "scale_factor": st.one_of(st.none(), st.floats(0.05, 4.0), st.lists(st.floats(0.1, 3.0), min_size=1,
                                                                              max_size=3).map(tuple)),
        "mode": st.sampled_from(("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")),
        "output": sizes, "lower": st.booleans(), "max_pad": st.integers(0, 64),
        "sizes": st.one_of(st.builds(range, st.integers(-2, 4), st.integers(1, 60)),
                          st.builds(range, st.integers(1, 4), st.sampled_from((10**5 + 1, 10**7, 10**30)))),
        "kernels": small_range, "strides": small_range, "paddings": small_range, "dilations": small_range,
        "op": st.sampled_from(("conv", "max_pool", "avg_pool")),
    }
    return {"good": good, "maybe": maybe, "anything": anything, "st": st}


def _exercise(result: Any, record: Callable[[str, Callable[[], Any]], None]) -> None:
    """Every method and derived view of a result object."""
    from convgeom import AdaptivePoolGeometry, LayerGeometry, ResizeGeometry, explain, inverse_transpose

    record("explain(result)", lambda: explain(result))
    if isinstance(result, LayerGeometry):
        record("to_dict -> json", lambda: json.dumps(result.to_dict()))
        record("derived tuples", lambda: (result.pad, result.torch_pad, result.rf_steps, result.dropped,
                                          result.output_padding, result.effective_kernel))
        if result.op == "conv":
            record("inverse_transpose(result)", lambda: inverse_transpose(result))
        for i in JUNK_INDICES:
            record("window_start(junk)", lambda i=i: result.axes[0].window_start(i))
        for a in result.axes:
            record("axis scalars", lambda a=a: (a.remainder, a.dropped, a.rf_step, a.symmetric, a.padded_input))
            cells = a.output if a.transposed else a.input
            windows = a.input if a.transposed else a.output
            if cells <= SMALL_CELLS and windows <= SMALL_CELLS:
                record("coverage/unread/gaps", lambda a=a: (a.coverage(), a.unread(), a.gaps()))
                record("window_starts", lambda a=a: a.window_starts)
            elif cells > 10**9:
                record("coverage beyond the cap", lambda a=a: _must_refuse(a.coverage))
    elif isinstance(result, AdaptivePoolGeometry):
        record("adaptive views", lambda: (result.uniform, result.rf_steps, result.window(0, 0) if result.output[0]
                                          else None))
        if sum(result.output) <= SMALL_CELLS:
            record("adaptive windows", lambda: result.windows)
        for i in JUNK_INDICES:
            record("window(junk, junk)", lambda i=i: (result.window(i, 0), result.window(0, i)))
    elif isinstance(result, ResizeGeometry):
        record("resize views", lambda: result.rf_steps)
        if result.output[0] <= SMALL_CELLS:
            record("source_indices", lambda: result.source_indices(0))
        for i in JUNK_INDICES:
            record("source_indices(junk)", lambda i=i: result.source_indices(i))


def _must_refuse(fn: Callable[[], Any]) -> None:
    from convgeom import GeometryError

    try:
        fn()
    except GeometryError:
        return
    raise AssertionError("an O(n) view beyond its documented cap did not refuse")


def _fuzz(name: str, tally: dict[str, int]) -> dict[str, list[str]]:
    from hypothesis import HealthCheck, Phase, given, settings

    import convgeom

    s = _strategies()
    st, good, maybe, anything = s["st"], s["good"], s["maybe"], s["anything"]
    failures: dict[str, list[str]] = {}

    def record(what: str, fn: Callable[[], Any], shown: str) -> Any:
        box: list[Any] = []
        verdict = outcome(lambda: box.append(fn()), CASE_SECONDS)
        tally[verdict.split()[0]] = tally.get(verdict.split()[0], 0) + 1
        if verdict.startswith("FAIL"):
            failures.setdefault(f"{what}: {verdict}", []).append(shown)
        return box[0] if box else None

    def kwargs_for(fn: Callable[..., Any], data: Any) -> dict[str, Any]:
        """Plausible values everywhere ("clean", to reach deep), one junk value among plausible
        ones, or junk anywhere."""
        params = inspect.signature(fn).parameters
        plan = data.draw(st.sampled_from(("clean", "one junk", "any")), label="plan")
        junk = data.draw(st.sampled_from(sorted(params)), label="junk parameter") if plan == "one junk" else None
        kwargs: dict[str, Any] = {}
        for pname, param in params.items():
            required = param.default is inspect.Parameter.empty
            if not required and pname != junk and data.draw(st.integers(0, 3), label=f"omit {pname}") == 0:
                continue
            if pname == junk or pname not in good:
                strategy = anything
            else:
                strategy = maybe(good[pname]) if plan == "any" else good[pname]
            kwargs[pname] = data.draw(strategy, label=pname)
        return kwargs

    def body(data: Any) -> None:
        if name in ("explain", "inverse_transpose"):
            op = data.draw(st.sampled_from(("conv", "conv_transpose", "max_pool", "avg_pool", "unfold",
                                            "adaptive_avg_pool", "interpolate")), label="op")
            fn = getattr(convgeom, op)
            kwargs = kwargs_for(fn, data)
            made = record(f"{op}(...)", lambda: fn(**kwargs), repr(kwargs))
            target = made if made is not None and data.draw(st.integers(0, 4)) else data.draw(anything)
            record(f"{name}(...)", lambda: getattr(convgeom, name)(target), f"{name}({target!r})")
            return
        if name == "explain_call":
            op = data.draw(st.one_of(st.sampled_from(("conv", "conv_transpose", "max_pool", "avg_pool", "unfold",
                                                       "adaptive_max_pool", "interpolate")), anything), label="op")
            fn = getattr(convgeom, op) if isinstance(op, str) and op in convgeom.explanation.OPS else convgeom.conv
            kwargs = kwargs_for(fn, data)
            record("explain_call", lambda: convgeom.explain_call(op, **kwargs), f"explain_call({op!r}, **{kwargs!r})")
            return
        call(kwargs_for(getattr(convgeom, name), data))

    def call(kwargs: dict[str, Any]) -> None:
        fn = getattr(convgeom, name)
        shown = f"{name}(**{kwargs!r})"
        result = record(name, lambda: fn(**kwargs), shown)
        if result is None:
            return
        if name == "same_profile":
            record("same_profile views", lambda: (result.asymmetric_inputs, result.table[:3]), shown)
        elif name in ("search", "same_padding"):
            record(f"{name} result", lambda: repr(result), shown)
        else:
            _exercise(result, lambda what, f: record(what, f, shown))

    run = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                   phases=(Phase.explicit, Phase.generate),
                   suppress_health_check=list(HealthCheck))(given(st.data())(body))
    for kwargs in SEEDS.get(name, ()):
        call(kwargs)
    run()
    return failures


def main(names: list[str]) -> int:
    import numpy  # noqa: F401 - imported before the memory limit, like the rest of the child
    from hypothesis import strategies  # noqa: F401

    import convgeom.explanation  # noqa: F401
    import convgeom.solve  # noqa: F401

    limit_memory(HEADROOM_BYTES)
    status = 0
    for name in FUNCTIONS if names == ["all"] else names:
        tally: dict[str, int] = {}
        failures = _fuzz(name, tally)
        for what, cases in sorted(failures.items()):
            status = 1
            print(f"[{name}] {what}  (x{len(cases)}), e.g. {cases[0][:400]}")
        print(f"[{name}] {EXAMPLES} examples, {sum(tally.values())} calls (results {tally.get('ok', 0)}, "
              f"refused {tally.get('refused', 0)}), {len(failures)} failure classes")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["all"]))
