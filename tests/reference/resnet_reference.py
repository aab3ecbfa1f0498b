#!/usr/bin/python3
"""Reference data for the built-in ResNet + ClassificationHead
(tests/core/test_classification.c), from torchvision (python3-torchvision):

    /usr/bin/python3 tests/reference/resnet_reference.py

writes tests/fixtures/resnet_reference.json with
  - "state_dicts": for resnet18/34/50 with 10 classes, every state_dict entry
    (name, shape) in order; torchvision's "fc.*" is the ClassificationHead's
    "head.3.*" in ltrain, everything else the backbone's;
  - "logits": resnet18(num_classes=5) in eval mode with every weight set by
    value() below from the entry's index and the element's index, run on the
    input given by input_value(); the C test sets the same values through
    the parameter store and compares the logits (no weight file committed).
Not a cases_*.py module: gen_fixtures.py runs only those.
"""
import json
import math
import os

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "fixtures", "resnet_reference.json")

N_CLASSES = 5
INPUT_SHAPE = (2, 3, 32, 32)


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


def logits_case():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=N_CLASSES).eval()
    set_formula_weights(model)
    with torch.no_grad():
        out = model(formula_input(INPUT_SHAPE))
    return {"n_classes": N_CLASSES, "input_shape": list(INPUT_SHAPE), "logits": out.reshape(-1).tolist()}


def state_dicts():
    out = {}
    for variant in ("18", "34", "50"):
        model = getattr(torchvision.models, "resnet" + variant)(num_classes=10)
        out[variant] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    return out


def main():
    torch.set_num_threads(1)
    data = {"generator": "tests/reference/resnet_reference.py", "torch": torch.__version__,
            "torchvision": torchvision.__version__, "state_dicts": state_dicts(), "logits": logits_case()}
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("resnet_reference -> %s" % os.path.relpath(OUT))


if __name__ == "__main__":
    main()
