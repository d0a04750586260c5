"""A request's JSON, read strictly, into the fields of ``convgeom shape``.

The API takes the command line's fields under the same names (``op``, ``input``, ``kernel``,
``stride``, ``padding``, ``dilation``, ``groups``, ``output_padding``, ``output_size``,
``output``, ``size``, ``scale``, ``ceil_mode``, ``count_include_pad``, ``divisor``,
``padding_mode``, ``framework``) and reads them with the command line's own parser
(:func:`convgeom.cli.layer.params_from_fields`), so a value means the same in both places:

* a string is read exactly as the option's text (``"7"``, ``"224,160"``, ``"1:2,0:1"``,
  ``"same"``);
* a JSON integer is its digits; a list of integers is one per axis (``[224, 160]``); a list of
  ``[before, after]`` pairs is per-side padding (``[[1, 2], [0, 1]]``); ``scale`` also takes
  decimal numbers;
* ``ceil_mode`` is ``true``/``false``, ``count_include_pad`` ``true``/``false``/``"true"``/``"false"``;
* ``null`` is "not given". Anything else (floats where integers belong, booleans, objects) is
  refused with a one-line message, as are unknown fields, so a typo is never silently ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from ..errors import GeometryError

#: Largest JSON body the API reads (bytes); a layer's fields take a few hundred.
MAX_BODY_BYTES = 64 * 1024
#: Longest text of one field (characters): 16 axes of int64 pairs fit in about 700.
MAX_FIELD_CHARS = 1_000

#: The fields of one layer, as ``convgeom shape`` names them (its options, ``op`` and ``input``).
LAYER_FIELDS: tuple[str, ...] = (
    "op", "input", "kernel", "stride", "padding", "dilation", "groups", "output_padding", "output_size",
    "output", "size", "scale", "ceil_mode", "count_include_pad", "divisor", "padding_mode", "framework",
)
_FLAGS = ("ceil_mode",)
_BOOL_WORDS = ("count_include_pad",)
_DECIMALS = ("scale",)


class RequestError(GeometryError):
    """A request the API cannot read: its one-line message goes back as ``{"error": ...}`` with
    HTTP ``status`` (400 unreadable, 413 too large, 422 refused by the engine, 429 busy)."""

    def __init__(self, problem: str, fix: str = "", *, status: int = 400,
                 details: Optional[dict[str, Any]] = None) -> None:
        super().__init__(problem, fix=fix)
        self.status = status
        #: more JSON for the page next to ``error`` (the explanation of a refusal)
        self.details = details or {}

    @classmethod
    def refused(cls, err: GeometryError, **details: Any) -> RequestError:
        """The engine's refusal ``err`` as a 422, its message unchanged."""
        made = cls(str(err), status=422, details=details)
        made.__cause__ = err
        return made


def _reject_constant(name: str) -> Any:
    raise RequestError(f"the JSON body contains {name}, which is not a number", fix="send finite numbers only")


def parse_json(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body`` (at most :data:`MAX_BODY_BYTES`); a one-line
    :class:`RequestError` for anything else (not UTF-8, not JSON, nested too deep, not an object)."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(f"the request body has {len(body):,} bytes, more than the cap of {MAX_BODY_BYTES:,}",
                           fix="send only the layer's fields", status=413)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"the request body is not UTF-8 (byte {exc.start})", fix="send UTF-8 JSON") from None
    if not text.strip():
        raise RequestError("the request body is empty", fix='send a JSON object, e.g. {"op": "conv", "input": "7", '
                           '"kernel": "3"}')
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise RequestError(f"the request body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                           fix='send a JSON object, e.g. {"op": "conv", "input": "7", "kernel": "3"}') from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise RequestError(f"the request body holds a number too long to read ({str(exc).split(';')[0]})",
                           fix="give sizes that fit in int64") from None
    except RecursionError:
        raise RequestError("the request body nests too deeply", fix="send a flat JSON object") from None
    if not isinstance(data, dict):
        raise RequestError(f"the request body is a JSON {type(data).__name__}, not an object",
                           fix='send a JSON object, e.g. {"op": "conv", "input": "7", "kernel": "3"}')
    return data


def check_known(data: Mapping[str, Any], known: Iterable[str]) -> None:
    """Every key of ``data`` is in ``known``: an unknown field is an error, never ignored."""
    allowed = tuple(known)
    for key in data:
        if key not in allowed:
            raise RequestError(f"unknown field {_shown(key)}", fix="use only " + ", ".join(allowed))


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _integer_text(value: Any, name: str, where: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "a boolean" if isinstance(value, bool) else f"a JSON {_json_type(value)}"
        raise RequestError(f"{name}{where} is {kind}, not an integer",
                           fix=f'give {name} as an integer, a list of integers or a string like "3" or "3,5"')
    return str(value)  # JSON integers have at most 4,300 digits (Python's int/str limit): the CLI caps them


def _number_text(value: Any, name: str) -> str:
    if isinstance(value, float):
        return repr(value)
    return _integer_text(value, name)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", float: "number", type(None): "null"}.get(
        type(value), type(value).__name__)


def field_text(name: str, value: Any) -> Optional[Any]:
    """The command-line text of one field (``True`` for a given flag, None for "not given")."""
    if value is None:
        return None
    if name in _FLAGS:
        if not isinstance(value, bool):
            raise RequestError(f"{name} is a JSON {_json_type(value)}, not true/false", fix=f"send {name}: true")
        return True if value else None
    if name in _BOOL_WORDS and isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) > MAX_FIELD_CHARS:
            raise RequestError(f"{name} has {len(value):,} characters, more than the cap of {MAX_FIELD_CHARS:,}",
                               fix=f"give {name} as one value per axis")
        return value
    if name in _BOOL_WORDS:
        raise RequestError(f"{name} is a JSON {_json_type(value)}, not true/false", fix=f"send {name}: true or false")
    if isinstance(value, list):
        if not value:
            raise RequestError(f"{name} is an empty list", fix=f"give one value per axis, e.g. {name}: [3, 3]")
        if len(value) > 64:
            raise RequestError(f"{name} lists {len(value)} values, more than any layer has axes",
                               fix=f"give one value per axis, e.g. {name}: [3, 3]")
        if name == "padding" and all(isinstance(v, list) for v in value):
            pairs = []
            for i, pair in enumerate(value):
                if len(pair) != 2:
                    raise RequestError(f"padding pair {i} has {len(pair)} values, not [before, after]",
                                       fix="give one [before, after] pair per axis, e.g. [[1, 2], [0, 1]]")
                pairs.append(":".join(_integer_text(v, name, f" pair {i}") for v in pair))
            return ",".join(pairs)
        convert = _number_text if name in _DECIMALS else _integer_text
        return ",".join(convert(v, name) for v in value)
    return (_number_text if name in _DECIMALS else _integer_text)(value, name)


def layer_fields(data: Mapping[str, Any], extra: Iterable[str] = ()) -> dict[str, Any]:
    """The command-line fields of the layer in ``data`` (see the module docstring); keys in
    ``extra`` are allowed and left out (the caller reads them)."""
    extras = tuple(extra)
    check_known(data, LAYER_FIELDS + extras)
    fields: dict[str, Any] = {}
    for name in LAYER_FIELDS:
        value = data.get(name)
        if name == "op":
            if value is None:
                raise RequestError("the request has no op", fix='add "op": "conv" (or conv-transpose, max-pool, '
                                   "avg-pool, unfold, adaptive-avg-pool, adaptive-max-pool, interpolate)")
            if not isinstance(value, str):
                raise RequestError(f"op is a JSON {_json_type(value)}, not a string", fix='send "op": "conv"')
            fields["op"] = value.replace("_", "-")
            continue
        if name == "input" and value is None:
            raise RequestError("the request has no input", fix='add "input": "7" or "224,160" (one size per axis)')
        text = field_text(name, value)
        if text is not None:
            fields[name] = text
    return fields
