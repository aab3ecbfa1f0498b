"""Normalisation: F.batch_norm (training / eval, running-stat updates) and F.layer_norm."""
import torch
import torch.nn.functional as F


def bn_case(g, name, x, affine="wb", stats=True, training=True, momentum=0.1, eps=1e-5, **tol):
    """One batch_norm case. affine: which of weight ("w") / bias ("b") exist.
    The running stats are updated in place by F.batch_norm; the case returns
    them (detached clones) as extra outputs so the C runner compares them."""
    c = x.shape[1]
    inputs = {"x": x}
    if "w" in affine:
        inputs["weight"] = g.randn(c) * 0.5 + 1.0
        inputs["weight"] = inputs["weight"].detach().requires_grad_()
    if "b" in affine:
        inputs["bias"] = g.randn(c)
    if stats:
        inputs["running_mean"] = g.randn(c, requires_grad=False)
        inputs["running_var"] = g.rand(c, lo=0.5, hi=2.0, requires_grad=False)
    names = list(inputs)

    def fn(*args):
        a = dict(zip(names, args))
        rm, rv = a.get("running_mean"), a.get("running_var")
        out = F.batch_norm(a["x"], rm, rv, a.get("weight"), a.get("bias"), training, momentum, eps)
        res = {"out": out}
        if stats:
            res["running_mean"] = rm.detach().clone()
            res["running_var"] = rv.detach().clone()
        return res

    params = {"training": training, "momentum": momentum, "eps": eps}
    g.case(name, "batch_norm", fn, inputs, params, **tol)


def ln_case(g, name, x, k, weight=True, bias=True, eps=1e-5, **tol):
    shape = tuple(x.shape[-k:])
    inputs = {"x": x}
    if weight:
        inputs["weight"] = (g.randn(*shape) * 0.5 + 1.0).detach().requires_grad_()
    if bias:
        inputs["bias"] = g.randn(*shape)
    names = list(inputs)

    def fn(*args):
        a = dict(zip(names, args))
        return F.layer_norm(a["x"], shape, a.get("weight"), a.get("bias"), eps)

    g.case(name, "layer_norm", fn, inputs, {"normalized_ndim": k, "eps": eps}, **tol)


def cases(g):
    # ---- batch norm, training: batch statistics, running stats updated ----
    bn_case(g, "bn_train_4d", g.randn(4, 3, 5, 5))
    bn_case(g, "bn_train_4d_odd", g.randn(3, 5, 3, 7, scale=2.0), momentum=0.3, eps=1e-3)
    bn_case(g, "bn_train_4d_no_affine", g.randn(2, 4, 3, 3), affine="")
    bn_case(g, "bn_train_4d_weight_only", g.randn(2, 4, 3, 3), affine="w")
    bn_case(g, "bn_train_4d_bias_only", g.randn(2, 4, 3, 3), affine="b")
    bn_case(g, "bn_train_4d_no_stats", g.randn(3, 2, 4, 5), stats=False)
    bn_case(g, "bn_train_batch1", g.randn(1, 3, 4, 3))
    bn_case(g, "bn_train_1x1_spatial", g.randn(5, 3, 1, 1))
    bn_case(g, "bn_train_2d", g.randn(8, 5))
    bn_case(g, "bn_train_2d_two_rows", g.randn(2, 6), momentum=0.5)
    bn_case(g, "bn_train_2d_no_affine_no_stats", g.randn(7, 3), affine="", stats=False)
    bn_case(g, "bn_train_3d", g.randn(3, 4, 9))
    bn_case(g, "bn_train_momentum_1", g.randn(4, 2, 3, 3), momentum=1.0)
    bn_case(g, "bn_train_momentum_0", g.randn(4, 2, 3, 3), momentum=0.0)
    # A constant channel: variance 0, normalised to 0 (invstd = 1/sqrt(eps)).
    xc = g.randn(3, 3, 2, 2).detach()
    xc[:, 1] = 0.75
    bn_case(g, "bn_train_constant_channel", xc.requires_grad_(), eps=1e-3)
    # Large offset: y = x * alpha + beta with beta ~ -100 * alpha, so the float
    # result carries ~1e-5 absolute rounding (PyTorch's formulation and ours alike);
    # the gradients meet the default tolerance.
    bn_case(g, "bn_train_offset", (g.randn(4, 3, 3, 3) + 100.0).detach().requires_grad_(), atol=2e-5)
    bn_case(g, "bn_train_empty", g.randn(0, 3, 2, 2))

    # ---- batch norm, evaluation: running statistics, nothing updated ----
    bn_case(g, "bn_eval_4d", g.randn(2, 3, 4, 4), training=False)
    bn_case(g, "bn_eval_4d_no_affine", g.randn(2, 3, 3, 5), affine="", training=False)
    bn_case(g, "bn_eval_2d", g.randn(6, 4), training=False, eps=1e-3)
    bn_case(g, "bn_eval_3d_weight_only", g.randn(2, 3, 5), affine="w", training=False)

    # ---- errors ----
    x = g.randn(2, 3, 4, 4)
    g.case("bn_bad_weight", "batch_norm", None, {"x": x, "weight": g.randn(4)}, {},
           expect_error="batch_norm: weight [4] must have 3 elements")
    g.case("bn_bad_running_var", "batch_norm", None,
           {"x": x, "running_mean": g.randn(3, requires_grad=False), "running_var": g.randn(2, requires_grad=False)},
           {}, expect_error="running_var [2] must have 3 elements")
    g.case("bn_eval_without_stats", "batch_norm", None, {"x": x}, {"training": False},
           expect_error="running_mean and running_var are required in evaluation mode")
    g.case("bn_1d_input", "batch_norm", None, {"x": g.randn(5)}, {},
           expect_error="batch_norm: input [5] must be [N,C]")
    g.case("bn_single_value_per_channel", "batch_norm", None, {"x": g.randn(1, 4)}, {},
           expect_error="expected more than 1 value per channel when training, got input [1,4]")
    g.case("bn_int_input", "batch_norm", None, {"x": torch.zeros(2, 3, dtype=torch.int32)}, {},
           expect_error="batch_norm: input [2,3] must be float32")

    # ---- layer norm ----
    ln_case(g, "ln_last_dim", g.randn(4, 7), 1)
    ln_case(g, "ln_two_dims", g.randn(2, 3, 5), 2)
    ln_case(g, "ln_three_dims", g.randn(2, 3, 4, 5), 3)
    ln_case(g, "ln_all_dims", g.randn(3, 5), 2)
    ln_case(g, "ln_no_affine", g.randn(5, 6), 1, weight=False, bias=False)
    ln_case(g, "ln_weight_only", g.randn(3, 2, 9), 1, bias=False)
    ln_case(g, "ln_bias_only", g.randn(3, 2, 9), 2, weight=False)
    ln_case(g, "ln_eps", g.randn(4, 3, 3, scale=0.05), 2, eps=1e-3)
    ln_case(g, "ln_many_rows", g.randn(70, 11), 1)  # more rows than one gradient chunk
    # One element per row: x - mean is exactly 0, so the output is the bias. PyTorch
    # computes x * rstd + (-rstd * mean) with a fused multiply-add, leaving a residual
    # of ~ulp(x * rstd) with rstd = 1/sqrt(eps) ~ 316, i.e. ~1e-5 absolute.
    # The exact input gradient is 0; PyTorch's carries the same kind of residual.
    ln_case(g, "ln_single_element_rows", g.randn(4, 1), 1, atol=5e-5, grad_atol=2e-4)
    # Offset rows: float rounding of x - mean (~100 * 6e-8) scaled by rstd ~ 1, in
    # PyTorch's x * rstd - mean * rstd; the gradients meet the default tolerance.
    ln_case(g, "ln_offset", (g.randn(3, 16) + 100.0).detach().requires_grad_(), 1, atol=2e-5)
    x = g.randn(2, 3, 4)
    g.case("ln_bad_weight", "layer_norm", None, {"x": x, "weight": g.randn(3)}, {"normalized_ndim": 1},
           expect_error="layer_norm: weight [3] must have the normalized shape [4]")
    g.case("ln_bad_ndim", "layer_norm", None, {"x": x}, {"normalized_ndim": 4},
           expect_error="layer_norm: normalized_ndim 4 must be in 1..3 for input [2,3,4]")
    g.case("ln_zero_ndim", "layer_norm", None, {"x": x}, {"normalized_ndim": 0},
           expect_error="normalized_ndim 0")
