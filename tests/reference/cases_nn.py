"""torch.nn blocks: BatchNorm2d over several train/eval steps (running stats and
num_batches_tracked), and Conv2d / ConvTranspose2d / Linear / LayerNorm built
from module options. The modules get the fixture's weights (their parameters
are replaced by the input leaves, so gradients reach them); the C runner checks
that its block registered the same weight shapes, then runs the block."""
import torch
import torch.nn as nn


def with_params(module, **tensors):
    """Replaces the module's parameters by the given leaves (None removes one)."""
    for k, v in tensors.items():
        module._parameters[k] = v
    return module


def bn_block_case(g, name, shape, modes, momentum=None, eps=None):
    """modes: one character per forward call, "t" training or "e" eval; only
    the last call's input requires grad; out is the last call's output."""
    c = shape[1]
    inputs = {"x%d" % i: g.randn(*shape, requires_grad=(i == len(modes) - 1)) for i in range(len(modes))}
    inputs["weight"] = (g.randn(c) * 0.3 + 1.0).detach().requires_grad_()
    inputs["bias"] = g.randn(c)

    def fn(*args):
        xs, weight, bias = args[:-2], args[-2], args[-1]
        kw = {}
        if momentum is not None:
            kw["momentum"] = momentum
        if eps is not None:
            kw["eps"] = eps
        bn = with_params(nn.BatchNorm2d(c, **kw), weight=weight, bias=bias)
        for x, mode in zip(xs, modes):
            bn.train(mode == "t")
            out = bn(x)
        return {"out": out, "running_mean": bn.running_mean.clone(), "running_var": bn.running_var.clone(),
                "num_batches_tracked": bn.num_batches_tracked.clone()}

    params = {"modes": modes}
    if momentum is not None:
        params["momentum"] = momentum
    if eps is not None:
        params["eps"] = eps
    g.case(name, "batch_norm2d_block", fn, inputs, params)


def conv_block_case(g, name, x_shape, cout, kernel, transpose=False, stride=1, padding=0, output_padding=0,
                    dilation=1, groups=1, bias=True, **tol):
    cin = x_shape[1]
    if transpose:
        m = nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding, groups, bias, dilation)
    else:
        m = nn.Conv2d(cin, cout, kernel, stride, padding, dilation, groups, bias)
    inputs = {"x": g.randn(*x_shape), "weight": g.randn(*m.weight.shape, scale=0.3)}
    if bias:
        inputs["bias"] = g.randn(cout)
    names = list(inputs)

    def fn(*args):
        a = dict(zip(names, args))
        return with_params(m, weight=a["weight"], bias=a.get("bias"))(a["x"])

    pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]
    params = {"out_channels": cout, "kernel": pair(kernel), "stride": pair(stride), "padding": pair(padding),
              "dilation": pair(dilation), "groups": groups, "bias": bias}
    if transpose:
        params["output_padding"] = pair(output_padding)
    g.case(name, "conv_transpose2d_block" if transpose else "conv2d_block", fn, inputs, params, **tol)


def linear_block_case(g, name, x_shape, out_features, bias=True):
    m = nn.Linear(x_shape[-1], out_features, bias)
    inputs = {"x": g.randn(*x_shape), "weight": g.randn(*m.weight.shape, scale=0.3)}
    if bias:
        inputs["bias"] = g.randn(out_features)
    names = list(inputs)

    def fn(*args):
        a = dict(zip(names, args))
        return with_params(m, weight=a["weight"], bias=a.get("bias"))(a["x"])

    g.case(name, "linear_block", fn, inputs, {"out_features": out_features, "bias": bias})


def layer_norm_block_case(g, name, x_shape, k):
    shape = list(x_shape[-k:])
    m = nn.LayerNorm(shape)
    inputs = {"x": g.randn(*x_shape), "weight": (g.randn(*shape) * 0.3 + 1.0).detach().requires_grad_(),
              "bias": g.randn(*shape)}

    def fn(x, weight, bias):
        return with_params(m, weight=weight, bias=bias)(x)

    g.case(name, "layer_norm_block", fn, inputs, {"normalized_shape": shape})


def cases(g):
    bn_block_case(g, "bn_block_train_train_eval", (2, 3, 4, 4), "tte")
    bn_block_case(g, "bn_block_train_eval_train", (3, 4, 3, 5), "tet")
    bn_block_case(g, "bn_block_momentum_eps", (2, 3, 3, 3), "tttt", momentum=0.3, eps=1e-3)
    bn_block_case(g, "bn_block_eval_fresh", (2, 5, 2, 3), "e")
    bn_block_case(g, "bn_block_train_once", (4, 2, 3, 3), "t")
    g.case("bn_block_3d_input", "batch_norm2d_block", None,
           {"x0": g.randn(2, 3, 4), "weight": g.randn(3), "bias": g.randn(3)}, {"modes": "t"},
           expect_error="batch_norm2d: expected 4D input [N,C,H,W], got [2,3,4]")

    conv_block_case(g, "conv_block_basic", (2, 3, 7, 6), 4, 3)
    conv_block_case(g, "conv_block_stride_pad_no_bias", (1, 4, 9, 8), 6, (3, 5), stride=2, padding=(1, 2),
                    bias=False)
    conv_block_case(g, "conv_block_dilation_groups", (2, 4, 8, 9), 6, 3, dilation=2, padding=2, groups=2)
    conv_block_case(g, "conv_block_depthwise", (1, 5, 6, 6), 5, 3, padding=1, groups=5)
    conv_block_case(g, "conv_t_block_basic", (2, 3, 4, 5), 4, 3, transpose=True)
    conv_block_case(g, "conv_t_block_stride_outpad_groups", (1, 4, 3, 4), 6, (3, 2), transpose=True, stride=2,
                    padding=1, output_padding=1, groups=2)
    conv_block_case(g, "conv_t_block_no_bias_dilation", (1, 2, 4, 4), 3, 2, transpose=True, dilation=2,
                    bias=False)
    g.case("conv_block_bad_groups", "conv2d_block", None, {"x": g.randn(1, 5, 4, 4), "weight": g.randn(4, 5, 3, 3)},
           {"out_channels": 4, "kernel": [3, 3], "groups": 2},
           expect_error="in_channels 5 and out_channels 4 must be divisible by groups 2")
    g.case("conv_block_bad_input", "conv2d_block", None, {"x": g.randn(1, 3, 4, 4), "weight": g.randn(4, 2, 3, 3)},
           {"out_channels": 4, "kernel": [3, 3], "in_channels": 2, "bias": False}, expect_error="conv2d: ")

    linear_block_case(g, "linear_block_basic", (4, 7), 5)
    linear_block_case(g, "linear_block_3d_no_bias", (2, 3, 6), 4, bias=False)

    layer_norm_block_case(g, "ln_block_last", (3, 8), 1)
    layer_norm_block_case(g, "ln_block_two", (2, 3, 5), 2)
