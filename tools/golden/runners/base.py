"""What every framework runner shares: the interface, recording an exception, running a
config on its data sets and inferring the result."""
from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..data import Data
from ..inference import infer_result
from ..reference import FloatArray
from ..schema import Config, Extras, Result

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FNODE = re.compile(r"^\{\{function_node [^}]*\}\}\s*")
MAX_MESSAGE = 400


def err_str(e: BaseException) -> str:
    """'ExceptionType: first line of the message', as recorded (ANSI colours and TF's function
    node prefix removed; Keras's wrapper line replaced by the backend's own first line)."""
    msg = _ANSI.sub("", str(e)).strip()
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    if first.startswith("Exception encountered when calling") and len(lines) > 1:
        first = lines[1]
    first = _FNODE.sub("", first)
    if len(first) > MAX_MESSAGE:
        first = first[:MAX_MESSAGE] + "..."
    return f"{type(e).__name__}: {first}"


def load(module: str) -> Any:
    """Import a framework module in the worker. The frameworks are not installed where the
    package is type-checked, and their stubs vary, so they are Any here."""
    return importlib.import_module(module)


def base_versions() -> dict[str, Any]:
    return {"numpy": np.__version__, "python": sys.version.split()[0]}


def observe(cfg: Config, datas: list[Data],
            prepare: Callable[[], Callable[[Data], FloatArray]]) -> Result:
    """Run cfg on every data set and infer the result; whatever the framework raises (in
    prepare() or a run) is the recorded result. An AssertionError is the generator's own
    failure (the N-D verification) and propagates."""
    try:
        run = prepare()
        result = infer_result(cfg, [run(dt) for dt in datas], datas)
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001 - we record whatever the framework raises
        result = {"error": err_str(e)}
    return result


class Runner:
    """Runs configurations in one framework, in this process (a worker)."""

    name = ""
    versions: dict[str, Any]

    def run(self, cfg: Config, seed: int, do_symbolic: bool) -> tuple[Result, Extras]:
        raise NotImplementedError

    def numeric_ops(self, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
        raise RuntimeError(f"the {self.name} runner records no numeric cases")
