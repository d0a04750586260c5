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
