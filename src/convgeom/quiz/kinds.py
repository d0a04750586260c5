"""One generator per kind of exercise. Each draws layers until the geometry engine accepts them
(or, for "does this raise", until the engine's verdict is the one wanted), takes the answer from
the engine's result and the explanation from :func:`convgeom.explain`/``explain_call``, and
writes the question in the framework's own words (:mod:`.spelling`).

Well-posed by construction: a question asks for something with exactly one answer (a size, a
per-side split, the one option of four that maps A to B, the one padding or output_padding that
works, checked by trying the others with the engine), and a configuration the framework refuses
appears only in "does this raise" exercises.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Optional, Union

from ..arithmetic import effective_kernel, transposed_full_output
from ..errors import GeometryError
from ..explanation import explain
from ..geometry import LayerGeometry, max_pool
from ..receptive_field import ReceptiveField
from . import layers as draws
from .layers import LEVELS, Layer, Level, cli_sizes, draw
from .spelling import axes_phrase, spelling

LETTERS = "ABCD"


@dataclass(frozen=True)
class Draft:
    """An exercise before it gets its key, kind, framework and difficulty."""

    question: str
    params: dict[str, str]
    answer: str
    explanation: str
    choices: tuple[str, ...] = field(default=())


# ----- answers as the command line writes values -------------------------------------------
def sizes_answer(values: Sequence[object]) -> str:
    """``4`` for one axis, ``(4, 4)`` for several (as ``convgeom shape`` prints an output)."""
    return str(values[0]) if len(values) == 1 else "(" + ", ".join(map(str, values)) + ")"


def pads_answer(pairs: Sequence[tuple[int, int]]) -> str:
    """``0:1`` / ``0:1,1:1``: before:after per axis, as ``--padding`` takes them."""
    return ",".join(f"{b}:{a}" for b, a in pairs)


def channels(rng: random.Random, difficulty: str) -> tuple[int, int]:
    """(input channels, output channels of a convolution)."""
    return (1 if difficulty == "easy" else rng.choice((1, 3)), rng.choice((4, 8, 16)))


def _explained(lead: str, result: Union[LayerGeometry, str], layer: Layer) -> str:
    body = explain(result) if isinstance(result, LayerGeometry) else result
    return f"{lead}\n{body}\nCheck it: {layer.command()}"


def _output_question(rng: random.Random, framework: str, difficulty: str, layer: Layer, result: LayerGeometry,
                     prefix: str = "") -> Draft:
    c_in, c_out = channels(rng, difficulty)
    words = spelling(framework)
    question = (f"{prefix}{words.sentence(layer, c_in, c_out)} What is the spatial size {axes_phrase(layer.ndim)} "
                "of the output?")
    answer = sizes_answer(result.output)
    return Draft(question, layer.params(), answer, _explained(f"The output is {answer}.", result, layer))


# ----- output size ------------------------------------------------------------------------
FORMS = {
    "easy": ("int", "int", "int", "same", "valid"),
    "medium": ("int", "int", "same", "valid"),
    "hard": ("int", "int", "same", "valid", "same_lower", "pairs"),
}


def output_size(rng: random.Random, framework: str, difficulty: str) -> Draft:
    """Output size of a convolution or a pool (floor mode) as the framework computes it."""
    level = LEVELS[difficulty]
    ops = ("conv", "conv", "conv", "max_pool", "avg_pool")
    layer, result = draw(rng, lambda r: draws.layer(r, level, framework, r.choice(ops), FORMS[difficulty]))
    return _output_question(rng, framework, difficulty, layer, result)


# ----- 'same' padding ---------------------------------------------------------------------
def same_padding(rng: random.Random, framework: str, difficulty: str) -> Draft:
    """The padding that keeps the size (seed 001's last question), or how 'same' splits its
    padding before and after the input."""
    level = LEVELS[difficulty]
    if difficulty != "hard" and rng.random() < 0.4:
        draft = _keep_size(rng, framework, difficulty, level)
        if draft is not None:
            return draft
    return _same_split(rng, framework, difficulty, level)


def _keep_size(rng: random.Random, framework: str, difficulty: str, level: Level) -> Optional[Draft]:
    """"Which padding keeps the output as large as the input?" at stride 1, for a kernel where
    exactly one symmetric padding does it (tried with the engine); None when the framework
    takes no integer padding (every try refused)."""
    for _ in range(30):
        layer = draws.layer(rng, level, framework, "conv", ("int",))
        layer = replace(layer, stride=(1,) * layer.ndim)
        if max(layer.kernel) < 3:
            continue
        working = []
        for p in range(0, max(layer.kernel) * max(layer.dilation) + 1):
            outcome = replace(layer, padding=(p,) * layer.ndim).outcome()
            if isinstance(outcome, LayerGeometry) and outcome.output == layer.input:
                working.append((p, outcome))
        if len(working) == 1:
            p, result = working[0]
            c_in, c_out = channels(rng, difficulty)
            sentence = spelling(framework).sentence(layer, c_in, c_out, hide="padding")
            question = (f"{sentence} The output must keep the input's spatial size {sizes_answer(layer.input)}. "
                        "Which padding value goes in place of every `?`")
            params = {k: v for k, v in layer.params().items() if k != "padding"}
            params["output"] = cli_sizes(layer.input)
            solved = replace(layer, padding=(p,) * layer.ndim)
            return Draft(question, params, str(p),
                         _explained(f"Padding {p} on every side keeps the size {sizes_answer(layer.input)}.",
                                    result, solved))
    return None


def _same_split(rng: random.Random, framework: str, difficulty: str, level: Level) -> Draft:
    ops = ("conv",) if difficulty == "easy" else ("conv", "conv", "max_pool", "avg_pool")
    modes = ("same", "same", "same_lower") if difficulty == "hard" else ("same",)

    def asymmetric(layer: Layer, r: LayerGeometry) -> bool:
        # ONNX Runtime's auto_pad for a kernel smaller than the stride "pads" a negative cell
        # that no output shows: not a question with an answer a learner can see
        if min(min(pair) for pair in r.pad) < 0:
            return False
        return difficulty != "hard" or any(b != a for b, a in r.pad)

    layer, result = draw(rng, lambda r: draws.layer(r, level, framework, r.choice(ops), modes), asymmetric)
    c_in, c_out = channels(rng, difficulty)
    words = spelling(framework)
    example = ",".join(["1:1"] * (layer.ndim - 1) + ["0:1"])
    per_axis = "before:after" if layer.ndim == 1 else f"before:after for each axis, comma-separated (e.g. {example})"
    question = (f"{words.sentence(layer, c_in, c_out)} How many padding cells does {words.label} add before and "
                f"after the input on each spatial axis {axes_phrase(layer.ndim)}? Answer as {per_axis}.")
    answer = pads_answer(result.pad)
    return Draft(question, layer.params(), answer,
                 _explained(f"The padding is {answer} (before:after per axis).", result, layer))


# ----- which configuration maps A to B ----------------------------------------------------
def mapping(rng: random.Random, framework: str, difficulty: str) -> Draft:
    """Four layers, exactly one of which (by the engine) maps the input size to the target."""
    level = LEVELS[difficulty]
    ndim = 1 if difficulty == "easy" else 2
    ops = ("conv", "conv", "max_pool", "avg_pool") if difficulty == "hard" else ("conv",)
    forms = FORMS[difficulty]
    correct, result = draw(rng, lambda r: draws.layer(r, level, framework, r.choice(ops), forms, ndim=ndim))
    words = spelling(framework)
    c_in, c_out = channels(rng, difficulty)
    options = [(correct, result)]
    texts = {words.option(correct, c_in, c_out)}
    for _ in range(draws.MAX_DRAWS):
        if len(options) == len(LETTERS):
            break
        candidate = _perturbed(rng, correct, level, ops, forms)
        outcome = candidate.outcome()
        text = words.option(candidate, c_in, c_out)
        if (isinstance(outcome, LayerGeometry) and min(outcome.output) >= 1 and outcome.output != result.output
                and text not in texts):
            options.append((candidate, outcome))
            texts.add(text)
    if len(options) < len(LETTERS):
        raise RuntimeError("no distractors found (a bug in the quiz generator)")
    rng.shuffle(options)
    letter = LETTERS[options.index((correct, result))]
    target = sizes_answer(result.output)
    shape = words.input_shape(correct.input, c_in)
    question = (f"In {words.label}, an input of shape {shape}{' (channels last)' if words.channels_last else ''} "
                f"must come out with spatial size {target}. Which of these layers does that?")
    params = {"input": cli_sizes(correct.input), "output": cli_sizes(result.output), "framework": framework}
    for option_letter, (option, _) in zip(LETTERS, options):
        params.update({k: v for k, v in option.params(f"{option_letter}.").items()
                       if k not in (f"{option_letter}.input", f"{option_letter}.framework")})
    others = "; ".join(f"{x} gives {sizes_answer(r.output)}" for x, (_, r) in zip(LETTERS, options) if x != letter)
    explanation = _explained(f"{letter} gives {target} ({others}).", result, correct)
    return Draft(question, params, letter, explanation,
                 tuple(words.option(option, c_in, c_out) for option, _ in options))


def _perturbed(rng: random.Random, layer: Layer, level: Level, ops: Sequence[str], forms: Sequence[str]) -> Layer:
    """A near miss: the layer with one or two parameters nudged (the classic mistakes: one more
    or less padding, another stride or kernel, 'valid' for 'same', pooling for convolution)."""
    out = layer
    nd = layer.ndim
    for _ in range(rng.choice((1, 1, 2))):
        what = rng.choice(("kernel", "stride", "padding", "padding", "op", "fresh"))
        if what == "kernel":
            out = replace(out, kernel=tuple(max(1, k + rng.choice((-2, -1, 1, 2))) for k in out.kernel))
        elif what == "stride":
            out = replace(out, stride=tuple(max(1, s + rng.choice((-1, 1))) for s in out.stride))
        elif what == "padding" and isinstance(out.padding, str):
            out = replace(out, padding=rng.choice([f for f in ("same", "valid") if f != out.padding] + ["int"]))
            if out.padding == "int":
                out = replace(out, padding=draws.padding(rng, level, nd, "int"))
        elif what == "padding" and not draws.is_pairs(out.padding):
            out = replace(out, padding=tuple(max(0, p + rng.choice((-1, 1))) for p in draws.symmetric_pads(out.padding)))
        elif what == "op" and len(set(ops)) > 1:
            out = replace(out, op=rng.choice([o for o in ops if o != out.op]))
            if out.op == "avg_pool":
                out = replace(out, dilation=(1,) * nd)
        elif what == "fresh":
            out = draws.layer(rng, level, layer.framework, rng.choice(ops), forms, sizes=layer.input)
    return out


# ----- receptive field --------------------------------------------------------------------
RF_QUESTIONS = {
    "size": "How many input cells wide, along each spatial axis, is the receptive field of one unit of the "
            "last output?",
    "jump": "How many input cells apart are the receptive fields of two neighbouring units of the last output "
            "(the effective stride, or jump)?",
    "start": "At which input index does the receptive field of output unit 0 start, along each spatial axis "
             "(a negative index lies in the padding)?",
}


def receptive_field(rng: random.Random, framework: str, difficulty: str) -> Draft:
    """Receptive field of a small stack, composed from each layer's engine step (Araujo et al.)."""
    level = replace(LEVELS[difficulty], square=True, uniform=True)
    depth = {"easy": 2, "medium": 3, "hard": rng.choice((3, 4))}[difficulty]
    ndim = 1 if difficulty == "easy" and rng.random() < 0.5 else 2
    stack, results = _stack(rng, level, framework, depth, ndim)
    what = {"easy": "size", "medium": rng.choice(("size", "size", "jump")),
            "hard": rng.choice(("size", "jump", "start"))}[difficulty]
    fields = [_compose(results, axis) for axis in range(ndim)]
    values = [{"size": chain[-1].size, "jump": chain[-1].stride, "start": chain[-1].start(0)}[what]
              for chain in fields]
    answer = sizes_answer(values) if len(set(values)) > 1 else str(values[0])
    words = spelling(framework)
    c_in, c_out = channels(rng, difficulty)
    chans = [c_in] + [c_out if x.op in ("conv", "conv_transpose") else 0 for x in stack]
    for i in range(1, len(chans)):  # pooling keeps the channel count
        chans[i] = chans[i] or chans[i - 1]
    shape = words.input_shape(stack[0].input, c_in)
    question = (f"In {words.label}, an input of shape {shape}{' (channels last)' if words.channels_last else ''} "
                f"goes through {words.stack(stack, chans)}. {RF_QUESTIONS[what]}")
    params = {"input": cli_sizes(stack[0].input), "framework": framework}
    for i, x in enumerate(stack, 1):
        params.update({k: v for k, v in x.params(f"layer{i}.").items() if k != f"layer{i}.framework"})
    return Draft(question, params, answer, _rf_explanation(stack, results, fields[0], what, answer))


def _stack(rng: random.Random, level: Level, framework: str, depth: int,
           ndim: int) -> tuple[list[Layer], list[LayerGeometry]]:
    """``depth`` layers, each taken by the engine on the previous one's output; the first is a
    convolution."""
    forms = ("int", "int", "same", "valid")
    for _ in range(draws.MAX_DRAWS):
        sizes = (rng.randint(24, 96),) * ndim
        stack: list[Layer] = []
        results: list[LayerGeometry] = []
        for i in range(depth):
            op = "conv" if i == 0 else rng.choice(("conv", "conv", "max_pool", "avg_pool"))
            layer = draws.layer(rng, level, framework, op, forms, sizes=sizes)
            outcome = layer.outcome()
            if not isinstance(outcome, LayerGeometry) or min(outcome.output) < 1:
                break
            stack.append(layer)
            results.append(outcome)
            sizes = outcome.output
        if len(stack) == depth and any(s > 1 for r in results for s in r.stride):
            return stack, results
    raise RuntimeError("no layer stack found (a bug in the quiz generator)")


def _compose(results: Sequence[LayerGeometry], axis: int) -> list[ReceptiveField]:
    """The receptive field after each layer on ``axis`` (the input's own first)."""
    chain = [ReceptiveField()]
    for r in results:
        chain.append(chain[-1].then(r.rf_steps[axis]))
    return chain


def _rf_explanation(stack: Sequence[Layer], results: Sequence[LayerGeometry], chain: Sequence[ReceptiveField],
                    what: str, answer: str) -> str:
    lines = [f"The answer is {answer}: the receptive field's {what} after the last layer.",
             "Each layer's step (kernel k, stride s, padding p on its own input) updates the receptive field "
             "(Araujo et al., Distill 2019): size r' = r + (k-1)*S, jump S' = S*s, padding P' = P + p*S; "
             "output unit 0 starts at input index -P.",
             f"  input: {chain[0]}"]
    for i, (layer, r) in enumerate(zip(stack, results), 1):
        lines.append(f"  layer {i} ({layer.op}, {sizes_answer(r.input)} -> {sizes_answer(r.output)}): "
                     f"step {r.rf_steps[0]} -> {chain[i]}")
    lines.append(f"Check a layer: {stack[0].command()}")
    return "\n".join(lines)


# ----- transposed convolution -------------------------------------------------------------
def transpose(rng: random.Random, framework: str, difficulty: str) -> Draft:
    """Output size of a transposed convolution, or the output_padding that restores a size."""
    level = LEVELS[difficulty]
    if difficulty != "easy" and rng.random() < 0.5:
        draft = _restore(rng, framework, difficulty, level)
        if draft is not None:
            return draft
    forms = ("int", "int", "same", "valid") + (("pairs",) if difficulty == "hard" else ())

    def make(r: random.Random) -> Layer:
        layer = draws.layer(r, level, framework, "conv_transpose", forms, dilate=False)
        if r.random() < 0.5:
            layer = replace(layer, output_padding=tuple(r.randrange(s) for s in layer.stride))
        return layer

    layer, result = draw(rng, make)
    return _output_question(rng, framework, difficulty, layer, result)


def _restore(rng: random.Random, framework: str, difficulty: str, level: Level) -> Optional[Draft]:
    """A strided convolution maps n to o; which output_padding makes the transposed convolution
    with the same kernel, stride and padding map o back to n? Exactly one value works (every
    candidate tried with the engine); None when the framework has no output_padding."""
    level = replace(level, square=True, uniform=True)
    for _ in range(30):
        forward, down = draw(rng, lambda r: draws.layer(r, level, framework, "conv", ("int", "same", "valid"),
                                                        dilate=False),
                             lambda x, r: max(x.stride) > 1)
        back = Layer("conv_transpose", framework, down.output, forward.kernel, forward.stride, forward.padding,
                     forward.dilation)
        working, others = [], 0
        for v in range(max(forward.stride) + 1):
            outcome = replace(back, output_padding=(v,) * back.ndim).outcome()
            if isinstance(outcome, LayerGeometry) and outcome.output == forward.input:
                working.append((v, outcome))
            elif isinstance(outcome, LayerGeometry):
                others += 1
        if len(working) != 1 or not others:
            continue  # no other value is taken: the framework has no output_padding to choose
        v, result = working[0]
        words = spelling(framework)
        c_in, c_out = channels(rng, difficulty)
        question = (f"{words.sentence(forward, c_in, c_out)} It gives spatial size {sizes_answer(down.output)}. "
                    f"A decoder maps that back with `{words.code(back, c_out, c_in, hide='output_padding')}`, "
                    f"which must output {sizes_answer(forward.input)} again. Which output_padding goes in place of "
                    "every `?`")
        params = back.params()
        params["output"] = cli_sizes(forward.input)
        params.update({k: v for k, v in forward.params("forward.").items() if k != "forward.framework"})
        solved = replace(back, output_padding=(v,) * back.ndim)
        return Draft(question, params, str(v),
                     _explained(f"output_padding {v} restores {sizes_answer(forward.input)}.", result, solved))
    return None


# ----- pooling with ceil mode -------------------------------------------------------------
def pool_ceil(rng: random.Random, framework: str, difficulty: str) -> Draft:
    """Output size of a ceil-mode pool (PyTorch's rule: the last window must start inside the
    input or the left padding). A framework without ceil_mode (the engine refuses it) rounds up
    with 'same' padding instead: the question asks that."""
    level = LEVELS[difficulty]
    refusal = _ceil_refusal(framework)
    if refusal is not None:
        return _same_pool(rng, framework, difficulty, level, refusal)
    forms = ("int",) if difficulty != "hard" else ("int", "int", "pairs")
    ndim = 1 if difficulty == "easy" else None
    want_dropped = difficulty == "hard" and rng.random() < 0.5

    def make(r: random.Random) -> Layer:
        return replace(draws.layer(r, level, framework, r.choice(("max_pool", "avg_pool")), forms, ndim=ndim),
                       ceil_mode=True)

    def rounds_up(layer: Layer, r: LayerGeometry) -> bool:
        floor = replace(layer, ceil_mode=False).outcome()
        if not isinstance(floor, LayerGeometry) or max(layer.stride) == 1:
            return False
        # the start-in-padding rule drops the extra window: floor leaves cells over, ceil adds none
        dropped = any(f.remainder > 0 and c.output == f.output for f, c in zip(floor.axes, r.axes))
        if want_dropped:
            return dropped
        return difficulty == "easy" or floor.output != r.output

    layer, result = draw(rng, make, rounds_up)
    return _output_question(rng, framework, difficulty, layer, result)


def _ceil_refusal(framework: str) -> Optional[GeometryError]:
    """The engine's refusal of ceil_mode in ``framework``, or None when it has ceil mode: a
    pool the framework takes without ceil_mode is asked again with it."""
    refusal = None
    for padding in (0, "valid"):
        try:
            max_pool((8,), (2,), (2,), padding, framework=framework)
        except GeometryError:
            continue  # the framework does not take this padding: no evidence either way
        try:
            max_pool((8,), (2,), (2,), padding, ceil_mode=True, framework=framework)
            return None
        except GeometryError as err:
            refusal = err
    return refusal


def _same_pool(rng: random.Random, framework: str, difficulty: str, level: Level, refusal: GeometryError) -> Draft:
    ndim = 1 if difficulty == "easy" else None

    def rounds_up(layer: Layer, r: LayerGeometry) -> bool:
        valid = replace(layer, padding="valid").outcome()
        return max(layer.stride) > 1 and isinstance(valid, LayerGeometry) and valid.output != r.output

    layer, result = draw(rng, lambda r: draws.layer(r, level, framework, r.choice(("max_pool", "avg_pool")),
                                                    ("same",), ndim=ndim), rounds_up)
    label = spelling(framework).label
    return _output_question(rng, framework, difficulty, layer, result,
                            prefix=f"{label} pooling has no ceil_mode ({refusal.fix}). ")


# ----- does this raise? -------------------------------------------------------------------
Stressor = Callable[[random.Random, Layer], Optional[Layer]]


def _tiny_input(rng: random.Random, x: Layer) -> Optional[Layer]:
    """An input about as large as the window, with no padding: one cell short, or just enough."""
    e = [effective_kernel(k, d) for k, d in zip(x.kernel, x.dilation)]
    if max(e) < 3:
        return None
    pad = "valid" if isinstance(x.padding, str) else (0,) * x.ndim
    return replace(x, padding=pad, input=tuple(max(1, v - rng.choice((0, 1, 1, 2))) for v in e))


def _pool_padding(rng: random.Random, x: Layer) -> Optional[Layer]:
    """Pool padding around half the kernel (PyTorch's limit) or the kernel (ONNX's)."""
    return replace(x, padding=tuple(max(0, k // 2 + rng.choice((0, 1, 1, 2))) for k in x.kernel))


def _output_padding(rng: random.Random, x: Layer) -> Optional[Layer]:
    """output_padding one below the stride, or equal to it."""
    return replace(x, output_padding=tuple(s - rng.choice((0, 1)) for s in x.stride))


def _negative(rng: random.Random, x: Layer) -> Optional[Layer]:
    return replace(x, padding=tuple((-rng.choice((0, 1)), -1) for _ in x.input))


def _swap_padding(rng: random.Random, x: Layer) -> Optional[Layer]:
    """PyTorch-style integer padding where the layer had a mode, or 'same' where it had ints
    (never for a transposed convolution with a mode: lax reads integer pads its own way)."""
    if isinstance(x.padding, str):
        return None if x.op == "conv_transpose" else replace(x, padding=tuple(k // 2 for k in x.kernel))
    return replace(x, padding="same")


def _transposed_crop(rng: random.Random, x: Layer) -> Optional[Layer]:
    """A transposed convolution cropping about as much as it produces: one or two cells left,
    or one or two too many cropped. Never exactly nothing left: PyTorch's 2-D and 3-D CPU
    kernels then return an empty axis or raise depending on the path they take."""
    if isinstance(x.padding, str):
        return None
    small = replace(x, input=(rng.randint(1, 2),) * x.ndim, output_padding=None)
    full = [transposed_full_output(n, s, k) for n, s, k in zip(small.input, small.stride, small.kernel)]
    # symmetric crops of p leave full - 2p cells: +-1 for an odd full size, +-2 for an even one
    crops = [f // 2 + (rng.choice((-1, 1)) if f % 2 == 0 else rng.choice((0, 1))) for f in full]
    return replace(small, padding=tuple(crops))


STRESSORS: tuple[tuple[tuple[str, ...], Stressor], ...] = (
    (("conv", "max_pool", "avg_pool"), _tiny_input),
    (("conv",), lambda r, x: replace(x, padding="same", stride=(r.choice((1, 2, 2)),) * x.ndim)),
    (("conv",), lambda r, x: replace(x, stride=(2,) * x.ndim, dilation=(2,) * x.ndim)),
    (("conv",), lambda r, x: replace(x, padding="same", stride=(1,) * x.ndim, kernel=(r.choice((2, 4)),) * x.ndim)),
    (("conv",), lambda r, x: replace(x, padding=r.choice(("same", "same_lower")), stride=(1,) * x.ndim,
                                     dilation=(2,) * x.ndim)),
    (("conv",), lambda r, x: replace(x, padding="causal")),
    (("conv",), _negative),
    (("max_pool", "avg_pool"), _pool_padding),
    (("max_pool", "avg_pool"), lambda r, x: replace(x, ceil_mode=True)),
    (("conv", "max_pool", "conv_transpose"), _swap_padding),
    (("conv_transpose",), _output_padding),
    (("conv_transpose",), _transposed_crop),
)


def raises(rng: random.Random, framework: str, difficulty: str) -> Draft:
    """A layer the framework accepts, changed in one way that often breaks it; the engine says
    whether it raises (half of the exercises do) and which rule refuses it."""
    level = LEVELS[difficulty]
    want_error = rng.random() < 0.5
    forms = ("int", "int", "same", "valid")
    for _ in range(draws.MAX_DRAWS):
        ops, stress = rng.choice(STRESSORS)
        op = rng.choice(ops)
        base, _ = draw(rng, _maker(level, framework, op, forms))
        layer = stress(rng, base)
        if layer is None or layer == base:
            continue
        outcome = layer.outcome()
        if isinstance(outcome, GeometryError) != want_error:
            continue
        if isinstance(outcome, LayerGeometry) and layer.op != "conv" and min(outcome.output) < 1:
            continue  # an empty pooled axis: TensorFlow's oneDNN kernels crash instead
        return _raises_draft(rng, framework, difficulty, layer, outcome)
    raise RuntimeError("no 'does this raise' exercise found (a bug in the quiz generator)")


def _maker(level: Level, framework: str, op: str, forms: Sequence[str]) -> Callable[[random.Random], Layer]:
    """Draws ``op`` layers (no dilation for a transposed convolution: TensorFlow's reference
    kernels refuse it where oneDNN takes it, so whether it raises depends on the build)."""
    return lambda r: draws.layer(r, level, framework, op, forms, dilate=op != "conv_transpose")


def _raises_draft(rng: random.Random, framework: str, difficulty: str, layer: Layer,
                  outcome: Union[LayerGeometry, GeometryError]) -> Draft:
    c_in, c_out = channels(rng, difficulty)
    question = (f"{spelling(framework).sentence(layer, c_in, c_out)} Does this raise an error? "
                "If it does, which rule refuses it?")
    if isinstance(outcome, GeometryError):
        answer = f"yes: {outcome.rule or outcome.problem}"
        lead = f"Yes, it raises: {outcome.problem}."
        body = layer.explanation()
    else:
        answer = f"no: output {sizes_answer(outcome.output)}"
        lead = f"No, it runs: the output is {sizes_answer(outcome.output)}."
        body = explain(outcome)
    return Draft(question, layer.params(), answer, _explained(lead, body, layer))


GENERATORS: dict[str, Callable[[random.Random, str, str], Draft]] = {
    "output_size": output_size,
    "same_padding": same_padding,
    "mapping": mapping,
    "receptive_field": receptive_field,
    "transpose": transpose,
    "pool_ceil": pool_ceil,
    "raises": raises,
}
