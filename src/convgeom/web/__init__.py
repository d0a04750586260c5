"""``convgeom serve``: a local web playground and JSON API over the geometry engine.

The page (``static/``, shipped in the wheel: no CDN, works offline) shows one layer at a time:
its output size, the animated picture of :mod:`convgeom.draw`, ``explain``'s formula with
numbers, the tracer's diagnostics, the same layer in every framework, its code in each
(:mod:`convgeom.port`), the per-layer table of an uploaded ONNX model and a Practice tab over
:mod:`convgeom.quiz`. The API (:mod:`.server`) answers what the command line prints.

Importing this package imports no web framework: :mod:`.fields`, :mod:`.views`,
:mod:`.picture`, :mod:`.compare`, :mod:`.practice` and :mod:`.upload` are plain functions;
only :mod:`.server` needs the ``web`` extra (Starlette, uvicorn).
"""
