"""Reading a learner's answer and checking it against the exercise's (:func:`check`).

Answers are read the way the command line writes values, and the way people write them:

* sizes: ``4``, ``(4, 4)``, ``4,4``, ``[4, 4]``, ``4x4``, ``4 4``; one value stands for every axis;
  a full shape with batch and channels (``(1, 8, 4, 4)``, channels last for Keras) is read as
  its spatial part when those match the question;
* per-side padding: ``0:1`` or ``0:1,1:1`` (before:after per axis), ``(0, 1)`` or ``0,1`` for one
  axis, ``((0, 1), (1, 1))``; an int is the same padding on both sides of every axis and
  per-axis ints (``1,2``) are symmetric, as ``--padding`` reads them;
* a choice: ``B``, ``b``, ``(b)``, ``B.``, ``option B``, or the option's text;
* yes/no: ``yes``, ``y``, ``true``, ``raises`` / ``no``, ``n``, ``false``, with anything after
  the first word ignored (``yes: padding='same' ...``).

The expected answer goes through the same reader as the response, so the two are compared as
values, never as text.
"""

from __future__ import annotations

import re
from typing import Optional, Union

from ..errors import GeometryTypeError, shown
from .exercise import Exercise, Verdict
from .kinds import LETTERS, pads_answer, sizes_answer
from .spelling import spelling

#: longest response read (anything longer is not an answer to these questions)
MAX_RESPONSE = 200

_INT = re.compile(r"-?[0-9]+")
_SEPARATORS = re.compile(r"\s*(?:,|x|×|\*|\s)\s*")
_YES = {"yes", "y", "true", "raises", "raise", "error", "it raises", "yep"}
_NO = {"no", "n", "false", "nope", "ok", "fine"}

Value = Union[tuple[int, ...], tuple[tuple[int, int], ...], str, bool]


class Unreadable(ValueError):
    """A response that is not an answer of the expected form (the message says what to write)."""


def _ndim(exercise: Exercise) -> int:
    return len(exercise.params.get("input", "0").split(","))


def _strip_brackets(text: str) -> str:
    text = text.strip().rstrip(".").strip()
    for prefix in ("torch.size(", "tensorshape("):
        if text.lower().startswith(prefix) and text.endswith(")"):
            text = text[len(prefix):-1].strip()
    while len(text) >= 2 and text[0] + text[-1] in ("()", "[]") and _closes_at_end(text):
        text = text[1:-1].strip()
    return text


def _closes_at_end(text: str) -> bool:
    """Whether the bracket opening ``text`` is the one closing it (``(0, 1), (1, 1)`` is not
    wrapped in one pair)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "(["
        depth -= ch in ")]"
        if depth == 0:
            return i == len(text) - 1
    return False


def _ints(text: str, hint: str) -> tuple[int, ...]:
    body = _strip_brackets(text.lower())
    parts = [p for p in _SEPARATORS.split(body) if p]
    if not parts or not all(_INT.fullmatch(p) for p in parts):
        raise Unreadable(f"could not read {shown(text, 40)} as whole numbers: write e.g. {hint}")
    return tuple(int(p) for p in parts)


def read_sizes(exercise: Exercise, text: str) -> tuple[int, ...]:
    """One int per axis (a single value is broadcast; a full shape loses batch and channels)."""
    ndim = _ndim(exercise)
    values = _ints(text, "4 or (4, 4)" if ndim > 1 else "4")
    if len(values) == 1:
        return values * ndim
    if len(values) == ndim:
        return values
    if len(values) == ndim + 2 and exercise.kind in ("output_size", "transpose", "pool_ceil"):
        return values[1:-1] if spelling(exercise.framework).channels_last else values[2:]
    raise Unreadable(f"{shown(text, 40)} has {len(values)} values but the question has {ndim} spatial "
                     f"ax{'is' if ndim == 1 else 'es'}: give one value per axis")


def read_pads(exercise: Exercise, text: str) -> tuple[tuple[int, int], ...]:
    """(before, after) per axis."""
    ndim = _ndim(exercise)
    hint = "0:1" if ndim == 1 else "0:1," + ",".join(["1:1"] * (ndim - 1))
    body = _strip_brackets(text)
    if ":" in body:
        pairs = []
        for part in body.split(","):
            before, sep, after = part.partition(":")
            if not sep or not _INT.fullmatch(before.strip()) or not _INT.fullmatch(after.strip()):
                raise Unreadable(f"could not read {shown(text, 40)} as before:after pairs: write e.g. {hint}")
            pairs.append((int(before), int(after)))
        if len(pairs) == 1:
            return tuple(pairs) * ndim
        if len(pairs) != ndim:
            raise Unreadable(f"{shown(text, 40)} has {len(pairs)} pairs but the question has {ndim} axes")
        return tuple(pairs)
    if "(" in body or "[" in body:  # ((0, 1), (1, 1)) or [[0, 1], [1, 1]]
        values = _ints(re.sub(r"[()\[\]]", " ", body), hint)
        if len(values) != 2 * ndim:
            raise Unreadable(f"could not read {shown(text, 40)} as one (before, after) pair per axis: write e.g. {hint}")
        return tuple((values[2 * i], values[2 * i + 1]) for i in range(ndim))
    values = _ints(body, hint)
    if ndim == 1 and len(values) == 2:
        return ((values[0], values[1]),)
    if len(values) == 1:
        return ((values[0], values[0]),) * ndim
    if len(values) == ndim:
        return tuple((v, v) for v in values)
    raise Unreadable(f"could not read {shown(text, 40)} as padding: write before:after per axis, e.g. {hint}")


def read_choice(exercise: Exercise, text: str) -> str:
    body = " ".join(text.split())
    for letter, choice in zip(LETTERS, exercise.choices):
        if body == " ".join(choice.split()) or body.strip("`") == " ".join(choice.split()):
            return letter
    match = re.fullmatch(r"(?:option\s+|answer\s*:?\s*)?[(\[]?\s*([a-z])\s*[)\].:]?", body.strip().lower())
    letters = LETTERS[: len(exercise.choices)]
    if match is None or match.group(1).upper() not in letters:
        raise Unreadable(f"could not read {shown(text, 40)} as a choice: answer with one letter, "
                         + ", ".join(letters))
    return match.group(1).upper()


def read_yes_no(text: str) -> bool:
    words = re.split(r"[\s:,.;!—-]+", text.strip().lower(), maxsplit=1)
    first = words[0] if words else ""
    if first in _YES or text.strip().lower() in _YES:
        return True
    if first in _NO:
        return False
    raise Unreadable(f"could not read {shown(text, 40)} as yes or no: answer yes (it raises) or no")


def read(exercise: Exercise, text: str) -> Value:
    """The value of ``text`` as an answer to ``exercise`` (:class:`Unreadable` if it is none)."""
    if exercise.kind == "raises":
        return read_yes_no(text)
    if exercise.kind == "mapping":
        return read_choice(exercise, text)
    if exercise.kind == "same_padding":
        return read_pads(exercise, text)
    return read_sizes(exercise, text)


def show(exercise: Exercise, value: Value) -> str:
    """A read value written the canonical way."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    pairs = [v for v in value if isinstance(v, tuple)]
    if pairs:
        return pads_answer(pairs)
    return sizes_answer(value)


def check(exercise: Exercise, response: str) -> Verdict:
    """Whether ``response`` answers ``exercise``: one line saying so, then the explanation. A
    response that is no answer at all gives ``understood=False`` and one line on what to write
    (no explanation: the learner may try again)."""
    if not isinstance(exercise, Exercise):
        raise GeometryTypeError(f"exercise must be an Exercise, got {shown(exercise)} ({type(exercise).__name__})",
                                fix="pass one of the exercises generate() returned")
    if not isinstance(response, str):
        raise GeometryTypeError(f"response must be a string, got {shown(response)} ({type(response).__name__})",
                                fix="pass the learner's answer as text, e.g. '(4, 4)'")
    given = response.strip()
    expected = read(exercise, exercise.answer)
    try:
        if len(given) > MAX_RESPONSE:
            raise Unreadable(f"the answer is {len(given)} characters long; these answers take a few")
        value: Optional[Value] = read(exercise, given) if given else None
        if value is None:
            raise Unreadable("the answer is empty")
    except Unreadable as err:
        return Verdict(False, exercise.answer, given, f"Not an answer: {err}.", understood=False)
    if value == expected:
        return Verdict(True, exercise.answer, show(exercise, value),
                       f"Correct: {exercise.answer}.\n{exercise.explanation}")
    return Verdict(False, exercise.answer, show(exercise, value),
                   f"Not quite: you answered {show(exercise, value)}; the answer is {exercise.answer}.\n"
                   f"{exercise.explanation}")
