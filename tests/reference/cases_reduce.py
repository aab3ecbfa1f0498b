"""Reductions: sum and mean over any set of dims, max (values + first-maximum
indices, gradient to the first maximum) and argmax over one dim."""
import torch


def _sum_or_mean(name, fn):
    def run(x, dims, keepdim):
        if not dims:  # n_dims == 0: every dimension
            return fn(x, dim=tuple(range(x.dim())), keepdim=keepdim) if keepdim and x.dim() else fn(x)
        return fn(x, dim=tuple(dims), keepdim=keepdim)
    return run


def cases(g):
    # (shape, dims): all, single, negative, several (adjacent or not), size-1 dims
    layouts = [
        ((2, 3, 4, 5), []), ((2, 3, 4, 5), [1]), ((2, 3, 4, 5), [-1]), ((2, 3, 4, 5), [0, 2]),
        ((2, 3, 4, 5), [1, 3]), ((2, 3, 4, 5), [0, 2, 3]), ((2, 3, 4, 5), [2, 3]), ((2, 3, 4, 5), [0]),
        ((2, 3, 4, 5), [3, 0, 1, 2]), ((7,), []), ((7,), [0]), ((3, 17), [0]), ((3, 17), [1]),
        ((5, 1, 3), [1]), ((5, 1, 3), [0, 2]), ((1, 9, 1), [0, 2]), ((70, 3), [1]),
    ]
    # more columns than one kernel block (256), kept and reduced
    wide = [((3, 300), [0]), ((2, 3, 260), [0, 1])]
    for name, fn in (("sum", torch.sum), ("mean", torch.mean)):
        run = _sum_or_mean(name, fn)
        for i, (shape, dims) in enumerate(layouts):
            for keepdim in (False, True):
                x = g.randn(*shape)
                g.case("%s_%d_%s" % (name, i, "keep" if keepdim else "drop"), name,
                       lambda x, d=dims, k=keepdim: run(x, d, k), {"x": x}, {"dims": dims, "keepdim": keepdim})
        for i, (shape, dims) in enumerate(wide):
            x = g.randn(*shape)
            g.case("%s_wide_%d" % (name, i), name, lambda x, d=dims: run(x, d, False), {"x": x}, {"dims": dims})
        # 0-d input, reduced over "all" and over dim 0
        s = torch.tensor(1.5, requires_grad=True)
        g.case(name + "_scalar_all", name, lambda x: fn(x), {"x": s}, {"dims": []})
        g.case(name + "_scalar_dim0", name, lambda x: fn(x, 0), {"x": s}, {"dims": [0]})
        # empty inputs: sum of nothing is 0, mean of nothing is NaN
        e = torch.zeros(0, 3, requires_grad=True)
        g.case(name + "_empty_dim0", name, lambda x: fn(x, 0), {"x": e}, {"dims": [0]})
        g.case(name + "_empty_all", name, lambda x: fn(x), {"x": e}, {"dims": []})
        # large values: double accumulation against PyTorch's float cascade
        big = g.randn(4, 257, scale=1e4)
        g.case(name + "_large", name, lambda x: fn(x, 1), {"x": big}, {"dims": [1]})
        g.case(name + "_bad_dim", name, None, {"x": g.randn(2, 3)}, {"dims": [2]},
               expect_error=name + ": dim 2 out of range for input [2,3]")
        g.case(name + "_dup_dim", name, None, {"x": g.randn(2, 3)}, {"dims": [1, -1]},
               expect_error="appears more than once")
        g.case(name + "_int_input", name, None, {"x": torch.zeros(3, dtype=torch.int32)}, {"dims": []},
               expect_error=name + ": input [3] must be float32")

    # max over one dim: values, indices, gradient to the first maximum
    maxes = [((3, 5), 1, False), ((3, 5), 0, False), ((2, 3, 4), 1, True), ((2, 3, 4), -1, False),
             ((2, 3, 4), 0, True), ((7,), 0, False), ((2, 70, 3), 1, False), ((2, 3, 260), 1, True)]
    for i, (shape, dim, keepdim) in enumerate(maxes):
        x = g.randn(*shape)
        g.case("max_%d" % i, "max", lambda x, d=dim, k=keepdim: torch.max(x, d, keepdim=k), {"x": x},
               {"dim": dim, "keepdim": keepdim})
        g.case("argmax_%d" % i, "argmax", lambda x, d=dim, k=keepdim: torch.argmax(x, d, keepdim=k),
               {"x": x.detach()}, {"dim": dim, "keepdim": keepdim})
    # ties: the first maximum wins (value and gradient)
    ties = torch.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [-1.0, -2.0, -1.0, -3.0]], requires_grad=True)
    for dim in (0, 1):
        g.case("max_ties_%d" % dim, "max", lambda x, d=dim: torch.max(x, d), {"x": ties}, {"dim": dim})
        g.case("argmax_ties_%d" % dim, "argmax", lambda x, d=dim: torch.argmax(x, d), {"x": ties.detach()},
               {"dim": dim})
    # NaN propagates and the first NaN is the maximum; -inf / inf are ordinary
    special = torch.tensor([[1.0, float("nan"), 2.0, float("nan")], [float("-inf"), -5.0, float("inf"), 0.0],
                            [float("-inf"), float("-inf"), float("-inf"), float("-inf")]], requires_grad=True)
    for dim in (0, 1):
        g.case("max_special_%d" % dim, "max", lambda x, d=dim: torch.max(x, d), {"x": special}, {"dim": dim})
        g.case("argmax_special_%d" % dim, "argmax", lambda x, d=dim: torch.argmax(x, d), {"x": special.detach()},
               {"dim": dim})
    s = torch.tensor(2.5, requires_grad=True)
    g.case("max_scalar", "max", lambda x: torch.max(x, 0), {"x": s}, {"dim": 0})
    g.case("argmax_scalar", "argmax", lambda x: torch.argmax(x, 0), {"x": s.detach()}, {"dim": 0})
    g.case("max_bad_dim", "max", None, {"x": g.randn(2, 3)}, {"dim": -3},
           expect_error="max: dim -3 out of range for input [2,3]")
    g.case("max_empty_dim", "max", None, {"x": torch.zeros(2, 0)}, {"dim": 1},
           expect_error="max: cannot reduce dim 1 of size 0 of input [2,0]")
    g.case("argmax_bad_dim", "argmax", None, {"x": g.randn(2, 3)}, {"dim": 2},
           expect_error="argmax: dim 2 out of range for input [2,3]")
    g.case("argmax_int_input", "argmax", None, {"x": torch.zeros(3, dtype=torch.int32)}, {"dim": 0},
           expect_error="argmax: input [3] must be float32")
