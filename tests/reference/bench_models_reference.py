#!/usr/bin/python3
"""Reference data for the benchmark model plugins SmallCNN, MLP and UNet
(plugins/examples/{small_cnn,mlp,unet}.c, tested by tests/core/test_bench_models.c),
from PyTorch 1.13 modules written exactly as shared/bench/torch_train_bench.py
builds them:

    /usr/bin/python3 tests/reference/bench_models_reference.py

writes tests/fixtures/bench_models.json with, per model,
  - "state_dict": every entry (name, shape) in order at the benchmark's size
    (SmallCNN 1x28x28 and MLP 784-512-512 with 10 classes, UNet 3 classes);
  - "case": a small model (see CASES) whose weights are set by
    formula_weights.set_formula_weights() and input by formula_weights.formula_input(),
    run in training mode (batch statistics) with CrossEntropyLoss on the
    class formula of target_class() and backward: the logits and the loss
    in full; per parameter the gradient's sum, its absolute sum and
    GRAD_SAMPLES evenly spaced elements, and the batch norms' running
    statistics after the step (samples likewise);
and "workload_fwd_flops": for each workload of configs/benchmarks/, the forward FLOPs of one image
counted as torch_train_bench.py counts them (benchmark_flops.fwd_flops: 2*MACs of every Conv2d /
ConvTranspose2d / Linear from the real shapes), which `ltrain benchmark --json` must report (tests/benchmark_flops.py).
Not a cases_*.py module: gen_fixtures.py runs only those.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torchvision

from benchmark_flops import fwd_flops
from formula_weights import formula_input, set_formula_weights

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "fixtures", "bench_models.json")
GRAD_SAMPLES = 16


def small_cnn(c, h, w, classes):
    return nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), classes))


def mlp(c, h, w, classes, hidden=512):
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, classes))


def dc(a, b):
    return nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(),
                         nn.Conv2d(b, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU())


class UNet(nn.Module):
    def __init__(self, c, classes):
        super().__init__()
        self.e1, self.e2, self.e3, self.e4 = dc(c, 16), dc(16, 32), dc(32, 64), dc(64, 128)
        self.pool = nn.MaxPool2d(2)
        self.u3, self.u2, self.u1 = (nn.ConvTranspose2d(a, a // 2, 2, stride=2) for a in (128, 64, 32))
        self.d3, self.d2, self.d1 = dc(128, 64), dc(64, 32), dc(32, 16)
        self.out = nn.Conv2d(16, classes, 1)

    def forward(self, x):
        e1 = self.e1(x); e2 = self.e2(self.pool(e1)); e3 = self.e3(self.pool(e2)); e4 = self.e4(self.pool(e3))
        d3 = self.d3(torch.cat([self.u3(e4), e3], 1))
        d2 = self.d2(torch.cat([self.u2(d3), e2], 1))
        d1 = self.d1(torch.cat([self.u1(d2), e1], 1))
        return self.out(d1)


# name: (builder of the benchmark-size model, case input shape, case classes, builder of the case model, params)
MODELS = {
    "SmallCNN": (lambda: small_cnn(1, 28, 28, 10), (2, 1, 8, 8), 3, lambda: small_cnn(1, 8, 8, 3), {}),
    "MLP": (lambda: mlp(1, 28, 28, 10), (3, 1, 6, 6), 4, lambda: mlp(1, 6, 6, 4, hidden=16), {"hidden": 16}),
    "UNet": (lambda: UNet(3, 3), (2, 3, 16, 16), 3, lambda: UNet(3, 3), {}),
}


# workload of configs/benchmarks/: (model, input CHW), as torch_train_bench.py's WORKLOADS
WORKLOADS = {
    "resnet18-cls-64": (lambda: torchvision.models.resnet18(num_classes=10), (3, 64, 64)),
    "resnet18-cls-224": (lambda: torchvision.models.resnet18(num_classes=10), (3, 224, 224)),
    "small-cnn-mnist": (lambda: small_cnn(1, 28, 28, 10), (1, 28, 28)),
    "unet-seg": (lambda: UNet(3, 3), (3, 128, 128)),
    "mlp": (lambda: mlp(1, 28, 28, 10), (1, 28, 28)),
}


def target_class(i, classes):
    """Class of sample (or pixel) i, i in row-major order of [B] or [B,H,W]."""
    return (3 * i + i // 5 + 1) % classes


def samples(t):
    flat = t.reshape(-1)
    n = flat.numel()
    idx = sorted({(k * (n - 1)) // (GRAD_SAMPLES - 1) for k in range(GRAD_SAMPLES)}) if n > 1 else [0]
    return {"index": idx, "value": [flat[i].item() for i in idx]}


def case(build, shape, classes, params):
    model = build().train()
    set_formula_weights(model)
    logits = model(formula_input(shape))
    target_shape = (shape[0],) if logits.dim() == 2 else (shape[0], *logits.shape[2:])
    y = torch.tensor([target_class(i, classes) for i in range(math.prod(target_shape))]).reshape(target_shape)
    loss = nn.CrossEntropyLoss()(logits, y)
    loss.backward()
    grads = {}
    for name, t in model.named_parameters():
        g = t.grad
        grads[name] = {"sum": g.sum().item(), "abs_sum": g.abs().sum().item(), **samples(g)}
    stats = {k: samples(v) for k, v in model.state_dict().items() if "running_" in k}
    return {"input_shape": list(shape), "n_classes": classes, "params": params,
            "logits_shape": list(logits.shape), "logits": logits.detach().reshape(-1).tolist(),
            "loss": loss.item(), "grads": grads, "running_stats": stats}


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = {"generator": "tests/reference/bench_models_reference.py", "torch": torch.__version__, "models": {}}
    for name, (full, shape, classes, small, params) in MODELS.items():
        data["models"][name] = {
            "state_dict": [[k, list(v.shape)] for k, v in full().state_dict().items()],
            "case": case(small, shape, classes, params),
        }
    data["workload_fwd_flops"] = {name: fwd_flops(build(), chw) for name, (build, chw) in WORKLOADS.items()}
    with open(OUT, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("bench_models_reference -> %s" % os.path.relpath(OUT))


if __name__ == "__main__":
    main()
