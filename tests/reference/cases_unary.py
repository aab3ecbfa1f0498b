"""Unary ops: activations, unary math and tensor-scalar arithmetic."""
import torch
import torch.nn.functional as F


def away_from(t, points, margin=1e-2):
    """Moves values within `margin` of any kink point away from it (finite
    differences and subgradient conventions agree away from kinks)."""
    t = t.detach().clone()
    for p in points:
        near = (t - p).abs() < margin
        t[near] = p + margin * 2
    return t.requires_grad_()


def cases(g):
    shapes = [(2, 3, 4, 5), (7,), (3, 17)]
    acts = [
        ("relu", F.relu, {}, [0.0]),
        ("relu6", F.relu6, {}, [0.0, 6.0]),
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), {"negative_slope": 0.2}, [0.0]),
        ("sigmoid", torch.sigmoid, {}, []),
        ("tanh", torch.tanh, {}, []),
        ("silu", F.silu, {}, []),
        ("hardswish", F.hardswish, {}, [-3.0, 3.0]),
        ("hardsigmoid", F.hardsigmoid, {}, [-3.0, 3.0]),
        ("gelu", F.gelu, {"approximate": False}, []),
        ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), {"approximate": True}, []),
        ("softplus", F.softplus, {"beta": 1.0, "threshold": 20.0}, []),
        ("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=3.0), {"beta": 2.0, "threshold": 3.0}, []),
        ("exp", torch.exp, {}, []),
        ("abs", torch.abs, {}, [0.0]),
        ("clamp", lambda x: torch.clamp(x, -0.5, 0.7), {"min": -0.5, "max": 0.7}, [-0.5, 0.7]),
        ("clamp_min", lambda x: torch.clamp(x, min=0.1), {"min": 0.1, "max": "inf"}, [0.1]),
        ("neg", torch.neg, {}, []),
        ("add_scalar", lambda x: x + 1.5, {"s": 1.5}, []),
        ("mul_scalar", lambda x: x * -2.5, {"s": -2.5}, []),
        ("rsub_scalar", lambda x: 3.0 - x, {"s": 3.0}, []),
        ("div_scalar", lambda x: x / 3.0, {"s": 3.0}, []),
        ("pow_scalar", lambda x: x ** 3.0, {"e": 3.0}, []),
    ]
    for name, fn, params, kinks in acts:
        op = name.split("_tanh")[0] if name.startswith("gelu") else name
        op = "softplus" if name.startswith("softplus") else op
        op = "clamp" if name.startswith("clamp") else op
        for i, shape in enumerate(shapes):
            x = away_from(g.randn(*shape, scale=4.0), kinks)
            g.case("%s_%d" % (name, i), op, fn, {"x": x}, params)
    # exact kink values: PyTorch's subgradient conventions
    kinks = torch.tensor([-6.0, -3.0, -0.5, 0.0, 0.5, 3.0, 6.0, 0.7, 0.1], requires_grad=True)
    for name, fn, params, _ in acts:
        if name in ("relu", "relu6", "leaky_relu", "hardswish", "hardsigmoid", "abs", "clamp", "clamp_min"):
            op = "clamp" if name.startswith("clamp") else name
            g.case(name + "_kinks", op, fn, {"x": kinks}, params)
    # domain-restricted ops on positive inputs
    for i, shape in enumerate(shapes):
        x = g.rand(*shape, lo=0.1, hi=5.0)
        g.case("log_%d" % i, "log", torch.log, {"x": x})
        g.case("sqrt_%d" % i, "sqrt", torch.sqrt, {"x": x})
        g.case("pow_frac_%d" % i, "pow_scalar", lambda x: x ** 0.5, {"x": x}, {"e": 0.5})
    # large magnitudes: overflow behaviour of sigmoid/silu/softplus/exp
    big = torch.tensor([-100.0, -30.0, -10.0, 10.0, 30.0, 80.0], requires_grad=True)
    for name in ("sigmoid", "silu", "softplus", "tanh"):
        fn = {"sigmoid": torch.sigmoid, "silu": F.silu, "softplus": F.softplus, "tanh": torch.tanh}[name]
        g.case(name + "_large", name, fn, {"x": big}, {"beta": 1.0, "threshold": 20.0})
    g.case("relu_int_input", "relu", None, {"x": torch.zeros(3, dtype=torch.int32)}, expect_error="relu: input")
