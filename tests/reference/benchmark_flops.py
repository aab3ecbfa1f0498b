#!/usr/bin/python3
"""Forward FLOPs per image of the models `ltrain benchmark` is tested on
(tests/core/test_benchmark.c), counted the way
../shared/bench/torch_train_bench.py counts them: 2 x multiply-adds of
every Conv2d / ConvTranspose2d / Linear, from the shapes of a real forward
(torch forward hooks), bias ignored.

    /usr/bin/python3 tests/reference/benchmark_flops.py

writes tests/fixtures/benchmark_flops.json:
  {"cases": [{"name", "config", "overrides": [KEY, VALUE, ...], "input": [C, H, W],
              "fwd_flop_per_img": int}, ...]}
config is relative to the source root: configs/demo.yaml (ClassificationModel
light = torchvision's resnet18 with a 4-class head on the demo's generated
data) or tests/core/benchmark_segmentation.yaml (resnet18's features + the
example CustomSegmentationHead: four UpBlocks and a 1x1 conv, 3 classes).
Not a cases_*.py module: gen_fixtures.py runs only those.
"""
import json
import os

import torch
import torch.nn as nn
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "fixtures", "benchmark_flops.json")

N_CLASSES = 4  # configs/demo.yaml: loader.params.n_classes


def fwd_flops(model, chw):
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += 2 * out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            total[0] += 2 * inp[0].numel() * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total[0] += 2 * out.numel() * m.in_features

    hooks = [m.register_forward_hook(hook) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *chw))
    for h in hooks:
        h.remove()
    return total[0]


def resnet18(channels):
    m = torchvision.models.resnet18(num_classes=N_CLASSES)
    if channels != 3:
        m.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return m


def segmentation_model(n_classes):
    """resnet18 up to layer4, then luxonis-train's UpBlocks (ConvTranspose2d k2 s2, Conv3x3 no bias + BN +
    ReLU) to 256, 128, 64, 32 channels and a 1x1 conv to the classes (the bilinear resize has no FLOPs)."""
    r = torchvision.models.resnet18()
    layers = [r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4]
    c = 512
    for out in (256, 128, 64, 32):
        layers += [nn.ConvTranspose2d(c, out, 2, 2), nn.Conv2d(out, out, 3, padding=1, bias=False),
                   nn.BatchNorm2d(out), nn.ReLU()]
        c = out
    layers.append(nn.Conv2d(c, n_classes, 1))
    return nn.Sequential(*layers)


def main():
    demo, seg = "configs/demo.yaml", "tests/core/benchmark_segmentation.yaml"
    cases = [
        ("demo 32x32", demo, [], (3, 32, 32), resnet18(3)),
        ("demo 48x40", demo, ["trainer.preprocessing.train_image_size", "[48, 40]"], (3, 48, 40), resnet18(3)),
        ("demo GRAY 64x64", demo, ["trainer.preprocessing.train_image_size", "[64, 64]",
                                   "trainer.preprocessing.color_space", "GRAY"], (1, 64, 64), resnet18(1)),
        ("segmentation 32x32", seg, [], (3, 32, 32), segmentation_model(3)),
        ("segmentation 64x48", seg, ["trainer.preprocessing.train_image_size", "[64, 48]"], (3, 64, 48),
         segmentation_model(3)),
    ]
    out = {"cases": [{"name": name, "config": config, "overrides": ov, "input": list(chw),
                      "fwd_flop_per_img": fwd_flops(model, chw)} for name, config, ov, chw, model in cases]}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
