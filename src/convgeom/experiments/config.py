"""What an experiment is: datasets x a grid of model variants x seeds, with the training
settings, parsed from one plain dict (a YAML/TOML/JSON file, a preset, command-line options)
and validated against the caps in :data:`CAPS` before anything is loaded or trained.

The dict's keys (every one optional except ``datasets``)::

    name: padding-modes          # names the output folder and the report
    description: ...
    datasets: [digits, {name: border, size: 24, samples: 1500}, {name: npz, path: x.npz}]
    model: {kernel: 3, padding: same, padding_mode: zeros, downsample: maxpool,
            dilation: 1, depth: 3, width: 16, norm: batch, head: gap}
    grid: {padding_mode: [zeros, reflect, replicate, circular]}   # lists of model values
    training: {epochs: 5, batch_size: 64, lr: 0.003, weight_decay: 0, threads: 1, device: cpu}
    seeds: 3                     # or a list of ints
    claims: [...]                # presets' seed claims (see :class:`Claim`)

Nothing here imports torch: configurations are checked and listed without it.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Optional

from ..errors import GeometryError
from ..optional import require

#: Inclusive (low, high) limits of every number a user can ask for.
CAPS: dict[str, tuple[int, int]] = {
    "size": (8, 128),            # image side in pixels (images are square)
    "samples": (60, 20_000),     # images generated for the border / position tasks
    "distractors": (0, 3),       # interior glyphs of other classes in the border task
    "epochs": (1, 100),
    "seeds": (1, 20),            # seeds per configuration (the exact sign-flip test enumerates 2**seeds)
    "seed": (0, 2**31 - 1),
    "depth": (1, 8),             # convolution blocks
    "width": (1, 256),           # channels per block
    "kernel": (1, 15),
    "dilation": (1, 8),
    "padding": (0, 16),          # explicit padding per side
    "batch_size": (1, 4096),
    "threads": (1, 256),         # torch intra-op threads per trial (and Ray CPUs per trial)
    "datasets": (1, 8),
    "variants": (1, 256),        # model variants in the grid (product of the grid's lists)
    "trials": (1, 2000),         # datasets x variants x seeds
    "claims": (0, 64),
    "ray_cpus": (1, 4096),       # CPUs a local Ray may use
}
#: Largest configuration file read (bytes).
MAX_CONFIG_BYTES = 1 << 20
#: Learning rate and weight decay limits (floats).
LR_RANGE = (1e-6, 10.0)
WEIGHT_DECAY_RANGE = (0.0, 1.0)
#: Most GPUs one Ray trial may ask for.
MAX_GPUS_PER_TRIAL = 8.0

DATASETS = ("digits", "border", "position", "npz", "folder")
#: Generated tasks whose images changed since their first version (absent: version 1).
GENERATOR_VERSIONS = {"position": 2}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
DOWNSAMPLES = ("maxpool", "avgpool", "stride", "none")
NORMS = ("batch", "none")
HEADS = ("gap", "flatten")
DEVICES = ("cpu", "cuda", "auto")
METRICS = ("test_accuracy", "train_ms_per_image", "infer_ms_per_image", "macs", "params", "trace")
#: The model fields a grid can vary.
GRID_KEYS = ("kernel", "padding", "padding_mode", "downsample", "dilation", "depth", "width", "norm", "head")


class ConfigError(GeometryError):
    """A bad experiment configuration (file, preset override or command-line option)."""


# ----- the pieces -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSpec:
    """One data source. ``digits`` (scikit-learn's 8x8 handwritten digits, upsampled
    bilinearly to ``size``), ``border`` and ``position`` (generated from the seed: ``samples``
    images of ``size`` x ``size``), ``npz`` (``path``: arrays ``x``/``images`` and
    ``y``/``labels``) or ``folder`` (``path``: one sub-folder of images per class)."""

    name: str
    size: int = 16
    samples: int = 2000
    distractors: int = 1
    path: Optional[str] = None

    @property
    def label(self) -> str:
        """``border`` or ``npz:file.npz``: how tables and plots name it."""
        return f"{self.name}:{os.path.basename(os.path.normpath(self.path))}" if self.path else self.name

    @property
    def generated(self) -> bool:
        """True when the images themselves are drawn from the seed."""
        return self.name in ("border", "position")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.generated:
            data.pop("samples")
        if self.name != "border":
            data.pop("distractors")
        if self.path is None:
            data.pop("path")
        return data


@dataclass(frozen=True)
class ModelSpec:
    """A small CNN: ``depth`` blocks of conv (``kernel``, ``dilation``, ``padding``,
    ``padding_mode``) -> norm -> ReLU, each downsampling by 2 (``stride``: the conv strides;
    ``maxpool``/``avgpool``: a 2x2 pool after the ReLU; ``none``), then global average pooling
    (``gap``) or flatten, and one linear layer. ``padding`` is ``valid``, ``same``
    (TensorFlow's rule: output = ceil(input / stride), the extra cell after, so stride 2 on an
    even size pads unevenly), ``N`` (N on every side) or ``B:A`` (B before, A after)."""

    kernel: int = 3
    padding: str = "same"
    padding_mode: str = "zeros"
    downsample: str = "maxpool"
    dilation: int = 1
    depth: int = 3
    width: int = 16
    norm: str = "batch"
    head: str = "gap"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainSpec:
    """Adam with a constant learning rate, cross-entropy, mini-batches in an order drawn from
    the seed; ``threads`` torch intra-op threads per trial; ``device`` cpu or cuda."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 0.003
    weight_decay: float = 0.0
    threads: int = 1
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """A tutorial's claim, tested as "variant ``a`` beats variant ``b`` on ``metric``".

    ``a`` and ``b`` fix some model fields (``(("padding_mode", "reflect"),)``); every pair of
    variants that match them and agree on all other fields is compared, paired by seed, on the
    datasets named (all when empty). ``expect`` is ``greater`` or ``less`` (a's metric against
    b's). Metric ``trace`` checks seed 001's epoch trace instead (loss falls, accuracy rises)."""

    id: str
    text: str
    source: str
    metric: str = "test_accuracy"
    a: tuple[tuple[str, Any], ...] = ()
    b: tuple[tuple[str, Any], ...] = ()
    expect: str = "greater"
    datasets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trial:
    """One training run: a dataset, a model variant, the training settings and a seed."""

    dataset: DataSpec
    model: ModelSpec
    train: TrainSpec
    seed: int
    #: the grid axes that vary, with this trial's values (for labels; not part of the id)
    varying: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        """A digest of everything that decides the result: resume matches runs by it."""
        dataset = self.dataset.to_dict()
        if self.dataset.name in GENERATOR_VERSIONS:     # a changed generator makes new ids
            dataset["version"] = GENERATOR_VERSIONS[self.dataset.name]
        key = json.dumps({"dataset": dataset, "model": self.model.to_dict(),
                          "train": self.train.to_dict(), "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def variant(self) -> str:
        return variant_label(self.model, self.varying)


def variant_label(model: ModelSpec, varying: Sequence[str]) -> str:
    """``padding_mode=reflect, kernel=5``: the varying fields (``base`` when none vary)."""
    return ", ".join(f"{k}={getattr(model, k)}" for k in varying) or "base"


@dataclass(frozen=True)
class Experiment:
    name: str
    datasets: tuple[DataSpec, ...]
    base: ModelSpec = ModelSpec()
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    train: TrainSpec = TrainSpec()
    seeds: tuple[int, ...] = (0, 1, 2)
    claims: tuple[Claim, ...] = ()
    description: str = ""

    @property
    def varying(self) -> tuple[str, ...]:
        """Grid axes with more than one value."""
        return tuple(k for k, values in self.grid if len(values) > 1)

    def variants(self) -> list[ModelSpec]:
        """The grid's product over the base model, in grid order."""
        keys = [k for k, _ in self.grid]
        return [replace(self.base, **dict(zip(keys, combo)))
                for combo in itertools.product(*(values for _, values in self.grid))]

    def trials(self) -> list[Trial]:
        """Seed-major order, so an interrupted sweep leaves whole seeds to compare."""
        variants = self.variants()
        return [Trial(d, m, self.train, s, self.varying) for s in self.seeds for d in self.datasets for m in variants]

    def to_dict(self) -> dict[str, Any]:
        """The dict :func:`parse` reads back into this experiment."""
        return {
            "name": self.name, "description": self.description,
            "datasets": [d.to_dict() for d in self.datasets],
            "model": self.base.to_dict(),
            "grid": {k: list(v) for k, v in self.grid},
            "training": self.train.to_dict(), "seeds": list(self.seeds),
            "claims": [{"id": c.id, "text": c.text, "source": c.source, "metric": c.metric,
                        "a": dict(c.a), "b": dict(c.b), "expect": c.expect, "datasets": list(c.datasets)}
                       for c in self.claims],
        }


# ----- checking values ----------------------------------------------------------------------------
def check_int(value: Any, name: str, cap: Optional[str] = None) -> int:
    """``value`` as an int within ``CAPS[cap or name]``; the message names ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(f"{name} must be an integer, got {value!r}", fix=f"e.g. {name}: {CAPS[cap or name][0]}")
    lo, hi = CAPS[cap or name]
    if not lo <= value <= hi:
        raise ConfigError(f"{name} = {value} is outside {lo}..{hi}", fix=f"use {lo} <= {name} <= {hi} (a documented cap)")
    return int(value)


def check_float(value: Any, name: str, limits: tuple[float, float]) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}", fix=f"e.g. {name}: {limits[1] / 10:g}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}", fix=f"e.g. {name}: {limits[1] / 10:g}") from None
    if not limits[0] <= number <= limits[1]:
        raise ConfigError(f"{name} = {number:g} is outside {limits[0]:g}..{limits[1]:g}",
                          fix=f"use a value in {limits[0]:g}..{limits[1]:g} (a documented cap)")
    return number


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise ConfigError(f"unknown {name} {value!r}", fix=f"use one of {', '.join(choices)}")
    return text


def check_padding(value: Any) -> str:
    """``valid``/``same``/``N``/``B:A`` as a canonical string (ints become ``"N"``)."""
    if isinstance(value, bool):
        raise ConfigError(f"padding must be valid, same, N or B:A, got {value!r}", fix="e.g. padding: same")
    if isinstance(value, int):
        return str(check_int(value, "padding"))
    text = str(value).strip().lower()
    if text in ("valid", "same"):
        return text
    before, sep, after = text.partition(":")
    try:
        sides = [int(before)] + ([int(after)] if sep else [])
    except ValueError:
        raise ConfigError(f"padding must be valid, same, N or B:A, got {value!r}",
                          fix="e.g. padding: same, padding: 1 or padding: '0:1' (before:after)") from None
    for side in sides:
        check_int(side, "padding")
    return ":".join(map(str, sides))


def pad_sides(padding: str) -> Optional[tuple[int, int]]:
    """``"1"`` -> (1, 1), ``"0:1"`` -> (0, 1), ``"valid"`` -> (0, 0); ``"same"`` -> None
    (input-dependent: the model module computes it from the geometry engine)."""
    if padding == "same":
        return None
    if padding == "valid":
        return (0, 0)
    before, _, after = padding.partition(":")
    return (int(before), int(after or before))


_MODEL_CHECKS: dict[str, Any] = {
    "kernel": lambda v: check_int(v, "kernel"),
    "padding": check_padding,
    "padding_mode": lambda v: check_choice(v, "padding_mode", PADDING_MODES),
    "downsample": lambda v: check_choice(v, "downsample", DOWNSAMPLES),
    "dilation": lambda v: check_int(v, "dilation"),
    "depth": lambda v: check_int(v, "depth"),
    "width": lambda v: check_int(v, "width"),
    "norm": lambda v: check_choice(v, "norm", NORMS),
    "head": lambda v: check_choice(v, "head", HEADS),
}


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a mapping of keys to values, got {type(value).__name__}",
                          fix=f"write {name}: {{key: value, ...}}")
    return value


def _known(data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r} in {where}", fix=f"use {', '.join(allowed)}")


def parse_dataset(value: Any) -> DataSpec:
    """``"digits"``, ``"npz:path"``, ``"folder:path"`` or a mapping with ``name`` and options."""
    if isinstance(value, str):
        name, sep, rest = value.partition(":")
        value = {"name": name, **({"path": rest} if sep else {})}
    data = _mapping(value, "a dataset")
    _known(data, [f.name for f in fields(DataSpec)], "a dataset")
    if "name" not in data:
        raise ConfigError("a dataset needs a name", fix=f"use one of {', '.join(DATASETS)}")
    name = check_choice(data["name"], "dataset", DATASETS)
    raw_path = data.get("path")
    path: Optional[str] = None
    if name in ("npz", "folder"):
        if not raw_path:
            raise ConfigError(f"dataset {name} needs a path", fix=f"write {name}:PATH or {{name: {name}, path: PATH}}")
        path = str(raw_path)
    elif raw_path:
        raise ConfigError(f"dataset {name} takes no path", fix="drop the path, or use npz:PATH / folder:PATH")
    default = DataSpec(name)
    return DataSpec(
        name=name,
        size=check_int(data.get("size", default.size), "size"),
        samples=check_int(data.get("samples", default.samples), "samples"),
        distractors=check_int(data.get("distractors", default.distractors), "distractors"),
        path=path,
    )


def parse_model(data: Mapping[str, Any], base: ModelSpec = ModelSpec()) -> ModelSpec:
    _known(data, GRID_KEYS, "model")
    return replace(base, **{k: _MODEL_CHECKS[k](v) for k, v in data.items()})


def parse_grid(data: Mapping[str, Any]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    _known(data, GRID_KEYS, "grid")
    grid = []
    for key, values in data.items():
        items = list(values) if isinstance(values, (list, tuple)) else [values]
        if not items:
            raise ConfigError(f"grid {key} is empty", fix=f"give at least one value for {key}")
        checked = tuple(dict.fromkeys(_MODEL_CHECKS[key](v) for v in items))   # drop repeats, keep order
        grid.append((key, checked))
    return tuple(grid)


def parse_training(data: Mapping[str, Any]) -> TrainSpec:
    _known(data, [f.name for f in fields(TrainSpec)], "training")
    d = TrainSpec()
    return TrainSpec(
        epochs=check_int(data.get("epochs", d.epochs), "epochs"),
        batch_size=check_int(data.get("batch_size", d.batch_size), "batch_size"),
        lr=check_float(data.get("lr", d.lr), "lr", LR_RANGE),
        weight_decay=check_float(data.get("weight_decay", d.weight_decay), "weight_decay", WEIGHT_DECAY_RANGE),
        threads=check_int(data.get("threads", d.threads), "threads"),
        device=check_choice(data.get("device", d.device), "device", DEVICES),
    )


def parse_seeds(value: Any) -> tuple[int, ...]:
    """A count (seeds 0..n-1) or a list of distinct seeds."""
    if isinstance(value, (list, tuple)):
        seeds = tuple(check_int(v, "seed") for v in value)
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds repeat: {list(seeds)}", fix="list each seed once")
        check_int(len(seeds), "number of seeds", "seeds")
        return seeds
    return tuple(range(check_int(value, "seeds")))


def _fields(value: Any, where: str) -> tuple[tuple[str, Any], ...]:
    data = _mapping(value, where)
    _known(data, GRID_KEYS, where)
    return tuple((k, _MODEL_CHECKS[k](v)) for k, v in data.items())


def parse_claim(data: Any) -> Claim:
    data = _mapping(data, "a claim")
    _known(data, [f.name for f in fields(Claim)], "a claim")
    for key in ("id", "text", "source"):
        if not data.get(key):
            raise ConfigError(f"a claim needs {key}", fix="give id, text, source, a and b")
    metric = check_choice(data.get("metric", "test_accuracy"), "claim metric", METRICS)
    a, b = _fields(data.get("a"), "claim a"), _fields(data.get("b"), "claim b")
    if metric != "trace" and not (a and b):
        raise ConfigError(f"claim {data['id']} needs a and b (the model fields that differ)",
                          fix="e.g. a: {padding_mode: reflect}, b: {padding_mode: zeros}")
    return Claim(
        id=str(data["id"]), text=str(data["text"]), source=str(data["source"]), metric=metric, a=a, b=b,
        expect=check_choice(data.get("expect", "greater"), "claim expect", ("greater", "less")),
        datasets=tuple(str(d) for d in (data.get("datasets") or ())),
    )


_TOP_KEYS = ("name", "description", "datasets", "model", "grid", "training", "seeds", "claims")


def parse(data: Mapping[str, Any]) -> Experiment:
    """A validated :class:`Experiment` from the dict described in the module docstring."""
    data = _mapping(data, "the configuration")
    _known(data, _TOP_KEYS, "the configuration")
    raw_sets = data.get("datasets")
    if not raw_sets:
        raise ConfigError("no datasets given", fix="add datasets: [digits] (or --dataset digits, or a preset such as --quick)")
    raw_sets = raw_sets if isinstance(raw_sets, (list, tuple)) else [raw_sets]
    check_int(len(raw_sets), "number of datasets", "datasets")
    datasets = tuple(parse_dataset(d) for d in raw_sets)
    if len({d.label for d in datasets}) != len(datasets):
        raise ConfigError("a dataset is listed twice", fix="list each dataset once")
    name = str(data.get("name") or "custom")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"name {name!r} may hold only letters, digits, '-' and '_'", fix="e.g. name: my-sweep")
    grid = parse_grid(_mapping(data.get("grid"), "grid"))
    variants = 1
    for _, values in grid:
        variants *= len(values)
    check_int(variants, "number of model variants (the grid's product)", "variants")
    seeds = parse_seeds(data.get("seeds", 3))
    check_int(len(datasets) * variants * len(seeds), "number of trials (datasets x variants x seeds)", "trials")
    claims = tuple(parse_claim(c) for c in (data.get("claims") or ()))
    check_int(len(claims), "number of claims", "claims")
    return Experiment(
        name=name, description=str(data.get("description") or ""), datasets=datasets,
        base=parse_model(_mapping(data.get("model"), "model")), grid=grid,
        train=parse_training(_mapping(data.get("training"), "training")), seeds=seeds, claims=claims,
    )


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: model, grid and training merge key by key, and a model
    field that ``override`` fixes (in ``model``) drops ``base``'s grid axis of that field."""
    out: dict[str, Any] = dict(base)
    for key, value in override.items():
        if key in ("model", "grid", "training") and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    fixed = _mapping(override.get("model"), "model")
    gridded = _mapping(override.get("grid"), "grid")
    if isinstance(out.get("grid"), Mapping):
        out["grid"] = {k: v for k, v in out["grid"].items() if k in gridded or k not in fixed}
    return out


# ----- files --------------------------------------------------------------------------------------
def load_file(path: str) -> dict[str, Any]:
    """Read a ``.json``, ``.toml`` or ``.yaml``/``.yml`` configuration (at most 1 MiB)."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist", fix="give the path of a .yaml, .toml or .json file")
    if os.path.getsize(path) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {path!r} is larger than {MAX_CONFIG_BYTES} bytes", fix="a configuration is a few lines")
    suffix = os.path.splitext(path)[1].lower()
    with open(path, "rb") as fh:
        raw = fh.read()
    text = raw.decode("utf-8", errors="replace")
    data: Any
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}", fix="fix the JSON") from None
    elif suffix == ".toml":
        try:
            tomllib: Any = importlib.import_module("tomllib")
        except ImportError:  # pragma: no cover - Python 3.10
            raise ConfigError("reading TOML needs Python 3.11+", fix="use a .yaml or .json file") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {str(exc).splitlines()[0]}", fix="fix the TOML") from None
    elif suffix in (".yaml", ".yml"):
        yaml: Any = require("yaml", "reading YAML")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', None) or exc}".splitlines()[0],
                              fix="fix the YAML") from None
    else:
        raise ConfigError(f"config file {path!r} has an unknown suffix {suffix!r}", fix="use .yaml, .yml, .toml or .json")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}",
                          fix="start with keys such as datasets:, grid:, training:")
    return data
