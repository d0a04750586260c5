"""Experiment configurations: files, presets, merging, validation errors (one line, exit 2),
and the model plans against real PyTorch modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convgeom.experiments import config as C
from convgeom.experiments.presets import PRESETS, preset

CONFIG = {
    "name": "tiny",
    "datasets": ["digits", {"name": "border", "size": 16, "samples": 200}],
    "model": {"depth": 2, "width": 8},
    "grid": {"padding_mode": ["zeros", "reflect"], "kernel": [3, 5]},
    "training": {"epochs": 2, "lr": 0.01},
    "seeds": 2,
}


def test_parse_builds_the_grid_seed_major() -> None:
    e = C.parse(CONFIG)
    assert [v.padding_mode for v in e.variants()] == ["zeros", "zeros", "reflect", "reflect"]
    assert [v.kernel for v in e.variants()] == [3, 5, 3, 5]
    trials = e.trials()
    assert len(trials) == 2 * 4 * 2
    assert [t.seed for t in trials] == [0] * 8 + [1] * 8          # whole seeds first: resumable comparisons
    assert len({t.id for t in trials}) == len(trials)
    assert trials[0].variant == "padding_mode=zeros, kernel=3"
    assert e.train.epochs == 2 and e.train.lr == 0.01 and e.base.depth == 2
    assert C.parse(e.to_dict()) == e                               # to_dict round-trips


def test_trial_id_depends_on_everything_that_decides_the_result() -> None:
    t = C.parse(CONFIG).trials()[0]
    from dataclasses import replace

    assert replace(t, seed=5).id != t.id
    assert replace(t, train=replace(t.train, lr=0.1)).id != t.id
    assert replace(t, model=replace(t.model, width=9)).id != t.id
    assert replace(t, dataset=replace(t.dataset, size=20)).id != t.id
    assert replace(t, varying=("x",)).id == t.id                   # labels are not identity


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".toml"])
def test_files_in_every_format_give_the_same_experiment(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"c{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(CONFIG))
    elif suffix == ".yaml":
        yaml = pytest.importorskip("yaml")
        path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    else:
        path.write_text('name = "tiny"\nseeds = 2\ndatasets = ["digits", {name = "border", size = 16, samples = 200}]\n'
                        '[model]\ndepth = 2\nwidth = 8\n[grid]\npadding_mode = ["zeros", "reflect"]\nkernel = [3, 5]\n'
                        '[training]\nepochs = 2\nlr = 0.01\n')
    assert C.parse(C.load_file(str(path))) == C.parse(CONFIG)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_parse_and_their_claims_find_variant_pairs(name: str) -> None:
    from convgeom.experiments.analysis import variant_pairs
    from convgeom.experiments.models import plan

    e = C.parse(preset(name))
    for d in e.datasets:
        for v in e.variants():
            plan(v, d.size)
    for claim in e.claims:
        if claim.metric != "trace":
            assert variant_pairs(e, claim.a, claim.b), claim.id


def test_quick_preset_is_what_the_issue_asks() -> None:
    e = C.parse(preset("quick"))
    assert {d.name for d in e.datasets} == {"digits", "border"}
    assert dict(e.grid)["padding_mode"] == ("zeros", "reflect", "replicate", "circular")
    assert len(e.seeds) == 3


def test_merge_later_sources_win() -> None:
    base = preset("quick")
    merged = C.merge(base, {"grid": {"kernel": ["3", "5"]}, "training": {"epochs": "2"}})
    e = C.parse(merged)
    assert dict(e.grid)["kernel"] == (3, 5) and dict(e.grid)["padding_mode"][0] == "zeros"
    assert e.train.epochs == 2 and e.train.batch_size == 64
    # a model field fixed by a later source drops the earlier grid axis of that field
    e2 = C.parse(C.merge(base, {"model": {"padding_mode": "reflect"}}))
    assert "padding_mode" not in dict(e2.grid) and e2.base.padding_mode == "reflect"


@pytest.mark.parametrize("change, words", [
    ({"datasets": []}, "no datasets"),
    ({"datasets": ["mnist"]}, "unknown dataset 'mnist'"),
    ({"datasets": ["npz"]}, "needs a path"),
    ({"datasets": ["digits:x"]}, "takes no path"),
    ({"datasets": ["digits", "digits"]}, "listed twice"),
    ({"datasets": [{"name": "digits", "size": 4}]}, "size = 4 is outside 8..128"),
    ({"datasets": [{"name": "border", "sample": 10}]}, "unknown key 'sample'"),
    ({"grid": {"kernel": [3, "x"]}}, "kernel must be an integer"),
    ({"grid": {"padding": ["sam"]}}, "padding must be valid, same, N or B:A"),
    ({"grid": {"padding": ["0:99"]}}, "padding = 99 is outside"),
    ({"grid": {"padding_mode": ["mirror"]}}, "unknown padding_mode 'mirror'"),
    ({"grid": {"stride": [2]}}, "unknown key 'stride' in grid"),
    ({"grid": {"kernel": []}}, "grid kernel is empty"),
    ({"grid": {"width": list(range(1, 20)), "kernel": list(range(1, 16))}}, "number of model variants"),
    ({"training": {"epochs": 0}}, "epochs = 0 is outside 1..100"),
    ({"training": {"lr": "fast"}}, "lr must be a number"),
    ({"training": {"device": "tpu"}}, "unknown device"),
    ({"seeds": 21}, "seeds = 21 is outside 1..20"),
    ({"seeds": [1, 1]}, "seeds repeat"),
    ({"name": "a b"}, "may hold only letters"),
    ({"extra": 1}, "unknown key 'extra'"),
    ({"claims": [{"id": "x", "text": "t", "source": "s"}]}, "needs a and b"),
])
def test_validation_errors_name_the_problem(change: dict[str, Any], words: str) -> None:
    with pytest.raises(C.ConfigError) as info:
        C.parse({**CONFIG, **change})
    message = str(info.value)
    assert words in message and "\n" not in message


def test_too_many_trials_is_refused_before_anything_runs() -> None:
    with pytest.raises(C.ConfigError, match="number of trials"):
        C.parse({**CONFIG, "grid": {"kernel": list(range(1, 16)), "width": list(range(1, 17))}, "seeds": 20})


@pytest.mark.parametrize("text, words", [
    ("{", "invalid JSON at line 1"),
    ("[1, 2]", "top level must be a mapping"),
])
def test_bad_files(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(C.ConfigError, match=words):
        C.load_file(str(path))
    with pytest.raises(C.ConfigError, match="unknown suffix"):
        (tmp_path / "c.ini").write_text("x")
        C.load_file(str(tmp_path / "c.ini"))
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.load_file(str(tmp_path / "missing.yaml"))


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "c.yaml"
    path.write_text("datasets: [digits\ngrid: {\n")
    with pytest.raises(C.ConfigError, match=r"invalid YAML at line \d"):
        C.load_file(str(path))


# ----- the model plan: convgeom's geometry against the real modules ------------------------------
torch = pytest.importorskip("torch")


def _real_sizes(spec: C.ModelSpec, size: int) -> list[tuple[int, int, int]]:
    """(block, conv output side, block output side) from a real forward pass."""
    from convgeom.experiments.models import build

    model = build(spec, 1, 3, size)
    seen: dict[str, int] = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: seen.__setitem__(n, o.shape[-1]))
             for n, m in model.named_children()]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    for h in hooks:
        h.remove()
    assert seen["fc"] == 3
    return [(b, seen[f"conv{b}"], seen.get(f"pool{b}", seen[f"conv{b}"])) for b in range(1, spec.depth + 1)]


def _reference(spec: C.ModelSpec, size: int) -> list[tuple[int, int, int]]:
    """The same blocks in plain torch.nn.functional (explicit F.pad, then conv and pool), without
    convgeom: raises where PyTorch refuses."""
    import torch.nn.functional as F

    sides = C.pad_sides(spec.padding)
    assert sides is not None
    x = torch.zeros(1, 1, size, size)
    out = []
    for b in range(1, spec.depth + 1):
        mode = "constant" if spec.padding_mode == "zeros" else spec.padding_mode
        x = F.pad(x, (sides[0], sides[1], sides[0], sides[1]), mode=mode)
        x = F.conv2d(x, torch.ones(1, 1, spec.kernel, spec.kernel), stride=2 if spec.downsample == "stride" else 1,
                     dilation=spec.dilation)
        conv_out = x.shape[-1]
        if spec.downsample == "maxpool":
            x = F.max_pool2d(x, 2)
        elif spec.downsample == "avgpool":
            x = F.avg_pool2d(x, 2)
        out.append((b, conv_out, x.shape[-1]))
    return out


@given(st.sampled_from(["valid", "same", "1", "0:1", "3:0"]), st.sampled_from(C.DOWNSAMPLES),
       st.sampled_from(C.PADDING_MODES), st.sampled_from([(3, 1), (4, 1), (3, 2), (1, 1)]),
       st.sampled_from([(16, 2), (17, 2), (6, 3), (4, 2)]))
@settings(max_examples=80, deadline=None)
def test_plan_matches_pytorch(padding: str, downsample: str, mode: str, kd: tuple[int, int],
                              size_depth: tuple[int, int]) -> None:
    """Every block's sizes as planned = the built model's = plain torch's; refused exactly where
    PyTorch refuses (reflect padding >= the input, kernels larger than the padded input)."""
    from convgeom.experiments.models import plan

    (kernel, dilation), (size, depth) = kd, size_depth
    spec = C.ModelSpec(kernel=kernel, padding=padding, padding_mode=mode, downsample=downsample,
                       dilation=dilation, depth=depth, width=2)
    try:
        blocks = plan(spec, size)
    except C.ConfigError:
        if padding != "same":
            with pytest.raises(RuntimeError):
                _reference(spec, size)
        return
    planned = [(b.index, b.conv_output, b.output) for b in blocks]
    assert planned == _real_sizes(spec, size)
    if padding != "same":
        assert planned == _reference(spec, size)


def test_same_padding_is_tensorflows_split() -> None:
    import convgeom as cg
    from convgeom.experiments.models import plan

    for size in (15, 16, 17):
        for kernel, stride in ((3, 2), (4, 1), (5, 2)):
            spec = C.ModelSpec(kernel=kernel, padding="same", downsample="stride" if stride == 2 else "none", depth=1)
            expected = cg.conv(size, kernel, stride, "same", framework="tensorflow")
            (block,) = plan(spec, size)
            assert block.pad == expected.pad[0] and block.conv_output == expected.output[0]


def test_geometry_comes_from_convgeom_trace() -> None:
    from convgeom.experiments.models import build, geometry

    spec = C.ModelSpec(kernel=5, padding="same", downsample="maxpool", depth=2, width=4)
    g = geometry(spec, 1, 10, 16)
    model = build(spec, 1, 10, 16)
    assert g["params"] == sum(p.numel() for p in model.parameters())
    # conv 5x5 at 16x16 -> pool 2 -> conv 5x5 at 8x8 -> pool 2: r = 5 + 1*(2-1) + 2*(5-1) + 2*(2-1) = 16 (Araujo)
    assert g["receptive_field"] == [16, 16] and g["rf_stride"] == [4, 4]
    assert [layer["output"][1:] for layer in g["layers"] if layer["op"] == "conv"] == [[16, 16], [8, 8]]


# ----- command line: one stderr line, exit 2 ---------------------------------------------------------
def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from convgeom.cli import main

    code = main(["experiment", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, words", [
    ([], "nothing to run"),
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["--quick", "--epochs", "1000"], "epochs = 1000 is outside 1..100"),
    (["--quick", "--kernel", "3,x"], "kernel must be an integer"),
    (["--quick", "--address", "1.2.3.4:6379"], "--address needs --backend ray"),
    (["--quick", "--resume", "--overwrite"], "contradict"),
    (["--quick", "--ray-cpus", "0", "--backend", "ray"], "ray_cpus = 0 is outside"),
    (["--dataset", "digits", "--padding", "valid", "--depth", "4", "--size", "16", "--dry-run"],
     "cannot take a 16x16 input: block 3 of 4"),
    (["--dataset", "npz:/no/such.npz", "--dry-run"], "does not exist"),
    (["--config", "/no/such.yaml"], "does not exist"),
    (["--quick", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 args: list[str], words: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _main(capsys, *args)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], err
    assert not list(tmp_path.iterdir())               # nothing was written


def test_cli_error_from_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "convgeom", "experiment", "--quick", "--seeds", "0"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "convgeom: error: seeds = 0 is outside 1..20; use 1 <= seeds <= 20 (a documented cap)"]


def test_cli_list_presets_and_dry_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = _main(capsys, "--list-presets", "--json")
    assert code == 0 and [p["name"] for p in json.loads(out)["presets"]] == list(PRESETS)
    code, out, err = _main(capsys, "--quick", "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["trials"] == 24 and len(data["models"]) == 8
    assert not list(tmp_path.iterdir())


def test_importing_the_package_and_command_stays_light() -> None:
    code = ("import sys, convgeom, convgeom.experiments, convgeom.cli.experiment, convgeom.experiments.config, "
            "convgeom.experiments.presets, convgeom.experiments.stats, convgeom.cli; convgeom.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'numpy', 'sklearn', 'ray', 'matplotlib', 'tqdm', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_readme_experiment_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Every `convgeom experiment` line of the README parses and validates; the ones that train
    nothing (--list-presets, --dry-run) run."""
    import shlex

    from convgeom.cli import parse as parse_argv
    from convgeom.cli.experiment import build_experiment, options

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text.split("## Experiments (`convgeom experiment`)")[1].split("\n## ")[0]
    lines = [line.partition("#")[0].strip() for block in section.split("```bash\n")[1:]
             for line in block.split("```")[0].splitlines() if line.startswith("convgeom experiment")]
    assert len(lines) >= 5
    (tmp_path / "sweep.yaml").write_text("datasets: [border]\ngrid: {padding_mode: [zeros, reflect]}\n")
    monkeypatch.chdir(tmp_path)
    for line in lines:
        argv = shlex.split(line)[1:]
        if "--list-presets" in argv or "--dry-run" in argv:
            code, out, err = _main(capsys, *argv[1:])
            assert code == 0 and out, (line, err)
            continue
        args = parse_argv(argv)
        experiment = build_experiment(args)
        assert options(args, experiment.name).out
