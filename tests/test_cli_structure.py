"""The command line's shape: one table of commands, each a module with add_arguments/run, only
the chosen one imported (a cold start loads no tracing, ops or NumPy), and help that states the caps."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys

import pytest

from convgeom.cli import COMMANDS, build_parser, main

HEAVY = ("convgeom.tracing", "convgeom.ops", "numpy", "torch", "onnx", "keras")


def imported_after(argv: list[str]) -> tuple[int, list[str], str]:
    """Run ``main(argv)`` in a fresh interpreter; its exit code, the convgeom/heavy modules it
    imported, and its stdout."""
    code = (f"import json, sys\nfrom convgeom.cli import main\ncode = main({argv!r})\n"
            "mods = sorted(m for m in sys.modules if m.startswith(('convgeom', 'numpy', 'torch', 'onnx', 'keras')))\n"
            "print(json.dumps([code, mods]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    last = proc.stdout.strip().splitlines()[-1]
    status, modules = json.loads(last)
    return status, modules, proc.stdout


def test_shape_imports_no_tracing_ops_or_numpy() -> None:
    status, modules, out = imported_after(["shape", "conv", "--input", "7", "--kernel", "3"])
    assert status == 0 and "floor((7 + 2*0 - 3) / 1) + 1" in out
    assert not [m for m in modules if m.startswith(HEAVY)], modules
    assert not [m for m in modules if m.startswith("convgeom.cli.") and m not in (
        "convgeom.cli.args", "convgeom.cli.layer", "convgeom.cli.shape")], modules


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_top_level_help_imports_no_command(argv: list[str]) -> None:
    status, modules, out = imported_after(argv)
    assert status == 0
    assert [m for m in modules if m.startswith("convgeom.cli.")] == [], modules
    assert [m for m in modules if m.startswith(("convgeom.geometry", "convgeom.dialects", *HEAVY))] == []
    if argv == ["--help"]:
        for name, help_text, _ in COMMANDS:
            assert name in out and help_text.split()[0] in out


@pytest.mark.parametrize("name, help_text, module_name", COMMANDS)
def test_each_command_is_one_module_with_add_arguments_and_run(name: str, help_text: str, module_name: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(f"convgeom.cli.{module_name}")
    assert callable(module.add_arguments) and callable(module.run)
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: convgeom {name}")


@pytest.mark.parametrize("name", [c[0] for c in COMMANDS if c[0] != "shape"])
def test_other_commands_are_not_imported_for_one(name: str) -> None:
    """Building the parser for one command imports that command's module only."""
    chosen = dict((c[0], c[2]) for c in COMMANDS)[name]
    code = (f"import sys\nfrom convgeom.cli import build_parser\nbuild_parser({name!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith('convgeom.cli.')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = set(ast.literal_eval(proc.stdout))
    others = {f"convgeom.cli.{c[2]}" for c in COMMANDS} - {f"convgeom.cli.{chosen}"}
    # explain and solve share the shape command's layer options and table printer
    allowed = {"convgeom.cli.shape"} if name in ("explain", "solve") else set()
    assert not (loaded & (others - allowed)), loaded


def test_help_states_the_caps(capsys: pytest.CaptureFixture[str]) -> None:
    expected = {
        "shape": ["9223372036854775807", "16 axes"],
        "solve": ["at most 1000", "at most 10000", "200000"],
        "trace-op": ["0 to 200000", "200000 window cells"],
        "trace": ["at most 1024 sizes", "0 to 1000", "RUNS THAT CODE", "literals"],
    }
    for name, needles in expected.items():
        assert main([name, "--help"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        for needle in needles:
            assert needle in out, (name, needle)


def test_the_spec_loader_lives_only_under_the_command_line() -> None:
    import importlib.util

    assert importlib.util.find_spec("convgeom.tracing.cli") is None
    assert importlib.util.find_spec("convgeom.ops.cli") is None
    import convgeom.tracing as tracing

    assert not hasattr(tracing, "load_factory") and not hasattr(tracing, "load_model")


def test_parser_lists_every_command_without_options() -> None:
    parser = build_parser(None)
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == [c[0] for c in COMMANDS]
    assert all(len(p._actions) == 1 for p in sub.choices.values())  # only -h until chosen


@pytest.mark.parametrize("argv, needle", [
    (["solve", "same", "--input", "224", "--kernel", "3", "--framework", ""], "unknown framework ''"),
    (["solve", "profile", "--kernel", "3", "--sizes", ""], "--sizes '' is not N or LOW-HIGH"),
    (["trace-op", "--kernel-size", ""], "--kernel-size is empty"),
    (["trace-op", "--framework", ""], "unknown framework ''"),
])
def test_an_empty_value_is_never_the_default(argv: list[str], needle: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Found by the fuzz test: an empty value was taken as 'not given'."""
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_argument_parsing_lives_in_cli_only() -> None:
    """Every command reads the same way: ``cli/<command>.py`` parses (add_arguments/run), the
    feature packages offer plain functions. (draw/, web/ and quiz/ join this check when they land.)"""
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "src" / "convgeom"
    parsers = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                     if p.relative_to(src).parts[0] not in ("cli", "draw", "web", "quiz")
                     and "argparse" in p.read_text())
    assert parsers == []
