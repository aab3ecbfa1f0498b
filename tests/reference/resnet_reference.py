#!/usr/bin/python3
"""Reference data for the built-in ResNet + ClassificationHead
(tests/core/test_classification.c), from torchvision (python3-torchvision):

    /usr/bin/python3 tests/reference/resnet_reference.py

writes tests/fixtures/resnet_reference.json with
  - "state_dicts": for resnet18/34/50 with 10 classes, every state_dict entry
    (name, shape) in order; torchvision's "fc.*" is the ClassificationHead's
    "head.3.*" in ltrain, everything else the backbone's;
  - "logits": a fixed input batch and the eval-mode logits of
    torchvision's resnet18(num_classes=5), random-initialised with a fixed
    seed (no download; batch-norm affine and running statistics drawn too,
    so they matter), whose weights are written as safetensors:
      tests/fixtures/resnet18_torchvision.safetensors  torchvision's whole
          state_dict under its own names (conv1.weight, ..., fc.weight);
      tests/fixtures/resnet18_head.safetensors  "fc.*" renamed to the
          ClassificationHead's own names "head.3.*".
    The C test builds ResNet-18 + ClassificationHead from a config and loads
    these files only through the node `weights` param and --weights.
    Every float is rounded to 8 significant bits on a per-tensor grid (a
    power-of-two step) so the committed 45 MB file compresses about 3x in
    git; torch computes the logits from the same rounded values.
Not a cases_*.py module: gen_fixtures.py runs only those.
"""
import json
import math
import os

import torch
import torchvision

from make_safetensors import save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
OUT = os.path.join(FIXTURES, "resnet_reference.json")

N_CLASSES = 5
INPUT_SHAPE = (2, 3, 32, 32)


def on_grid(t):
    """t rounded to a per-tensor grid of step 2^k with |values| <= 127 steps."""
    peak = t.abs().max().item()
    if peak == 0:
        return t
    step = 2.0 ** math.ceil(math.log2(peak / 127))
    return torch.round(t / step) * step


def torchvision_case():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=N_CLASSES)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(7)
                continue
            if name.endswith("running_var") or (name.endswith("weight") and t.dim() == 1):
                t.uniform_(0.5, 1.5)
            elif name.endswith("running_mean") or (name.endswith("bias") and not name.startswith("fc.")):
                t.uniform_(-0.2, 0.2)
            t.copy_(on_grid(t))
        model.eval()
        x = on_grid(torch.rand(INPUT_SHAPE) * 2 - 1)
        out = model(x)
    sd = model.state_dict()
    source = {"source": "tests/reference/resnet_reference.py", "torchvision": torchvision.__version__}
    save_safetensors(os.path.join(FIXTURES, "resnet18_torchvision.safetensors"), sd, dict(source, format="pt"))
    head = {"head.3.weight": sd["fc.weight"], "head.3.bias": sd["fc.bias"]}
    save_safetensors(os.path.join(FIXTURES, "resnet18_head.safetensors"), head, dict(source, format="pt"))
    return {"n_classes": N_CLASSES, "input_shape": list(INPUT_SHAPE), "input": x.reshape(-1).tolist(),
            "logits": out.reshape(-1).tolist()}


def state_dicts():
    out = {}
    for variant in ("18", "34", "50"):
        model = getattr(torchvision.models, "resnet" + variant)(num_classes=10)
        out[variant] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    return out


def main():
    torch.set_num_threads(1)
    data = {"generator": "tests/reference/resnet_reference.py", "torch": torch.__version__,
            "torchvision": torchvision.__version__, "state_dicts": state_dicts(), "logits": torchvision_case()}
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("resnet_reference -> %s" % os.path.relpath(OUT))


if __name__ == "__main__":
    main()
