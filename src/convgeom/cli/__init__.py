"""The ``convgeom`` command line.

Every subcommand is one row of :data:`COMMANDS` and one module of this package with
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen command's module is imported
and only its parser built, so ``convgeom shape`` never loads NumPy or the tracing frontends, and
``convgeom --help`` lists every command from the table without importing any of them. To add a
command, add a row and a module.

Every bad input ends with exit code 2 and exactly one line on stderr, never a traceback
(``--traceback`` adds the full traceback, for debugging); a bug in convgeom itself ends with exit
code 1 and one line.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import re
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional

from .. import __version__
from ..errors import GeometryError, UserCodeError

#: (name, one-line help, module under ``convgeom.cli`` with ``add_arguments`` and ``run``)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("shape", "output size and per-side padding of one layer", "shape"),
    ("explain", "step-by-step derivation of one layer (also of a rejection)", "explain"),
    ("solve", "inverse problems: 'same' padding, padding for an output, search, transpose, profile", "solve"),
    ("trace-op", "print every stage of a small conv/pool: input, padded input, each window, output", "trace_op"),
    ("trace", "trace a model: shapes, params, MACs, receptive fields, findings (runs the model's code)", "trace"),
    ("experiment", "train small CNN variants over a grid; test the tutorials' claims on real data", "experiment"),
    ("draw", "pictures: windows over padded inputs, transposed conv, pooling, coverage, receptive fields", "draw"),
    ("port", "exact code for one layer in another framework (PyTorch, Keras, JAX, ONNX)", "port"),
    ("quiz", "practice exercises answered and explained by the engine (terminal, --json, --markdown)", "quiz"),
    ("serve", "a local web playground and JSON API: pictures, formulas, frameworks, practice (convgeom[web])", "serve"),
)

_GLOBAL_FLAGS = ("--traceback", "--version", "-h", "--help")
#: a token that can only be a value (options never start with a digit): -3, -3:-3, -1,2, -.5
_NEGATIVE_VALUE = re.compile(r"-[0-9.]")


def _terminal_width() -> int:
    """The help width argparse would use, found without importing shutil (argparse imports it,
    and the compression modules it loads, for every formatter it builds: a fifth of a cold start)."""
    import os

    try:
        return int(os.environ.get("COLUMNS", "")) - 2
    except ValueError:
        try:
            return os.get_terminal_size(sys.__stdout__.fileno()).columns - 2  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            return 78


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        from .args import CliError

        raise CliError(f"{self.prog}: {message}", fix=f"see '{self.prog} --help'")


def _chosen(argv: Sequence[str]) -> Optional[str]:
    """The subcommand named in ``argv`` (the first token that is not a global flag)."""
    for token in argv:
        if token not in _GLOBAL_FLAGS:
            return token
    return None


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser for ``command``: only its module is imported and only its parser built. With
    no command, or an unknown one, every command is listed (without options) for the help and
    the error message."""
    formatter = functools.partial(argparse.HelpFormatter, width=_terminal_width())
    known = any(name == command for name, _, _ in COMMANDS)
    parser = _Parser(prog="convgeom", formatter_class=formatter,
                     description="Exact convolution geometry for PyTorch, TensorFlow/Keras, JAX and ONNX.")
    parser.add_argument("--version", action="version", version=f"convgeom {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, also print the full Python traceback (for debugging)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, help_text, module_name in COMMANDS:
        if known and name != command:
            continue  # a parser per command costs (argparse looks up translations for each)
        command_parser = sub.add_parser(name, help=help_text, description=help_text, formatter_class=formatter)
        if name == command:
            module = importlib.import_module(f"{__name__}.{module_name}")
            module.add_arguments(command_parser)
            command_parser.set_defaults(run=module.run)
    return parser


def _value_options(parser: argparse.ArgumentParser, command: Optional[str]) -> set[str]:
    """Option strings of ``command`` that take one value."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            chosen = action.choices[command]
            return {s for a in chosen._actions if a.nargs is None for s in a.option_strings}
    return set()


def _join_negative_values(argv: Sequence[str], value_options: set[str]) -> list[str]:
    """``--padding -3:-3`` -> ``--padding=-3:-3``: argparse reads a token starting with '-' as an
    option unless it is a plain negative number, so values like -3:-3 or -1,2 would need '='."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        if token in value_options and i + 1 < len(argv) and _NEGATIVE_VALUE.match(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv`` (``--traceback`` may also come after the command)."""
    tokens = [t for t in argv if t != "--traceback"]
    command = _chosen(tokens)
    parser = build_parser(command)
    tokens = _join_negative_values(tokens, _value_options(parser, command))
    args = parser.parse_args(tokens)
    args.traceback = "--traceback" in argv
    return args


def _fail(err: BaseException, show_traceback: bool, code: int) -> int:
    if show_traceback:
        import traceback

        traceback.print_exception(err.__cause__ or err)
    if isinstance(err, GeometryError):
        line = str(err)
    else:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
        line = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
        if code == 1:
            line = f"internal error, {line} (a bug in convgeom: please report it with the output of --traceback)"
    print(f"convgeom: error: {line}", file=sys.stderr)
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    tokens = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in tokens
    try:
        try:
            args = parse(tokens)
        except SystemExit as exc:  # --help and --version print and exit 0
            return exc.code if isinstance(exc.code, int) else 0
        try:
            return int(args.run(args))
        except SystemExit as exc:  # only the user's code exits: convgeom's own code returns
            raise UserCodeError("the model's code", exc) from exc
    except GeometryError as err:
        return _fail(err, show_traceback, 2)
    except ImportError as err:  # an optional module imported without convgeom.optional
        from ..optional import extra_for, missing

        if extra_for(err.name or "") is None:
            return _fail(err, show_traceback, 1)
        return _fail(missing("this command", err.name or ""), show_traceback, 2)
    except BrokenPipeError:  # `convgeom ... | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as err:  # unreadable files: the environment, not convgeom
        return _fail(err, show_traceback, 2)
    except KeyboardInterrupt:
        print("convgeom: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: still one line, and exit 1 so it is not taken for bad input
        return _fail(err, show_traceback, 1)
