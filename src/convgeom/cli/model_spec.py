"""The model named on the LOCAL command line: a model file, or a Python factory to run.

**This runs code.** ``package.module:factory`` imports the module and calls the factory, as Python
would, with the current directory first on ``sys.path``; ``path/file.py:factory`` executes the
file. That is what a user typing the command asks for, and nothing else may ever reach it: a
server or any other program must never pass a spec it received to :func:`load_model`. The
factory's arguments must be literals (``ast.literal_eval``), never expressions.

While the user's code runs it sees ``sys.argv == [the file or module]`` (not convgeom's options),
and what it prints is held back: replayed on stderr once it succeeds (stdout stays clean for
``--json``), dropped when it fails, where one line names the file, the exception and where it was
raised (:class:`convgeom.errors.UserCodeError`, the original as ``__cause__``).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import os
import sys
from collections.abc import Iterator
from typing import Any, Optional

from ..errors import GeometryError, UserCodeError

MODEL_FILE_SUFFIXES = (".onnx", ".keras", ".h5", ".hdf5")


@contextlib.contextmanager
def user_code(argv0: str, path_entry: Optional[str], *, replay_on_error: bool = False) -> Iterator[None]:
    """Run the user's code with ``sys.argv = [argv0]``, ``path_entry`` first on ``sys.path`` and
    its output held back (replayed on stderr on success, or always with ``replay_on_error``)."""
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [argv0]
    if path_entry is not None:
        sys.path.insert(0, path_entry)
    held = io.StringIO()
    ok = False
    try:
        with contextlib.redirect_stdout(held), contextlib.redirect_stderr(held):
            yield
        ok = True
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        if (ok or replay_on_error) and held.getvalue():
            sys.stderr.write(held.getvalue())


def _call_parts(spec: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``name`` or ``name(literal, key=literal)`` -> (dotted name, args, kwargs); literals only."""
    if "(" not in spec:
        return spec, [], {}
    try:
        node = ast.parse(spec, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise GeometryError(f"cannot parse the factory call {spec[:60]!r}",
                            fix="write it like factory(1, size=64)") from None
    if not isinstance(node, ast.Call):
        raise GeometryError(f"{spec[:60]!r} is not a call", fix="write it like factory(1, size=64)")
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise GeometryError(f"factory arguments in {spec[:60]!r} must be literals",
                            fix="use numbers, strings, tuples") from None
    if any(k.arg is None for k in node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
        raise GeometryError(f"factory arguments in {spec[:60]!r} must be literals", fix="no *args or **kwargs")
    return ast.unparse(node.func), args, kwargs


def _import_file(path: str) -> Any:
    import importlib.util

    if not os.path.isfile(path):
        raise GeometryError(f"no such file {path!r}", fix="check the path")
    stem = os.path.splitext(os.path.basename(path))[0]
    # a file named like an imported module (json.py) must not replace it
    name = stem if stem.isidentifier() and stem not in sys.modules else f"convgeom_user_model_{abs(hash(path))}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise GeometryError(f"cannot import {path!r}", fix="give a Python source file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up there
    try:
        loader_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        raise _import_error(f"importing {path!r}", exc) from exc
    return module


def _import_error(what: str, exc: BaseException) -> UserCodeError:
    if isinstance(exc, SystemExit):
        what += " (code that exits or parses the command line belongs under if __name__ == '__main__')"
    return UserCodeError(what, exc)


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise GeometryError(f"cannot import module {name!r}: {exc}",
                                fix="check the module name and that its package is installed") from exc
        raise _import_error(f"importing module {name!r}", exc) from exc
    except (Exception, SystemExit) as exc:
        raise _import_error(f"importing module {name!r}", exc) from exc


def load_factory(spec: str) -> Any:
    """Import ``package.module:factory`` (or ``path/file.py:factory``) and return the model it
    builds; ``factory`` may be a dotted attribute and carry literal call arguments. Call inside
    :func:`user_code`."""
    module_part, sep, attr_part = spec.partition(":")
    if not sep or not module_part or not attr_part:
        raise GeometryError(f"{spec[:60]!r} is not a model file or module:factory",
                            fix="give model.onnx, model.keras, package.module:factory or file.py:factory")
    name, args, kwargs = _call_parts(attr_part)
    module = _import_file(module_part) if module_part.endswith(".py") else _import_module(module_part)
    obj: Any = module
    for part in name.split("."):
        if not part.isidentifier() or not hasattr(obj, part):
            raise GeometryError(f"{module_part!r} has no attribute {name!r}", fix="check the factory name")
        obj = getattr(obj, part)
    from ..tracing.api import detect_framework

    is_model = True
    try:
        detect_framework(obj)
    except GeometryError:
        is_model = False
    if is_model and not args and not kwargs:
        return obj
    if not callable(obj):
        raise GeometryError(f"{spec[:60]!r} is neither a model nor a callable",
                            fix="point at a function that returns a model")
    try:
        return obj(*args, **kwargs)
    except (Exception, SystemExit) as exc:
        raise UserCodeError(f"calling {attr_part[:60]!r} from {module_part!r}", exc) from exc


def load_model(spec: str, framework: Optional[str]) -> tuple[Any, str]:
    """(model object, framework) for the model argument of the local command line."""
    from ..tracing.api import detect_framework, get_frontend

    if os.path.exists(spec) and not spec.endswith(".py"):
        if os.path.isdir(spec):
            raise GeometryError(f"{spec!r} is a directory", fix="give a model file (.onnx, .keras) or module:factory")
        fw = framework or detect_framework(spec)
        frontend = get_frontend(fw)
        if frontend.load is None:
            raise GeometryError(f"{fw} models cannot be loaded from files", fix="use module:factory")
        try:
            return frontend.load(spec), fw
        except GeometryError:
            raise
        except Exception as exc:
            detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise GeometryError(f"cannot read {spec!r} as a {fw} model: {type(exc).__name__}"
                                + (f": {detail}" if detail else ""),
                                fix=f"check that it is a complete {fw} model file") from exc
    if spec.lower().endswith(MODEL_FILE_SUFFIXES) and ":" not in spec:
        raise GeometryError(f"no such file {spec!r}", fix="check the path")
    model = load_factory(spec)
    return model, framework or detect_framework(model)
