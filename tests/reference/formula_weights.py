"""Deterministic "formula" weights and inputs for reference scripts: every
state_dict entry (but num_batches_tracked) set from its index and the
element's index, so a C test can set the same values through the parameter
store (tests/support/fixture.c: fx_formula_weights, fx_formula_input)
without a weight file. Used by bench_models_reference.py."""
import math

import torch


def wave(p, j):
    """Deterministic pseudo-random value in [-1, 1] for entry p, element j."""
    return math.sin(1.0 + 0.618 * j + 1.3 * p)


def value(name, p, j, shape):
    """Weights keeping activations of order one through the network (eval mode)."""
    w = wave(p, j)
    if name.endswith("running_var"):
        return 1.0 + 0.25 * (w + 1.0)
    if name.endswith("running_mean") or name.endswith("bias"):
        return 0.1 * w
    if len(shape) == 1:  # batch norm weight
        return 1.0 + 0.1 * w
    fan_in = 1
    for d in shape[1:]:
        fan_in *= d
    return w * 2.0 / math.sqrt(fan_in)  # sin has variance 1/2: He-like 2 / fan_in


def input_value(i):
    return math.sin(0.37 * i) + 0.5 * math.cos(0.11 * i)


def entries(model):
    """state_dict entries without num_batches_tracked (int64 counters)."""
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def set_formula_weights(model):
    """Every state_dict entry but num_batches_tracked set by value()."""
    with torch.no_grad():
        for p, (name, t) in enumerate(entries(model)):
            flat = torch.tensor([value(name, p, j, list(t.shape)) for j in range(t.numel())], dtype=torch.float64)
            t.copy_(flat.reshape(t.shape).to(t.dtype))


def formula_input(shape):
    n = math.prod(shape)
    return torch.tensor([input_value(i) for i in range(n)], dtype=torch.float64).float().reshape(shape)

