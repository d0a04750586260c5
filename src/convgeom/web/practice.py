"""The Practice tab's API, over :mod:`convgeom.quiz` (the exercises of ``convgeom quiz``).

``GET /api/quiz`` sends exercises *without* their answers; ``POST /api/quiz/check`` rebuilds
the exercise from its key (``convgeom.quiz.exercise_from_key``) and checks the answer with the
engine's ``convgeom.quiz.check``, so the page never holds an answer before the user gives one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from ..errors import GeometryError
from .fields import RequestError, check_known

#: Most exercises one request generates.
MAX_COUNT = 50
#: Longest exercise key or answer read (characters).
MAX_TEXT = 2_000
QUERY_FIELDS = ("count", "kind", "framework", "difficulty", "seed")


def _quiz() -> ModuleType:
    from .. import quiz  # imported by the first exercise request, not by the server's start

    return quiz


def _integer(query: Mapping[str, str], name: str, default: Any, minimum: int, maximum: int) -> Any:
    from ..cli import args as values

    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return values.integer(text, name, minimum=minimum, maximum=maximum)
    except values.CliError as err:
        raise RequestError(str(err)) from err


def exercises(query: Mapping[str, str]) -> dict[str, Any]:
    """A set of exercises for the query (``count`` 1..50, ``kind`` comma-separated,
    ``framework``, ``difficulty``, ``seed``), answers left out; plus the kinds and difficulties."""
    quiz = _quiz()
    check_known(query, QUERY_FIELDS)
    count = _integer(query, "count", 10, 1, MAX_COUNT)
    seed = _integer(query, "seed", None, 0, 2**63 - 1)
    kinds = [k.strip() for k in query["kind"].split(",") if k.strip()] if query.get("kind") else None
    framework = query.get("framework") or None
    difficulty = query.get("difficulty") or "medium"
    try:
        made = quiz.generate(count=count, kinds=kinds, framework=framework, difficulty=difficulty, seed=seed)
    except GeometryError as err:
        raise RequestError(str(err)) from err
    return {"exercises": [e.to_dict(include_answer=False) for e in made], "kinds": list(quiz.KINDS),
            "difficulties": list(quiz.DIFFICULTIES)}


def check(data: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict on ``data["answer"]`` for the exercise ``data["key"]``, with its explanation."""
    quiz = _quiz()
    check_known(data, ("key", "answer"))
    key, answer = data.get("key"), data.get("answer")
    for name, value in (("key", key), ("answer", answer)):
        if not isinstance(value, str):
            raise RequestError(f"{name} must be a string", fix='send {"key": "...", "answer": "..."}')
        if len(value) > MAX_TEXT:
            raise RequestError(f"{name} has {len(value):,} characters, more than the cap of {MAX_TEXT:,}",
                               fix=f"send a shorter {name}")
    try:
        exercise = quiz.exercise_from_key(key)
        verdict = quiz.check(exercise, answer)
    except GeometryError as err:
        raise RequestError(str(err)) from err
    return {"key": exercise.key, "correct": bool(verdict.correct), "expected": verdict.expected,
            "given": verdict.given, "message": verdict.message, "explanation": exercise.explanation}
