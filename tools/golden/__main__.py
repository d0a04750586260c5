"""python -m tools.golden (from the repository root): the same as python tools/make_golden.py."""
from .cli import main

main()
