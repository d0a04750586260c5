"""Fuzzing the command line: hypothesis writes argv for every subcommand (numbers of every size
and sign, floats, other scripts' digits, empty strings, wrong separators, mismatched axis counts,
unknown names and options, odd files) and every case must end with exit code 0, or exit code 2
and exactly one stderr line, never a traceback, never exit code 1 (a bug). Input that is
certainly bad (a malformed number, an unknown name, an option the op does not take, an axis count
that is neither 1 nor the input's) must give 2.

The cases call ``main(argv)`` in-process, inside ONE child process that runs under an
address-space limit (``resource.setrlimit``) and a per-case time budget (an interval timer), so
a case that allocates or loops without bound fails the test instead of exhausting the machine.
``CONVGEOM_FUZZ_EXAMPLES`` (default 60 per hypothesis suite) sets the effort; the default takes about a
minute on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MEMORY_LIMIT = 3 * 2**30
CASE_SECONDS = 30
EXAMPLES = int(os.environ.get("CONVGEOM_FUZZ_EXAMPLES", "60"))


def test_cli_fuzz(tmp_path) -> None:
    pytest.importorskip("hypothesis")
    pytest.importorskip("numpy")
    import convgeom

    source = os.path.dirname(os.path.dirname(os.path.abspath(convgeom.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, __file__, str(tmp_path)], capture_output=True, text=True,
                          timeout=1800, env=env, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    assert proc.stdout.count("cases") == 13, proc.stdout


# ----- the child process ----------------------------------------------------------------------
class CaseTimeout(BaseException):
    """Raised by the interval timer; a BaseException so that main() cannot swallow it."""


def _odd_files(folder: str) -> list[str]:
    """Files a user might point `trace` at by mistake, each failing in its own way."""
    files = {
        "empty.py": "",
        "raises.py": "raise RuntimeError('broken on import')\n",
        "exits.py": "import sys\nsys.exit(0)\n",
        "argparses.py": "import argparse\np = argparse.ArgumentParser()\np.add_argument('--epochs', required=True)\n"
                        "p.parse_args()\n",
        "factory_raises.py": "def build(*args, **kwargs):\n    raise ValueError('bad factory')\n",
        "not_a_model.py": "def build(*args, **kwargs):\n    return 42\nvalue = 3\n",
        "junk.py": "\x00\x01\x02 binary junk",
        "empty.onnx": "",
        "junk.onnx": "\x08\x96\x01 not a protobuf \xff",
        "junk.txt": "hello",
        "model.onnx.py": "x = (",
    }
    paths = []
    for name, text in files.items():
        path = os.path.join(folder, name)
        with open(path, "w", encoding="latin-1") as handle:
            handle.write(text)
        paths.append(path)
    os.mkdir(os.path.join(folder, "folder.onnx"))
    return paths + [os.path.join(folder, "folder.onnx"), os.path.join(folder, "missing.onnx")]


def _worker(folder: str) -> int:  # noqa: C901 - one closure per command keeps the strategies together
    import contextlib
    import io
    import resource
    import signal

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    def on_timer(signum: int, frame: object) -> None:
        raise CaseTimeout(f"a case ran longer than {CASE_SECONDS} s")

    signal.signal(signal.SIGALRM, on_timer)

    from convgeom.cli import layer, main, solve, trace_op

    files = _odd_files(folder)
    counts = {"ok": 0, "refused": 0}

    def check(argv: list[str], must_fail: bool) -> None:
        out, err = io.StringIO(), io.StringIO()
        signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        stderr = err.getvalue()
        if os.environ.get("CONVGEOM_FUZZ_VERBOSE"):
            print(code, argv, stderr.strip()[:150], flush=True)
        case = f"convgeom {argv!r} (must fail: {must_fail}) exited {code} with stderr {stderr!r}"
        assert "Traceback" not in stderr and "Traceback" not in out.getvalue(), case
        assert code in (0, 2), case
        if code == 2:
            lines = stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("convgeom: error: "), case
            counts["refused"] += 1
        else:
            assert not must_fail and stderr == "", case
            counts["ok"] += 1

    # --- values, each drawn with a flag: is it certainly bad? ---------------------------------
    bad_ints = ["", " ", "٣", "１２", "1_000", "7.5", "+3", "0x10", "1e3", "nan", "inf", "7;7", "7x7", "7 7",
                "7,,7", ",", "-", "abc", "[7", "\u00a07", "2**8", "0b11", "True", "None", "1/2"]
    bad_names = ["", "caffe", "mxnet", "TORCH ", "py torch", "\u00e9", "torch,tf"]

    def mostly(good: st.SearchStrategy[tuple[str, bool]], bad: st.SearchStrategy[tuple[str, bool]]
               ) -> st.SearchStrategy[tuple[str, bool]]:
        """``good`` nine times in ten: a command has several values, and valid commands must be tried too."""
        return st.integers(0, 9).flatmap(lambda i: good if i else bad)

    def number(max_abs: int) -> st.SearchStrategy[str]:
        """Mostly small sizes; else any size or sign up to ``max_abs``."""
        odd = st.one_of(st.integers(-max_abs, max_abs), st.integers(-3, 0))
        big = st.sampled_from([20_000, 100_000, 10**8, 2**31, 2**62, 2**63 - 1, -(2**63) + 1]).map(
            lambda v: v if abs(v) <= max_abs else max_abs)
        return st.integers(0, 3).flatmap(lambda i: (odd, big, st.integers(1, 12), st.integers(1, 12))[i]).map(str)

    def ints(count: int, max_abs: int) -> st.SearchStrategy[tuple[str, bool]]:
        """A per-axis list for ``count`` axes: good, a wrong count, a bad token, a wrong separator,
        or beyond int64."""
        def wrong_count(c: int) -> st.SearchStrategy[tuple[str, bool]]:
            return st.lists(number(max_abs), min_size=c, max_size=c).map(lambda v: (",".join(v), True))

        return mostly(st.one_of(
            st.lists(number(max_abs), min_size=count, max_size=count).map(lambda v: (",".join(v), False)),
            number(max_abs).map(lambda v: (v, False))), st.one_of(
            st.integers(1, 5).filter(lambda c: c not in (1, count)).flatmap(wrong_count), malformed(max_abs)))

    def sizes(count: int, max_abs: int) -> st.SearchStrategy[tuple[str, bool]]:
        """An --input of ``count`` axes (it decides the number of axes), or a malformed one."""
        return mostly(st.lists(number(max_abs), min_size=count, max_size=count).map(lambda v: (",".join(v), False)),
                      malformed(max_abs))

    def malformed(max_abs: int) -> st.SearchStrategy[tuple[str, bool]]:
        return st.one_of(
            st.sampled_from(bad_ints).map(lambda t: (t, True)),
            st.tuples(st.lists(number(max_abs), min_size=2, max_size=3), st.sampled_from([";", " ", "x", "|", "\uff0c"]))
            .map(lambda t: (t[1].join(t[0]), True)),
            st.integers(2**63, 2**80).map(lambda v: (str(v if v % 2 else -v), True)),
        )

    def padding(count: int, max_abs: int) -> st.SearchStrategy[tuple[str, bool]]:
        pair = st.tuples(number(max_abs), number(max_abs)).map(lambda p: f"{p[0]}:{p[1]}")
        return st.one_of(
            ints(count, max_abs),
            st.sampled_from(["valid", "same", "SAME", "same-lower", "causal", "full"]).map(lambda t: (t, False)),
            st.lists(pair, min_size=count, max_size=count).map(lambda v: (",".join(v), False)),
            st.lists(pair, min_size=1, max_size=4).filter(lambda v: len(v) != count)
            .map(lambda v: (",".join(v), True)),
            st.sampled_from(["half", "1:2:3", "[[1,2],[3]]", "x:y", ":", "1:", "[[", "same,same"])
            .map(lambda t: (t, True)),
        )

    def scale(count: int) -> st.SearchStrategy[tuple[str, bool]]:
        good = st.floats(0.01, 1e6, allow_nan=False).map(lambda f: f"{f:.6g}").filter(lambda t: "e" not in t)
        return st.one_of(
            st.lists(good, min_size=count, max_size=count).map(lambda v: (",".join(v), False)),
            st.sampled_from(["nan", "inf", "-inf", "1e400", "٢", "", "2;2", "0x1", "1_0"]).map(lambda t: (t, True)),
        )

    def framework() -> st.SearchStrategy[tuple[str, bool]]:
        return st.one_of(st.sampled_from(["torch", "tensorflow", "jax", "onnx", "tf", "keras", "PyTorch", "ort"])
                         .map(lambda t: (t, False)), st.sampled_from(bad_names).map(lambda t: (t, True)))

    def options(draw: st.DrawFn, names: list[str], value: object, takes: tuple[str, ...] = (),
                needs: tuple[str, ...] = ()) -> tuple[list[str], set[str], bool]:
        """``needs`` (mostly), up to 3 of the options ``takes`` (those the command accepts), and
        sometimes one of ``names``."""
        chosen = list(needs) if draw(st.integers(0, 5)) else []
        chosen = list(dict.fromkeys(chosen + draw(st.lists(st.sampled_from(takes or names), unique=True, max_size=3))))
        if draw(st.integers(0, 4)) == 0:
            chosen = list(dict.fromkeys(chosen + [draw(st.sampled_from(names))]))
        argv: list[str] = []
        bad = False
        for name in chosen:
            text, is_bad = value(name)  # type: ignore[operator]
            bad |= is_bad
            argv += ["--" + name.replace("_", "-")] + ([] if text is None else [text])
        return argv, set(chosen), bad

    # --- shape and explain ----------------------------------------------------------------
    @st.composite
    def layer_argv(draw: st.DrawFn, command: str) -> tuple[list[str], bool]:
        max_abs = 2**63 - 1
        op = draw(mostly(st.sampled_from(list(layer.OPS)).map(lambda o: (o, False)),
                         st.sampled_from(["bogus", "Conv", ""]).map(lambda o: (o, True))))[0]
        ndim = draw(st.integers(1, 3))
        input_text, bad = draw(sizes(ndim, max_abs))

        def value(name: str) -> tuple[str | None, bool]:
            if name == "ceil_mode":
                return None, False
            if name == "count_include_pad":
                return draw(st.sampled_from([("true", False), ("false", False), ("yes", True)]))
            if name == "padding_mode":
                return draw(st.sampled_from([("zeros", False), ("reflect", False), ("circular", False),
                                             ("mirror", False)]))
            if name == "framework":
                return draw(framework())
            if name == "padding":
                return draw(padding(ndim, max_abs))
            if name == "scale":
                return draw(scale(ndim))
            if name in ("groups", "divisor"):
                return draw(st.one_of(number(max_abs).map(lambda t: (t, False)),
                                      st.sampled_from(bad_ints).map(lambda t: (t, True))))
            return draw(ints(ndim, max_abs))

        needs = layer.OPS[op][2] if op in layer.OPS else ()
        if op == "interpolate":
            needs = (draw(st.sampled_from(["size", "scale"])),)
        extra, chosen, bad_value = options(draw, list(layer.OPTIONS), value,
                                           layer.OPS[op][1] if op in layer.OPS else (), needs)
        bad |= bad_value or op not in layer.OPS
        if op in layer.OPS:
            _, takes, needs = layer.OPS[op]
            bad |= bool(chosen - set(takes) - {"framework"}) or bool(set(needs) - chosen)
        return [command, op, "--input", input_text, *extra, *draw(st.sampled_from([[], ["--json"]]))], bad

    # --- solve ---------------------------------------------------------------------------
    @st.composite
    def solve_argv(draw: st.DrawFn) -> tuple[list[str], bool]:
        what = draw(mostly(st.sampled_from(list(solve.SOLVERS)).map(lambda o: (o, False)),
                           st.just(("bogus", True))))[0]
        ndim = draw(st.integers(1, 2))

        def ranges(low: int) -> st.SearchStrategy[tuple[str, bool]]:
            small = st.tuples(st.integers(low, 12), st.integers(0, 8)).map(lambda t: (f"{t[0]}-{t[0] + t[1]}", False))
            return st.one_of(small, st.integers(low, 40).map(lambda v: (str(v), False)),
                             st.just(("0-0", low > 0)),
                             st.sampled_from(["1-10000000000", "9-1", "1:5", "", "a-b", "-1-3", "1--3", "٣-٤",
                                              "1-2-3"]).map(lambda t: (t, True)))

        def value(name: str) -> tuple[str | None, bool]:
            if name == "lower":
                return None, False
            if name == "op":
                return draw(st.sampled_from([("conv", False), ("max-pool", False), ("avg-pool", False),
                                             ("pool", True)]))
            if name == "framework":
                return draw(framework())
            if name == "padding":
                return draw(padding(ndim, 2**63 - 1))
            if name in ("kernels", "strides", "dilations", "sizes"):
                return draw(ranges(1))
            if name == "paddings":
                return draw(ranges(0))
            if name == "input":
                return draw(sizes(ndim, 2**63 - 1))
            return draw(ints(ndim, 2**63 - 1))

        extra, chosen, bad = options(draw, list(solve.OPTIONS), value,
                                     *(solve.SOLVERS[what][1:3] if what in solve.SOLVERS else ((), ())))
        if what in solve.SOLVERS:
            _, takes, needs, _ = solve.SOLVERS[what]
            bad |= bool(chosen - set(takes)) or bool(set(needs) - chosen)
        else:
            bad = True
        return ["solve", what, *extra, *draw(st.sampled_from([[], ["--json"]]))], bad

    # --- trace-op -------------------------------------------------------------------------
    @st.composite
    def trace_op_argv(draw: st.DrawFn) -> tuple[list[str], bool]:
        op = draw(st.sampled_from(trace_op.OPS))
        nd = draw(st.integers(1, 3))
        shape = draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd))
        values = st.one_of(st.integers(-9, 9), st.floats(-1e3, 1e3, allow_nan=False))

        def nested(dims: list[int]) -> object:
            if not dims:
                return draw(values)
            return [nested(dims[1:]) for _ in range(dims[0])]

        argv = ["trace-op", "--op", op]
        bad = False
        if draw(st.booleans()):
            import json

            text = draw(st.one_of(st.just(json.dumps(nested(shape))),
                                  st.sampled_from(["[[1,2],[3]]", "[[", "[]", "5", '[["a"]]', "[1e999]",
                                                   "[" * 5000 + "]" * 5000, "[" * 50 + "1" + "]" * 50, ""])))
            argv += ["--input", text]
            bad |= text in ("[[1,2],[3]]", "[[", "[]", "5", '[["a"]]', "", "[" * 5000 + "]" * 5000,
                            "[" * 50 + "1" + "]" * 50)
        else:
            nd = 2

        def value(name: str) -> tuple[str | None, bool]:
            if name == "ceil_mode":
                return None, False
            if name == "count_include_pad":
                return draw(st.sampled_from([("true", False), ("false", False), ("1", True)]))
            if name == "padding_mode":
                return draw(st.sampled_from([("zeros", False), ("reflect", False), ("circular", False)]))
            if name == "framework":
                return draw(framework())
            if name == "padding":
                return draw(padding(nd, 2**63 - 1))
            if name in ("weight", "bias"):
                return draw(st.sampled_from([("[[1,0],[0,1]]", False), ("0.5", False), ("[1]", False),
                                             ("[[1,2],[3]]", True), ("x", True)]))
            if name in ("groups", "divisor", "max_windows"):
                return draw(st.one_of(number(2**63 - 1).map(lambda t: (t, False)),
                                      st.sampled_from(bad_ints).map(lambda t: (t, True))))
            return draw(ints(nd, 2**63 - 1))

        names = sorted({n for takes in trace_op.TAKES.values() for n in takes} | {"max_windows"})
        extra, chosen, bad_value = options(draw, names, value, trace_op.TAKES[op] + ("max_windows",))
        bad |= bad_value or bool(chosen - set(trace_op.TAKES[op]) - {"max_windows"})
        bad |= op == "conv" and {"weight", "kernel_size"} <= chosen
        return argv + extra + draw(st.sampled_from([[], ["--json"]])), bad

    # --- trace ----------------------------------------------------------------------------
    @st.composite
    def trace_argv(draw: st.DrawFn) -> tuple[list[str], bool]:
        target = draw(st.sampled_from(files))
        suffix = draw(st.sampled_from(["", ":build", ":build(1, width=2)", ":build(x)", ":value", ":", ":build(",
                                       ":no_such_factory"]))
        spec = draw(st.one_of(st.just(target + suffix),
                              st.sampled_from(["convgeom_no_such_module:build", "math:sqrt", "math:pi",
                                               "math:sqrt(4)", "a:b:c", "", ":", "model.h5", "no_colon"])))
        shape = draw(st.one_of(st.lists(st.integers(1, 64), min_size=3, max_size=5)
                               .map(lambda v: (",".join(map(str, v)), False)),
                               st.sampled_from(["1x3x8x8", "(1, 3, 8, 8)"]).map(lambda t: (t, False)),
                               st.sampled_from(bad_ints + ["1,3,0,8", "1,3,-8,8", "1," * 20 + "1"])
                               .map(lambda t: (t, True))))
        argv = ["trace", spec, "--input", shape[0]]
        extra = draw(st.lists(st.sampled_from([
            ["--depth", "-1"], ["--depth", "2"], ["--depth", "1000000"], ["--depth", "x"],
            ["--valid-sizes", "3:100000000"], ["--valid-sizes", "8:12"], ["--valid-sizes", "0:5"],
            ["--valid-sizes", "5"], ["--framework", "torch"], ["--framework", "caffe"], ["--json"], ["--csv"],
            ["--plain"], ["--no-findings"], ["--dtype", "float16"], ["--dtype", "bogus"],
        ]), max_size=3))
        # none of these specs is a working model, so every case must fail
        return argv + [t for option in extra for t in option], True

    # --- mutants: a valid command with one option set to any value -----------------------------
    bases: dict[str, list[list[str]]] = {
        "shape": [["conv", "--input", "7,7", "--kernel", "3"], ["conv-transpose", "--input", "3", "--kernel", "3"],
                  ["max-pool", "--input", "7", "--kernel", "2"], ["avg-pool", "--input", "7", "--kernel", "3"],
                  ["unfold", "--input", "7,7", "--kernel", "3"], ["adaptive-avg-pool", "--input", "7", "--output", "3"],
                  ["interpolate", "--input", "7", "--size", "14"]],
        "solve": [["same", "--input", "224", "--kernel", "3", "--stride", "2"],
                  ["padding", "--input", "28", "--output", "28", "--kernel", "5"],
                  ["search", "--input", "224", "--output", "112", "--kernels", "3"],
                  ["transpose", "--input", "8", "--kernel", "3", "--stride", "2", "--padding", "1"],
                  ["profile", "--kernel", "3", "--stride", "2"]],
        "trace-op": [[], ["--op", "max_pool"], ["--op", "avg_pool", "--input", "[[1, 2, 3], [4, 5, 6], [7, 8, 9]]"],
                     ["--input", "[1, 2, 3, 4, 5]", "--kernel-size", "2"]],
    }
    bases["explain"] = bases["shape"]

    def any_value(max_abs: int) -> st.SearchStrategy[tuple[str, bool]]:
        """Half the time a boundary size (0, 1, 20000, 2**31, int64's ends, ...), else any kind of value."""
        edges = st.sampled_from([0, 1, 2, 3, 7, -1, 100, 20_000, 100_000, 10**8, 2**31, 2**62, 2**63 - 1,
                                 -(2**63) + 1]).filter(lambda v: abs(v) <= max_abs).map(lambda v: (str(v), False))
        other = st.one_of(ints(2, max_abs), padding(2, max_abs), scale(2), framework(),
                          st.sampled_from(["true", "false", "zeros", "reflect", "3-5", "0-0", "8:12", "[[1, 2]]",
                                           "0.5"]).map(lambda t: (t, False)))
        return st.integers(0, 1).flatmap(lambda i: edges if i else other)

    def applies(command: str, base: list[str], name: str) -> bool:
        if command in ("shape", "explain"):
            return name in layer.OPS[base[0]][1] or (name == "framework")
        if command == "solve":
            return name in solve.SOLVERS[base[0]][1]
        op = base[base.index("--op") + 1] if "--op" in base else "conv"
        return name in trace_op.TAKES[op] + ("max_windows",)

    @st.composite
    def mutant_argv(draw: st.DrawFn, command: str) -> tuple[list[str], bool]:
        base = list(draw(st.sampled_from(bases[command])))
        names = {"solve": list(solve.OPTIONS), "trace-op": sorted(trace_op._OPTIONS + ["max_windows"])}.get(
            command, list(layer.OPTIONS))
        takes = [n for n in names if applies(command, base, n)]
        name = draw(st.integers(0, 3).flatmap(lambda i: st.sampled_from(takes if i else names)))
        flag = "--" + name.replace("_", "-")
        limit = 2**63 - 1
        if name in ("ceil_mode", "lower"):
            text, bad = None, False
        else:
            text, bad = draw(any_value(limit))
        if flag in base:
            at = base.index(flag)
            del base[at:at + 2]
        argv = base + [flag] + ([] if text is None else [text])
        prefix = [command] if command != "trace-op" else ["trace-op"]
        return prefix + argv, bad or not applies(command, base, name)

    def grid(command: str) -> None:
        """Every base command x every option x boundary values: the sizes where work could blow
        up (20000, 10**8, int64's end) are each tried on every option, not left to chance."""
        counts.update(ok=0, refused=0)
        names = {"solve": list(solve.OPTIONS), "trace-op": sorted(trace_op._OPTIONS + ["max_windows"])}.get(
            command, list(layer.OPTIONS))
        edges = [(str(v), False) for v in (0, -1, 1, 3, 20_000, 10**8, 2**63 - 1)]
        edges += [(str(2**63), True), ("", True), ("٣", True), ("1,2,3", False), ("-3:-3", False)]
        for base in bases[command]:
            for name in names:
                flag = "--" + name.replace("_", "-")
                for text, bad in [(None, False)] if name in ("ceil_mode", "lower") else edges:
                    argv = list(base)
                    if flag in argv:
                        at = argv.index(flag)
                        del argv[at:at + 2]
                    argv += [flag] + ([] if text is None else [text])
                    json_number = name in ("weight", "bias") and text == str(2**63)  # a float, no cap
                    check([command, *argv], (bad and not json_number) or not applies(command, base, name))
        print(f"{command} grid: {counts['ok'] + counts['refused']} cases, {counts['refused']} refused", flush=True)

    def run(name: str, strategy: st.SearchStrategy[tuple[list[str], bool]]) -> None:
        counts.update(ok=0, refused=0)

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def case(drawn: tuple[list[str], bool]) -> None:
            check(*drawn)

        case()
        print(f"{name}: {counts['ok'] + counts['refused']} cases, {counts['refused']} refused", flush=True)

    run("shape", layer_argv("shape"))
    run("explain", layer_argv("explain"))
    run("solve", solve_argv())
    run("trace-op", trace_op_argv())
    run("trace", trace_argv())
    for command in bases:
        run(f"{command} mutants", mutant_argv(command))
        grid(command)
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1]))
