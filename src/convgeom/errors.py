"""The one exception convgeom raises for a configuration a framework would refuse."""

from __future__ import annotations


class GeometryError(ValueError):
    """A layer configuration that the chosen framework rejects (or that makes no sense).

    The message is one line: what is wrong, the framework rule that says so, and a fix.
    ``problem``, ``rule`` and ``fix`` hold the three parts for programs that want them, and
    ``axis`` the spatial axis at fault (or None).
    """

    def __init__(self, problem: str, rule: str = "", fix: str = "", *, axis: int | None = None) -> None:
        self.problem = problem
        #: the spatial axis at fault, where one is
        self.axis = axis
        self.rule = rule
        self.fix = fix
        parts = [problem]
        if rule:
            parts.append(f"[{rule}]")
        message = " ".join(parts)
        if fix:
            message = f"{message}; {fix}"
        super().__init__(message.replace("\n", " "))


class GeometryTypeError(GeometryError, TypeError):
    """A parameter of the wrong type: a float, bool, None or string where an integer belongs, a
    non-string framework name, a 2-D array for a per-axis value, ...

    It is a :class:`GeometryError` (so one ``except GeometryError`` catches every refusal, and
    the command line reports it in one line) and a :class:`TypeError` (what Python raises for a
    wrong type). The message names the argument.
    """


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message: huge integers by their size (``int`` to ``str`` of more
    than 4300 digits raises in Python 3.11+), long reprs cut to ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return f"<{'negative ' if value < 0 else ''}{value.bit_length()}-bit integer>"
    if isinstance(value, (tuple, list)) and len(value) > 8:
        inner = ", ".join(shown(v, limit) for v in value[:4])
        text = f"({inner}, ... {len(value)} values)" if isinstance(value, tuple) else f"[{inner}, ... {len(value)} values]"
        return text if len(text) <= limit else text[: limit - 3] + "..."
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real message
        text = f"<{type(value).__name__} object>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UserCodeError(GeometryError):
    """Code the user asked convgeom to run (a model file, a factory, a forward pass) raised.

    The message is one line: what was being run, the exception and where it was raised
    (``file:line`` of the innermost frame outside convgeom, the standard library and installed
    packages, else the innermost frame). The original exception is ``__cause__`` (raise this
    ``from`` it), so ``convgeom --traceback`` can print the full traceback.
    """

    def __init__(self, what: str, exc: BaseException) -> None:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        where = user_frame(exc)
        problem = f"{what} raised {type(exc).__name__}" + (f": {detail}" if detail else "")
        if where:
            problem += f" (at {where})"
        super().__init__(problem, fix="fix that code, or run with --traceback to see the whole traceback")
        self.original = exc


def user_frame(exc: BaseException) -> str:
    """``file:line`` of the innermost traceback frame that belongs to the user's own code."""
    import os
    import sysconfig
    import traceback

    library = tuple(
        os.path.normcase(os.path.realpath(p))
        for p in {sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}
    ) + (os.path.normcase(os.path.dirname(os.path.realpath(__file__))),)
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    for frame in reversed(frames):
        path = os.path.normcase(os.path.realpath(frame.filename))
        if not path.startswith(library) and not frame.filename.startswith("<"):
            return f"{frame.filename}:{frame.lineno}"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


class MissingExtraError(GeometryError, ModuleNotFoundError):
    """An optional dependency is not installed: one line naming the extra that installs it.

    It is a :class:`GeometryError` (the command line reports it in one line, exit 2) and a
    :class:`ModuleNotFoundError` (so ``except ImportError`` callers keep working); ``name`` is
    the missing module, as for any ``ModuleNotFoundError`` (``package``: its name for pip).
    :mod:`convgeom.optional` raises it.
    """

    def __init__(self, feature: str, package: str, extra: str | None, *, module: str | None = None) -> None:
        super().__init__(f"{feature} needs the {package} package, which is not installed",
                         fix=f"pip install 'convgeom[{extra}]'" if extra else f"pip install {package}")
        self.name = module or package
