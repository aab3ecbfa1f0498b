#!/usr/bin/python3
"""Generates tests/fixtures/<group>.json from PyTorch 1.13 (Debian's python3-torch).

Run:   /usr/bin/python3 tests/reference/gen_fixtures.py [GROUP ...]
       (make fixtures does this). With no argument every cases_<group>.py module
       beside this script is run. The JSON files are committed; tests never
       need torch.

A cases module defines `def cases(g):` and calls g.case(...) for each case:

    g.case("relu_basic", "relu", F.relu, inputs={"x": t}, params={})

  name      unique case name (shown in test failures)
  op        the C runner's key (tests/ops/test_<group>.c maps it to the ltrain op)
  fn        a callable taking the inputs positionally, in dict order (and nothing
            else: bind params with a lambda) and returning the output tensor,
            or a tuple/dict of outputs (named out, out1, ... for tuples)
  inputs    name -> tensor; float tensors with requires_grad=True get
            gradients recorded
  params    JSON-serialisable dict the C runner reads with fx_param_*()
  rtol/atol tolerances for the forward comparison (default 1e-5 / 1e-6);
  grad_rtol/grad_atol  for gradients (default: same as forward). Loosen only
            where float32 summation order forces it and say why in a comment.
  expect_error  a substring of the ltrain error message; then fn is not called

Every output gets a random upstream gradient (seeded), backward runs once, and
the input gradients are stored.
"""
import importlib.util
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(os.path.dirname(HERE), "fixtures")

_DTYPES = {torch.float32: "f32", torch.int32: "i32", torch.int64: "i32", torch.uint8: "u8", torch.bool: "u8"}


def tensor_json(t):
    t = t.detach()
    dt = _DTYPES[t.dtype]
    flat = t.reshape(-1).tolist()
    if dt == "f32":
        data = [_f32(v) for v in flat]
    else:
        data = [int(v) for v in flat]
    return {"shape": list(t.shape), "dtype": dt, "data": data}


def _f32(v):
    # Shortest text that round-trips the float32 value; inf/nan as strings.
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    s = "%.9g" % v
    return float(s) if "." in s or "e" in s else int(s)


class Group:
    def __init__(self, name):
        self.name = name
        self.cases = []
        self.names = set()
        self.gen = torch.Generator().manual_seed(0)

    def randn(self, *shape, scale=1.0, requires_grad=True):
        t = torch.randn(*shape, generator=self.gen) * scale
        return t.requires_grad_(requires_grad)

    def rand(self, *shape, lo=0.0, hi=1.0, requires_grad=True):
        t = torch.rand(*shape, generator=self.gen) * (hi - lo) + lo
        return t.requires_grad_(requires_grad)

    def randint(self, lo, hi, *shape):
        return torch.randint(lo, hi, shape, generator=self.gen, dtype=torch.int64)

    def case(self, name, op, fn, inputs, params=None, rtol=None, atol=None, grad_rtol=None, grad_atol=None,
             expect_error=None, grad=True):
        assert name not in self.names, "duplicate case name " + name
        self.names.add(name)
        c = {"name": name, "op": op, "params": params or {},
             "inputs": {}}
        for k, v in inputs.items():
            j = tensor_json(v)
            if v.dtype == torch.float32 and v.requires_grad:
                j["requires_grad"] = True
            c["inputs"][k] = j
        for key, val in (("rtol", rtol), ("atol", atol), ("grad_rtol", grad_rtol), ("grad_atol", grad_atol)):
            if val is not None:
                c[key] = val
        if expect_error is not None:
            c["expect_error"] = expect_error
            self.cases.append(c)
            return
        leaves = {k: v.detach().clone().requires_grad_(v.dtype == torch.float32 and v.requires_grad)
                  for k, v in inputs.items()}
        out = fn(*leaves.values())
        if isinstance(out, dict):
            outs = out
        elif isinstance(out, (tuple, list)):
            outs = {("out" if i == 0 else "out%d" % i): o for i, o in enumerate(out)}
        else:
            outs = {"out": out}
        c["outputs"] = {k: tensor_json(v) for k, v in outs.items()}
        diff = {k: v for k, v in outs.items() if v.dtype == torch.float32 and v.requires_grad}
        if grad and diff:
            gouts = {k: torch.randn(v.shape, generator=self.gen) for k, v in diff.items()}
            torch.autograd.backward(list(diff.values()), list(gouts.values()))
            c["grad_outputs"] = {k: tensor_json(v) for k, v in gouts.items()}
            c["grads"] = {}
            for k, v in leaves.items():
                if v.requires_grad:
                    g = v.grad if v.grad is not None else torch.zeros_like(v)
                    c["grads"][k] = tensor_json(g)
        self.cases.append(c)


def run_module(path):
    group = os.path.basename(path)[len("cases_"):-len(".py")]
    spec = importlib.util.spec_from_file_location("cases_" + group, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(0)
    g = Group(group)
    mod.cases(g)
    out = os.path.join(OUT_DIR, group + ".json")
    with open(out, "w") as f:
        json.dump({"group": group, "torch": torch.__version__, "generator": "tests/reference/gen_fixtures.py",
                   "cases": g.cases}, f, separators=(",", ":"))
        f.write("\n")
    print("%-14s %3d cases -> %s" % (group, len(g.cases), os.path.relpath(out)))


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    wanted = sys.argv[1:]
    mods = sorted(f for f in os.listdir(HERE) if f.startswith("cases_") and f.endswith(".py"))
    for f in mods:
        if not wanted or f[len("cases_"):-3] in wanted:
            run_module(os.path.join(HERE, f))


if __name__ == "__main__":
    main()
