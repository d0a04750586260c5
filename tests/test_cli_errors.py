"""Bad command-line input: exit code 2 and exactly one stderr line, every time, with bounded work.

One test (or one parametrized case) per failure reported in issue 8; each failed before the fix.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from convgeom.cli import main


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``convgeom argv`` in-process; it must exit 2 with one stderr line. Returns that line."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (code, captured)
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("convgeom: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def succeeds(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0 and captured.err == "", captured
    return captured.out


def bounded_run(args: list[str], memory_mib: int = 1024, seconds: int = 60) -> subprocess.CompletedProcess[str]:
    """``python -m convgeom args`` under an address-space limit (work must not grow with sizes)."""
    limit = memory_mib * 2**20
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit})); "
            "from convgeom.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=seconds)


# ----- sizes: huge numbers are refused before any work, explanations stay O(1) -----------------
@pytest.mark.parametrize("argv, needle", [
    (["explain", "conv", "--input", "1" + "0" * 30, "--kernel", "3"], "larger than 9223372036854775807"),
    (["explain", "conv", "--input", "9223372036854775808", "--kernel", "3"], "larger than 9223372036854775807"),
    (["shape", "conv", "--input", "7", "--kernel", "-" + "9" * 40], "below -9223372036854775807"),
    (["shape", "conv", "--input", "7", "--kernel", "9" * 5000], "larger than"),
])
def test_numbers_beyond_int64(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(argv, capsys)


def test_explain_of_a_huge_input_is_bounded() -> None:
    proc = bounded_run(["explain", "conv", "--input", "100000000", "--kernel", "3"], memory_mib=512, seconds=30)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert "99999998" in proc.stdout and len(proc.stdout) < 10_000


def test_explain_json_of_the_largest_input_is_bounded() -> None:
    proc = bounded_run(["explain", "conv", "--input", str(2**63 - 1), "--kernel", "3", "--json"], memory_mib=512,
                       seconds=30)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert json.loads(proc.stdout)["output"] == [2**63 - 3]


def test_shape_of_the_largest_input_is_bounded() -> None:
    proc = bounded_run(["shape", "conv", "--input", str(2**63 - 1), "--kernel", "3", "--json"], memory_mib=512)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == [2**63 - 3]


# ----- solve profile and every range ---------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["solve", "profile", "--kernel", "3", "--stride", "0"], "--stride must be >= 1, got 0"),
    (["solve", "profile", "--kernel", "0"], "--kernel must be >= 1, got 0"),
    (["solve", "profile", "--kernel", "-3"], "--kernel must be >= 1, got -3"),
    (["solve", "profile", "--kernel", "3", "--stride", "-2"], "--stride must be >= 1, got -2"),
    (["solve", "profile", "--kernel", "3", "--dilation", "0"], "--dilation must be >= 1"),
    (["solve", "profile", "--kernel", "3", "--sizes", "0-5"], "--sizes starts at 0"),
    (["solve", "profile", "--kernel", "3", "--sizes", "1-10000000"], "at most 10000"),
    (["solve", "profile", "--kernel", "3", "--sizes", "9-1"], "is empty"),
    (["solve", "profile", "--kernel", "3", "--sizes", "1:5"], "is not N or LOW-HIGH"),
    (["solve", "search", "--input", "224", "--output", "112", "--kernels", "1-10000000000"], "at most 1000"),
    (["solve", "search", "--input", "224", "--output", "112", "--kernels", "0-3"], "--kernels starts at 0"),
    (["solve", "search", "--input", "224", "--output", "112", "--strides", "0-3"], "--strides starts at 0"),
    (["solve", "search", "--input", "224", "--output", "112", "--paddings", "-1-3"], "--paddings starts at -1"),
    (["solve", "search", "--input", "224", "--output", "112", "--dilations", "0"], "--dilations starts at 0"),
    (["solve", "search", "--input", "224", "--output", "112", "--kernels", "1-1000", "--strides", "1-1000"],
     "too large"),
    (["solve", "search", "--input", "0", "--output", "112"], "--input must be >= 1"),
    (["solve", "search", "--input", "224,224", "--output", "112"], "is not an integer"),
    (["trace", "x.py:build", "--input", "1,3,8,8", "--valid-sizes", "3:100000000"], "at most 1024"),
    (["trace", "x.py:build", "--input", "1,3,8,8", "--valid-sizes", "0:10"], "must be >= 1"),
    (["trace", "x.py:build", "--input", "1,3,8,8", "--valid-sizes", "10:3"], "is empty"),
    (["trace", "x.py:build", "--input", "1,3,8,8", "--depth", "-1"], "--depth must be >= 0, got -1"),
    (["trace", "x.py:build", "--input", "1,3,8,8", "--depth", "100000"], "at most 1000"),
    (["trace-op", "--max-windows", "1000000"], "at most 200000"),
])
def test_every_range_is_checked_and_capped(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(argv, capsys)


def test_profile_still_answers(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    data = json.loads(succeeds(["solve", "profile", "--kernel", "3", "--stride", "2", "--sizes", "5-9", "--json"],
                               capsys))
    for n, before, after in data["table"]:
        x = torch.nn.functional.pad(torch.zeros(1, 1, n), (before, after))
        # TF 'same' gives ceil(n / s) outputs; the pads reproduce it in PyTorch
        assert torch.nn.functional.conv1d(x, torch.zeros(1, 1, 3), stride=2).shape[-1] == -(-n // 2)


# ----- axis counts come from --input ---------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["shape", "conv", "--input", "7", "--kernel", "3", "--padding", "0,1"],
     "--padding has 2 values but --input has 1 axis"),
    (["shape", "conv", "--input", "7", "--kernel", "3,3"], "--kernel has 2 values but --input has 1 axis"),
    (["shape", "conv", "--input", "7,7", "--kernel", "3,3,3"], "--kernel has 3 values but --input has 2 axes"),
    (["shape", "conv", "--input", "7,7", "--kernel", "3", "--padding", "0:1"],
     "--padding has 1 before:after pairs but --input has 2 axes"),
    (["shape", "conv", "--input", "7,7,7", "--kernel", "3", "--stride", "1,2"],
     "--stride has 2 values but --input has 3 axes"),
    (["shape", "adaptive-avg-pool", "--input", "7", "--output", "3,3"], "--output has 2 values"),
    (["shape", "interpolate", "--input", "7", "--scale", "2,2"], "--scale has 2 values"),
    (["solve", "same", "--input", "8", "--kernel", "3,3"], "--kernel has 2 values but --input has 1 axis"),
    (["trace-op", "--kernel-size", "3,3,3"], "--kernel-size has 3 values but the --input array has 2 axes"),
])
def test_axis_count_mismatch_names_both_counts(argv: list[str], needle: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(argv, capsys)


# ----- unknown names and options an op does not take -------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["shape", "adaptive-avg-pool", "--input", "7", "--output", "3", "--framework", "caffe", "--kernel", "99",
      "--stride", "0"], "unknown framework 'caffe'"),
    (["shape", "adaptive-avg-pool", "--input", "7", "--output", "3", "--kernel", "99"],
     "--kernel does not apply to adaptive-avg-pool"),
    (["shape", "adaptive-avg-pool", "--input", "7", "--output", "3", "--stride", "0"],
     "--stride does not apply to adaptive-avg-pool"),
    (["shape", "adaptive-max-pool", "--input", "7", "--output", "3", "--framework", "onnx"],
     "--framework onnx does not apply to adaptive-max-pool"),
    (["shape", "interpolate", "--input", "7", "--size", "14", "--padding", "1"], "--padding does not apply"),
    (["shape", "max-pool", "--input", "7", "--kernel", "3", "--groups", "2"], "--groups does not apply to max-pool"),
    (["shape", "conv", "--input", "7", "--kernel", "3", "--ceil-mode"], "--ceil-mode does not apply to conv"),
    (["shape", "conv", "--input", "7", "--kernel", "3", "--output-padding", "1"], "--output-padding does not apply"),
    (["explain", "conv", "--input", "7", "--kernel", "3", "--divisor", "2"], "--divisor does not apply to conv"),
    (["shape", "conv", "--input", "7", "--kernel", "3", "--framework", ""], "unknown framework ''"),
    (["solve", "search", "--input", "224", "--output", "112", "--framework", "caffe"], "unknown framework"),
    (["solve", "profile", "--kernel", "3", "--framework", "caffe"], "unknown framework"),
    (["solve", "profile", "--kernel", "3", "--input", "5"], "--input does not apply to solve profile"),
    (["solve", "same", "--input", "8", "--kernel", "3", "--sizes", "1-5"], "--sizes does not apply to solve same"),
    (["solve", "padding", "--input", "8", "--output", "8", "--kernel", "3", "--lower"],
     "--lower does not apply to solve padding"),
    (["solve", "same", "--kernel", "3"], "solve same needs --input"),
    (["trace-op", "--framework", "caffe"], "unknown framework 'caffe'"),
    (["trace-op", "--op", "max_pool", "--groups", "2"], "--groups does not apply to trace-op --op max_pool"),
    (["trace-op", "--op", "avg_pool", "--padding-mode", "reflect"], "--padding-mode does not apply"),
    (["trace-op", "--op", "avg_pool", "--dilation", "2"], "avg_pool has no dilation"),
    (["trace-op", "--weight", "[[1]]", "--kernel-size", "3"], "not both"),
    (["trace", "x.py:build", "--framework", "caffe"], "invalid choice: 'caffe'"),
])
def test_unknown_names_and_options_that_do_not_apply(argv: list[str], needle: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(argv, capsys)


# ----- solve same answers for the framework asked ---------------------------------------------
def test_solve_same_refuses_torch_stride_2_with_the_rule_and_a_fix(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, ValueError), match="not supported for strided convolutions"):
        torch.nn.Conv1d(1, 1, 3, stride=2, padding="same")
    line = fails(["solve", "same", "--framework", "torch", "--stride", "2", "--input", "224", "--kernel", "3"], capsys)
    assert "PyTorch: padding='same' is not supported for strided convolutions" in line and "F.pad" in line


def test_solve_same_answers_for_torch_where_torch_has_same(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    data = json.loads(succeeds(["solve", "same", "--framework", "torch", "--input", "10", "--kernel", "4",
                                "--json"], capsys))
    assert data["framework"] == "torch"
    x = torch.arange(10.0).view(1, 1, 10)
    w = torch.randn(1, 1, 4, dtype=torch.float32)
    want = torch.nn.functional.conv1d(x, w, padding="same")
    got = torch.nn.functional.conv1d(torch.nn.functional.pad(x, tuple(data["torch_pad"])), w)
    assert torch.allclose(want, got)


def test_solve_same_default_is_tensorflow_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(succeeds(["solve", "same", "--input", "224", "--kernel", "3", "--stride", "2", "--json"],
                               capsys))
    assert data["framework"] == "tensorflow"
    text = succeeds(["solve", "same", "--input", "224", "--kernel", "3", "--stride", "2"], capsys)
    assert text.startswith("tensorflow 'same'")


# ----- trace-op checks sizes before allocating ------------------------------------------------
@pytest.mark.parametrize("size", ["100000", "20000"])
def test_trace_op_huge_kernel_is_refused_before_allocating(size: str) -> None:
    pytest.importorskip("numpy")
    proc = bounded_run(["trace-op", "--kernel-size", size], memory_mib=768, seconds=60)
    assert proc.returncode == 2, proc.stderr[-300:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Kernel size can't be greater than actual input size" in lines[0]


@pytest.mark.parametrize("argv, needle", [
    (["trace-op", "--padding", "100000", "--kernel-size", "100000", "--framework", "jax"], "cells, more than"),
    (["trace-op", "--padding", "1000000", "--kernel-size", "1", "--stride", "1000000", "--framework", "jax"],
     "pad the input to"),
    (["trace-op", "--op", "max_pool", "--kernel-size", "2", "--stride", "100000000", "--ceil-mode",
      "--framework", "onnx"], None),
    (["trace-op", "--op", "max_pool", "--padding", "100000", "--framework", "jax"], "cells, more than"),
    (["trace-op", "--input", "[" * 100_000], "nested too deeply"),
    (["trace-op", "--input", "[1e999999]"], None),
    (["trace-op", "--input", "[" + "1" * 400 + "]"], "rectangular nested list"),
    (["trace-op", "--input", "5"], "trace-op takes 1 to 3"),
    (["trace-op", "--input", "[[[[1]]]]"], "trace-op takes 1 to 3"),
])
def test_trace_op_bounded(argv: list[str], needle: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("numpy")
    if needle is None:
        code = main(argv)
        captured = capsys.readouterr()
        assert code in (0, 2) and "Traceback" not in captured.err
    else:
        assert needle in fails(argv, capsys)


# ----- negative values after a space ---------------------------------------------------------
def test_negative_values_after_a_space(capsys: pytest.CaptureFixture[str]) -> None:
    spaced = succeeds(["shape", "conv", "--input", "9", "--kernel", "3", "--padding", "-1:-1", "--framework", "jax",
                       "--json"], capsys)
    joined = succeeds(["shape", "conv", "--input", "9", "--kernel", "3", "--padding=-1:-1", "--framework", "jax",
                       "--json"], capsys)
    assert spaced == joined and json.loads(spaced)["pad_before"] == [-1]
    assert succeeds(["shape", "conv", "--input", "9,9", "--kernel", "3", "--padding", "-1,-1", "--framework", "jax",
                     "--json"], capsys)
    # a negative number where a size belongs is a value, refused by the rule, not an unknown option
    assert "--stride must be >= 1, got -2" in fails(["solve", "profile", "--kernel", "3", "--stride", "-2"], capsys)
    assert "--max-windows must be >= 0" in fails(["trace-op", "--max-windows", "-3"], capsys)
    # options keep working after a negative value
    line = fails(["shape", "conv", "--input", "9", "--kernel", "3", "--padding", "-1:-1", "--bogus"], capsys)
    assert "unrecognized arguments: --bogus" in line


# ----- strict numbers -------------------------------------------------------------------------
@pytest.mark.parametrize("text, needle", [
    ("٣", "'٣' is not an ASCII digit"),
    ("７", "is not an ASCII digit"),
    ("1_000", "digit separators ('_') are not accepted"),
    ("7.0", "it has a decimal point"),
    ("+7", "unexpected '+'"),
    ("0x10", "unexpected 'x'"),
    ("7 7", "it has a space inside"),
    ("", "--input is empty"),
    ("   ", "--input is empty"),
    ("7;7", "unexpected ';'"),
    ("7x7", "unexpected 'x'"),
    ("7,,7", "has an empty value"),
    ("7,", "has an empty value"),
    ("7-", "a '-' is misplaced"),
    ("-", "a '-' is misplaced"),
    ("1," * 20 + "1", "at most 16 axes"),
])
def test_strict_integers(text: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(["shape", "conv", "--input", text, "--kernel", "3"], capsys)


@pytest.mark.parametrize("text", [" 7 ", "7, 7", "[7, 7]", "007"])
def test_accepted_integer_spellings(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """ASCII spaces around an item, one pair of brackets and leading zeros are accepted."""
    canonical = "7" if "," not in text else "7,7"
    want = succeeds(["shape", "conv", "--input", canonical, "--kernel", "3", "--json"], capsys)
    assert succeeds(["shape", "conv", "--input", text, "--kernel", "3", "--json"], capsys) == want


@pytest.mark.parametrize("text, needle", [
    ("nan", "not a list of positive decimal numbers"),
    ("inf", "not a list of positive decimal numbers"),
    ("1e400", "too large"),
    ("٢", "not a list of positive decimal numbers"),
    ("", "--scale is empty"),
    ("2;2", "not a list of positive decimal numbers"),
])
def test_strict_floats(text: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(["shape", "interpolate", "--input", "7", "--scale", text], capsys)


@pytest.mark.parametrize("text, needle", [
    ("half", "unknown padding 'half'"),
    ("1:2:3", "is not a before:after pair"),
    ("[[1,2],[3]]", "is not a list of [before, after] pairs"),
    ("x:y", "unknown padding"),
    ("1;1", "unexpected ';'"),
])
def test_strict_padding(text: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(["shape", "conv", "--input", "7,7", "--kernel", "3", "--padding", text], capsys)


def test_json_pairs_and_colon_pairs_agree(capsys: pytest.CaptureFixture[str]) -> None:
    a = succeeds(["shape", "conv", "--input", "8,8", "--kernel", "3", "--padding", "[[0, 1], [1, 1]]", "--json"],
                 capsys)
    assert a == succeeds(["shape", "conv", "--input", "8,8", "--kernel", "3", "--padding", "0:1,1:1", "--json"], capsys)


# ----- --version, --help, --traceback -----------------------------------------------------------
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import convgeom

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"convgeom {convgeom.__version__}\n"
    proc = subprocess.run([sys.executable, "-m", "convgeom", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "convgeom 0.1.0\n"


def test_traceback_flag_shows_the_cause(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "broken_on_import.py"
    model.write_text("x = 1\nraise RuntimeError('model file is broken')\n")
    line = fails(["trace", f"{model}:build", "--input", "1,3,8,8"], capsys)
    assert f"importing '{model}' raised RuntimeError: model file is broken (at {model}:2)" in line
    for argv in (["--traceback", "trace", f"{model}:build", "--input", "1,3,8,8"],
                 ["trace", f"{model}:build", "--input", "1,3,8,8", "--traceback"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):")
        assert f'File "{model}", line 2' in err and err.rstrip().splitlines()[-1] == line


# ----- user code named by `trace`: one line naming the file, the exception and where -----------
@pytest.mark.parametrize("source, needle", [
    ("raise RuntimeError('boom')\n", "raised RuntimeError: boom (at {f}:1)"),
    ("import sys\nsys.exit(0)\n", "raised SystemExit: 0 (at {f}:2)"),
    ("import sys\nsys.exit('bye')\n", "raised SystemExit: bye (at {f}:2)"),
    ("import argparse\np = argparse.ArgumentParser()\np.add_argument('--epochs', required=True)\np.parse_args()\n",
     "raised SystemExit: 2 (at {f}:4)"),
    ("def build(:\n", "raised SyntaxError"),
    ("import convgeom_no_such_dependency\n", "raised ModuleNotFoundError: No module named 'convgeom_no_such_dependency'"),
    ("def build():\n    raise ValueError('bad factory')\n", "calling 'build' from '{f}' raised ValueError: bad factory (at {f}:2)"),
    ("def build():\n    import sys\n    sys.exit(3)\n", "raised SystemExit: 3 (at {f}:3)"),
    ("", "has no attribute 'build'"),
    ("\x00\x01binary junk", "raised"),
])
def test_user_code_errors_are_one_line(tmp_path, capsys: pytest.CaptureFixture[str], source: str, needle: str) -> None:
    model = tmp_path / "usermodel.py"
    model.write_text(source)
    line = fails(["trace", f"{model}:build", "--input", "1,3,8,8", "--json"], capsys)
    assert needle.format(f=model) in line


def test_user_module_does_not_see_convgeoms_argv(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "argv_spy.py"
    model.write_text(textwrap.dedent("""
        import sys
        SEEN = list(sys.argv)
        print("hello from the model file")
        def build():
            raise RuntimeError(repr(SEEN))
    """))
    line = fails(["trace", f"{model}:build", "--input", "1,3,8,8", "--json"], capsys)
    assert f"RuntimeError: [{str(model)!r}]" in line and "--json" not in line.split("RuntimeError")[1]


def test_user_argparse_with_defaults_and_prints_keep_stdout_clean(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    model = tmp_path / "script_like.py"
    model.write_text(textwrap.dedent("""
        import argparse
        import torch.nn as nn
        p = argparse.ArgumentParser()
        p.add_argument("--width", type=int, default=4)
        ARGS = p.parse_args()
        print("loading the model")
        def build():
            print("building")
            return nn.Conv2d(3, ARGS.width, 3)
    """))
    assert main(["trace", f"{model}:build", "--input", "1,3,8,8", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["output_shapes"] == [[1, 4, 6, 6]]
    assert captured.err == "loading the model\nbuilding\n"


def test_module_spec_imports_from_the_current_directory(tmp_path, monkeypatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "convgeom_cwd_model.py").write_text("def build():\n    raise KeyError('from cwd')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    line = fails(["trace", "convgeom_cwd_model:build", "--input", "1,3,8,8"], capsys)
    assert "calling 'build' from 'convgeom_cwd_model' raised KeyError: 'from cwd'" in line
    assert str(tmp_path) not in sys.path  # restored afterwards
    sys.modules.pop("convgeom_cwd_model", None)


def test_module_spec_that_is_not_installed(capsys: pytest.CaptureFixture[str]) -> None:
    line = fails(["trace", "convgeom_no_such_module_xyz:build", "--input", "1,3,8,8"], capsys)
    assert "cannot import module 'convgeom_no_such_module_xyz'" in line


@pytest.mark.parametrize("spec, needle", [
    ("math:sqrt(__import__('os'))", "must be literals"),
    ("math:sqrt(x)", "must be literals"),
    ("math:sqrt(*[4])", "must be literals"),
    ("math:sqrt(**{'x': 1})", "must be literals"),
    ("math:sqrt(1+", "cannot parse the factory call"),
    ("math:pi", "neither a model nor a callable"),
    ("math:sqrt", "calling 'sqrt' from 'math' raised TypeError"),
    ("math:", "is not a model file or module:factory"),
    (":build", "is not a model file or module:factory"),
    ("math:no_such_function", "has no attribute"),
])
def test_factory_specs(spec: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Only literal arguments; anything else is refused before the module is imported."""
    assert needle in fails(["trace", spec, "--input", "1,3,8,8"], capsys)


def test_forward_error_is_one_line_naming_the_file(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    model = tmp_path / "bad_forward.py"
    model.write_text(textwrap.dedent("""
        import torch.nn as nn
        class Bad(nn.Module):
            def forward(self, x):
                raise KeyError("forward broken")
        def build():
            return Bad()
    """))
    line = fails(["trace", f"{model}:build", "--input", "1,3,8,8"], capsys)
    assert "KeyError" in line and f"{model}:5" in line


def test_broken_keras_file_is_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import zipfile

    pytest.importorskip("keras")
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(path, "w") as archive:  # a zip as .keras files are, with a config that is not JSON
        archive.writestr("config.json", "{not json")
        archive.writestr("metadata.json", "{}")
    line = fails(["trace", str(path), "--input", "1,8,8,3"], capsys)
    assert str(path) in line and "JSONDecodeError" in line
    for content in (b"", b"PK\x03\x04 not really a zip", b"\x89HDF\r\n\x1a\n junk"):
        path.write_bytes(content)
        assert str(path) in fails(["trace", str(path), "--input", "1,8,8,3"], capsys)


@pytest.mark.parametrize("content", [b"", b"\x00\xff" * 100, b"this is not a protobuf"])
def test_odd_onnx_files_are_one_line(tmp_path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnx")
    path = tmp_path / "odd.onnx"
    path.write_bytes(content)
    assert "odd.onnx" in fails(["trace", str(path), "--input", "1,3,8,8"], capsys)


def test_a_directory_is_not_a_model(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "model.onnx"
    folder.mkdir()
    assert "is a directory" in fails(["trace", str(folder), "--input", "1,3,8,8"], capsys)


# ----- missing extras ------------------------------------------------------------------------
def test_trace_op_without_numpy_names_the_extra(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now raises ImportError
    line = fails(["trace-op"], capsys)
    assert "convgeom trace-op needs the numpy package" in line and "pip install 'convgeom[ops]'" in line


def test_trace_op_without_numpy_in_a_fresh_process() -> None:
    code = ("import sys; sys.modules['numpy'] = None; from convgeom.cli import main; "
            "sys.exit(main(['trace-op']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "convgeom[ops]" in proc.stderr


# ----- bugs are not passed off as bad input ----------------------------------------------------
def test_an_internal_error_is_one_line_and_exit_1(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from convgeom.cli import shape

    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(shape, "run", broken)
    assert main(["shape", "conv", "--input", "7", "--kernel", "3"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error, ZeroDivisionError" in err and "--traceback" in err


# ----- found by the fuzz test ------------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["solve", "padding", "--input", "20000", "--output", "1", "--kernel", "3", "--stride", "0"],
     "--stride must be >= 1, got 0"),
    (["solve", "padding", "--input", "8", "--output", "8", "--kernel", "0"], "--kernel must be >= 1, got 0"),
    (["solve", "padding", "--input", "8", "--output", "8", "--kernel", "3", "--dilation", "-1"],
     "--dilation must be >= 1, got -1"),
    (["solve", "same", "--input", "0", "--kernel", "3"], "--input must be >= 1, got 0"),
    (["solve", "padding", "--input", "8", "--output", "0", "--kernel", "3"], "--output must be >= 1, got 0"),
])
def test_solvers_check_their_values(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert needle in fails(argv, capsys)


def test_a_missing_extra_anywhere_names_it(monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A safety net under every command: an optional module missing deep inside gives one line."""
    from convgeom.cli import solve

    def needs_torch(args: object) -> int:
        import convgeom_test_missing_module  # noqa: F401

        return 0

    monkeypatch.setattr(solve, "run", needs_torch)
    monkeypatch.setitem(sys.modules, "convgeom_test_missing_module", None)
    assert main(["solve", "profile", "--kernel", "3"]) == 1  # not an optional dependency: a bug
    capsys.readouterr()

    def needs_onnxruntime(args: object) -> int:
        import onnxruntime  # noqa: F401

        return 0

    monkeypatch.setattr(solve, "run", needs_onnxruntime)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    line = fails(["solve", "profile", "--kernel", "3"], capsys)
    assert "this command needs the onnxruntime package, which is not installed; pip install 'convgeom[onnx]'" in line
