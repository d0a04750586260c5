"""Named experiments that test what the tutorials in ``shared/seeds/`` claim. Each preset is
a plain configuration dict (the same keys as a file) with the claims it tests; a configuration
file and overrides (the command line's options) merge over it (:func:`assemble`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Optional

from .config import ConfigError, Experiment, load_file, merge, parse

_MODES = ["zeros", "reflect", "replicate", "circular"]

_TRACE = {
    "id": "seed001-trace", "metric": "trace",
    "source": "seed 001 (PyTorch model pipeline trace: training trace)",
    "text": "Epoch by epoch the loss decreases and the accuracy improves (0.85/0.45 -> 0.35/0.85 over 5 epochs)",
}
_REFLECT = {
    "id": "reflect-beats-zeros", "a": {"padding_mode": "reflect"}, "b": {"padding_mode": "zeros"},
    "source": "seed 000 step 6 and seed 004 step 7",
    "text": "Zero padding can create artificial edges; reflection padding can reduce edge artifacts "
            "and improve learning (accuracy on edge features)",
}
_REPLICATE = {
    "id": "replicate-beats-zeros", "a": {"padding_mode": "replicate"}, "b": {"padding_mode": "zeros"},
    "source": "seed 000 step 6 and seed 004 step 7",
    "text": "Replication padding can reduce edge artifacts and improve learning (accuracy on edge features)",
}

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "name": "quick",
        "description": "Padding modes on digits and the border task: 2 data sets x 4 modes x 3 seeds, small and fast.",
        "datasets": [{"name": "digits", "size": 16}, {"name": "border", "size": 16, "samples": 2000}],
        "model": {"kernel": 3, "padding": "same", "downsample": "maxpool", "depth": 3, "width": 16},
        "grid": {"padding_mode": _MODES},
        "training": {"epochs": 5, "batch_size": 64, "lr": 0.003},
        "seeds": 3,
        "claims": [_REFLECT, _REPLICATE, _TRACE],
    },
    "padding-modes": {
        "name": "padding-modes",
        "description": "zeros / reflect / replicate / circular padding on digits, the border task and the "
                       "position task (Kayhan & van Gemert): 3 data sets x 4 modes x 5 seeds.",
        "datasets": [{"name": "digits", "size": 16}, {"name": "border", "size": 16, "samples": 2000},
                     {"name": "position", "size": 16, "samples": 2000}],
        "model": {"kernel": 3, "padding": "same", "downsample": "maxpool", "depth": 3, "width": 16},
        "grid": {"padding_mode": _MODES},
        "training": {"epochs": 8, "batch_size": 64, "lr": 0.003},
        "seeds": 5,
        "claims": [
            {**_REFLECT, "datasets": ["border", "digits"]},
            {**_REPLICATE, "datasets": ["border", "digits"]},
            {"id": "zeros-leak-position", "a": {"padding_mode": "zeros"}, "b": {"padding_mode": "circular"},
             "datasets": ["position"], "source": "Kayhan & van Gemert, CVPR 2020 (research, not a seed)",
             "text": "Zero padding lets a CNN with global pooling encode absolute position; circular padding "
                     "(no image boundary) does not"},
            _TRACE,
        ],
    },
    "stride-vs-pooling": {
        "name": "stride-vs-pooling",
        "description": "Downsampling by a stride-2 convolution vs a stride-1 convolution and 2x2 max or "
                       "average pooling: 2 data sets x 3 variants x 5 seeds.",
        "datasets": [{"name": "digits", "size": 16}, {"name": "border", "size": 16, "samples": 2000}],
        "model": {"kernel": 3, "padding": "same", "padding_mode": "zeros", "depth": 3, "width": 16},
        "grid": {"downsample": ["stride", "maxpool", "avgpool"]},
        "training": {"epochs": 8, "batch_size": 64, "lr": 0.003},
        "seeds": 5,
        "claims": [
            {"id": "stride-skips-detail", "a": {"downsample": "maxpool"}, "b": {"downsample": "stride"},
             "source": "seed 000 (myth 3) and seed 004 step 4",
             "text": "Stride changes sampling density and can skip important details; a larger stride may "
                     "lose fine features (so convolve densely, then pool)"},
            {"id": "strided-conv-beats-pooling", "a": {"downsample": "stride"}, "b": {"downsample": "maxpool"},
             "source": "seed 003 (The Role of Stride in Downsampling)",
             "text": "Strided convolutions instead of max pooling let the network learn its own downsampling, "
                     "which has been shown to improve performance"},
            {"id": "stride-is-faster", "metric": "train_ms_per_image", "expect": "less",
             "a": {"downsample": "stride"}, "b": {"downsample": "maxpool"},
             "source": "seed 000 step 2 and seed 002",
             "text": "A stride of 2 skips every other pixel, making the output smaller and computation faster"},
            {"id": "stride-fewer-macs", "metric": "macs", "expect": "less",
             "a": {"downsample": "stride"}, "b": {"downsample": "maxpool"},
             "source": "seed 003 (Balancing Spatial Dimensions)",
             "text": "Increasing the stride shrinks the spatial dimensions and the computational cost (FLOPs)"},
            _TRACE,
        ],
    },
    "valid-vs-same": {
        "name": "valid-vs-same",
        "description": "'valid' (no padding) vs 'same' padding, 2 blocks, on digits and the border task.",
        "datasets": [{"name": "digits", "size": 16}, {"name": "border", "size": 16, "samples": 2000}],
        "model": {"kernel": 3, "padding_mode": "zeros", "downsample": "maxpool", "depth": 2, "width": 16},
        "grid": {"padding": ["valid", "same"]},
        "training": {"epochs": 8, "batch_size": 64, "lr": 0.003},
        "seeds": 5,
        "claims": [
            {"id": "valid-loses-edges", "a": {"padding": "same"}, "b": {"padding": "valid"},
             "source": "seed 000 pitfall 2, seed 002 (bad values), seed 003 (common pitfalls)",
             "text": "No padding shrinks the output and loses edge information; padding helps the network "
                     "learn features at the boundaries"},
            _TRACE,
        ],
    },
    "receptive-field": {
        "name": "receptive-field",
        "description": "Kernel size x depth at full resolution (no downsampling): receptive fields 3..19.",
        "datasets": [{"name": "digits", "size": 16}, {"name": "border", "size": 16, "samples": 2000}],
        "model": {"padding": "same", "padding_mode": "zeros", "downsample": "none", "width": 16},
        "grid": {"kernel": [3, 5, 7], "depth": [1, 2, 3]},
        "training": {"epochs": 8, "batch_size": 64, "lr": 0.003},
        "seeds": 3,
        "claims": [
            {"id": "larger-rf-helps", "a": {"kernel": 7}, "b": {"kernel": 3},
             "source": "seed 002 and seed 003 (Balancing Spatial Dimensions)",
             "text": "A larger filter increases the receptive field, so the network sees more context and larger objects"},
            {"id": "stacked-3x3-fewer-params", "metric": "params", "expect": "less",
             "a": {"kernel": 3, "depth": 2}, "b": {"kernel": 5, "depth": 1},
             "source": "seed 003 (common pitfalls)",
             "text": "Stacking 3x3 filters reaches the same receptive field with fewer parameters"},
            {"id": "stacked-3x3-as-good", "a": {"kernel": 3, "depth": 2}, "b": {"kernel": 5, "depth": 1},
             "source": "seed 003 (common pitfalls)",
             "text": "Modern architectures prefer stacking 3x3 filters to a larger filter with the same receptive field"},
            _TRACE,
        ],
    },
}


def preset(name: str) -> dict[str, Any]:
    """A fresh copy of the named preset's configuration dict."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}", fix=f"use one of {', '.join(PRESETS)} (--list-presets)")
    return copy.deepcopy(PRESETS[name])


def table() -> list[dict[str, Any]]:
    """One row per preset: name, description, number of trials, ids of the claims it tests."""
    rows = []
    for name, data in PRESETS.items():
        e = parse(data)
        rows.append({"name": name, "description": e.description, "trials": len(e.trials()),
                     "claims": [c.id for c in e.claims]})
    return rows


def assemble(preset_name: Optional[str] = None, config_file: Optional[str] = None,
             overrides: Optional[Mapping[str, Any]] = None, size: Any = None, samples: Any = None) -> Experiment:
    """The preset, then the configuration file, then ``overrides`` merged (later ones win) and
    validated; ``size``/``samples``, when given, apply to every data set."""
    config: dict[str, Any] = preset(preset_name) if preset_name else {}
    if config_file:
        config = merge(config, load_file(config_file))
    config = merge(config, overrides or {})
    if size is not None or samples is not None:
        config["datasets"] = _resized(config.get("datasets") or [], size, samples)
    if not config.get("datasets"):
        raise ConfigError("nothing to run: no preset, --config or --dataset given",
                          fix="try --quick, --preset padding-modes, or --dataset border --padding-mode zeros,reflect")
    return parse(config)


def _resized(sets: Any, size: Any, samples: Any) -> list[Any]:
    out = []
    for d in sets if isinstance(sets, list) else [sets]:
        if isinstance(d, str):
            name, sep, path = d.partition(":")
            d = {"name": name, **({"path": path} if sep else {})}
        if isinstance(d, dict):
            d = dict(d)
            if size is not None:
                d["size"] = size
            if samples is not None:
                d["samples"] = samples
        out.append(d)
    return out
