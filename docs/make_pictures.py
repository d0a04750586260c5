"""Regenerate the pictures the README shows (run from the repository root):

    python docs/make_pictures.py

Every picture is drawn by ``convgeom.draw`` from the geometry engine; ``tests/test_draw_docs.py``
checks that the committed SVGs are what this script writes today.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import convgeom as cg
from convgeom.draw.build import pad_scene

HERE = Path(__file__).parent / "pictures"


def pictures() -> dict[str, Callable[[Path], object]]:
    """File name -> a function writing it."""
    return {
        "seed001_pipeline.svg": lambda p: cg.draw(cg.ops.seed_001(), p, step=(0, 1)),
        "seed001_pipeline.gif": lambda p: cg.draw(cg.ops.seed_001(), p),
        "same_tensorflow.svg": lambda p: cg.draw(cg.conv((6, 6), 3, 2, "same", framework="tensorflow"), p),
        "same_pytorch.svg": lambda p: cg.draw(cg.conv((6, 6), 3, 2, 1), p),
        "dilation.svg": lambda p: cg.draw(cg.conv((7, 9), 3, 2, 1, dilation=2), p, step=(1, 1)),
        "ceil_mode.svg": lambda p: cg.draw(cg.max_pool((6, 6), 3, 2, ceil_mode=True), p, step=(2, 2)),
        "transposed_zeros_inserted.svg": lambda p: cg.draw(cg.conv_transpose((3, 3), 3, 2, 1, 1), p, step=(1, 2)),
        "transposed_scatter.svg": lambda p: cg.draw(cg.conv_transpose((3, 3), 3, 2, 1, 1), p, step=(1, 1),
                                                    mode="scatter"),
        "reflect_padding.svg": lambda p: cg.draw(pad_scene([[1, 2, 3], [4, 5, 6], [7, 8, 9]], 2, "reflect"), p),
        "coverage.svg": lambda p: cg.draw(cg.conv((10, 10), 2, 3), p, coverage=True),
        "staircase.png": _staircase,
    }


def _staircase(path: Path) -> None:
    from convgeom.draw import plots

    plots.save(plots.staircase("max_pool", range(1, 21), kernel=4, stride=3, padding="valid"), str(path))


def main(names: list[str]) -> int:
    HERE.mkdir(exist_ok=True)
    for name, write in pictures().items():
        if not names or name in names:
            write(HERE / name)
            print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
