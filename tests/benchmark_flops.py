#!/usr/bin/env python3
"""`ltrain benchmark --json` on every configs/benchmarks/*.yaml reports the forward FLOPs per image
that PyTorch counts for the same workload (tests/fixtures/bench_models.json "workload_fwd_flops",
from tests/reference/bench_models_reference.py), the config's input shape and batch, and
gflop_per_step = fwd x batch (x 3 in training).
Usage: benchmark_flops.py <ltrain> <repo root>. Exit 77 (skipped) while ltrain has no benchmark
command."""
import json
import os
import subprocess
import sys

INPUTS = {"resnet18-cls-64": [3, 64, 64], "resnet18-cls-224": [3, 224, 224], "small-cnn-mnist": [1, 28, 28],
          "unet-seg": [3, 128, 128], "mlp": [1, 28, 28]}
BATCH = 2


def bench(ltrain, config, mode):
    cmd = [ltrain, "benchmark", "--config", config, "--mode", mode, "--steps", "1", "--warmup", "0",
           "--batch", str(BATCH), "--threads", "1", "--json"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0 and "unknown command 'benchmark'" in p.stderr:
        print("ltrain has no benchmark command yet: skipped")
        sys.exit(77)
    assert p.returncode == 0, "%s: exit %d\n%s" % (" ".join(cmd), p.returncode, p.stderr)
    return json.loads(p.stdout)  # the whole of stdout is one JSON object


def main():
    ltrain, root = sys.argv[1], sys.argv[2]
    with open(os.path.join(root, "tests", "fixtures", "bench_models.json")) as f:
        want = json.load(f)["workload_fwd_flops"]
    assert set(want) == set(INPUTS), want
    for name, flops in sorted(want.items()):
        config = os.path.join(root, "configs", "benchmarks", name + ".yaml")
        for mode in ("infer", "train"):
            got = bench(ltrain, config, mode)
            assert got["workload"] == name and got["mode"] == mode, got
            assert got["input"] == INPUTS[name] and got["batch"] == BATCH, got
            if "fwd_flop_per_img" in got:  # ltrain's exact count beside the rounded GFLOP
                assert got["fwd_flop_per_img"] == flops, (name, got["fwd_flop_per_img"], flops)
            gflop = flops / 1e9
            # the JSON may round to 5 decimals as torch_train_bench.py does
            assert abs(got["fwd_gflop_per_img"] - gflop) <= 5e-6 + 1e-6 * gflop, (name, got["fwd_gflop_per_img"], gflop)
            per_step = gflop * BATCH * (3 if mode == "train" else 1)
            assert abs(got["gflop_per_step"] - per_step) <= 5e-4 + 1e-6 * per_step, (name, mode, got, per_step)
        print("%-18s %.5f GFLOP per image: same as PyTorch" % (name, got["fwd_gflop_per_img"]))


if __name__ == "__main__":
    main()
