"""softmax and log_softmax over any dim (negative dims, NCHW over C, blocks of
inner positions, large magnitudes, -inf entries, a 0-d input)."""
import torch
import torch.nn.functional as F


def cases(g):
    layouts = [
        ((4, 7), 1), ((4, 7), 0), ((4, 7), -1), ((2, 5, 3, 4), 1), ((2, 5, 3, 4), -1), ((2, 5, 3, 4), 2),
        ((2, 5, 3, 4), -4), ((9,), 0), ((1, 3, 130), 1), ((2, 3, 10, 15), 1), ((3, 1, 5), 1), ((2, 200), 1),
    ]
    fns = (("softmax", F.softmax), ("log_softmax", F.log_softmax))
    for name, fn in fns:
        for i, (shape, dim) in enumerate(layouts):
            x = g.randn(*shape, scale=2.0)
            g.case("%s_%d" % (name, i), name, lambda x, d=dim: fn(x, d), {"x": x}, {"dim": dim})
        # large magnitudes: the maximum must be subtracted first
        big = g.randn(3, 6, scale=80.0)
        g.case(name + "_large_rows", name, lambda x: fn(x, 1), {"x": big}, {"dim": 1})
        g.case(name + "_large_cols", name, lambda x: fn(x, 0), {"x": big}, {"dim": 0})
        # an offset of 1000: log_softmax must take (x - max) before subtracting log-sum
        off = (g.randn(4, 5) + 1000.0).detach().requires_grad_()
        g.case(name + "_offset", name, lambda x: fn(x, 1), {"x": off}, {"dim": 1})
        g.case(name + "_offset_inner", name, lambda x: fn(x, 0), {"x": off}, {"dim": 0})
        # masked logits (-inf entries, never a whole row)
        m = torch.tensor([[0.5, float("-inf"), 1.5, -2.0], [float("-inf"), 3.0, float("-inf"), 0.0]],
                         requires_grad=True)
        g.case(name + "_masked_rows", name, lambda x: fn(x, 1), {"x": m}, {"dim": 1})
        g.case(name + "_masked_cols", name, lambda x: fn(x, 0),
               {"x": torch.tensor([[0.5, 1.0], [float("-inf"), 2.0], [1.0, float("-inf")]], requires_grad=True)},
               {"dim": 0})
        g.case(name + "_scalar", name, lambda x: fn(x, 0), {"x": torch.tensor(0.7, requires_grad=True)}, {"dim": 0})
        g.case(name + "_single_class", name, lambda x: fn(x, 1), {"x": g.randn(3, 1, 4)}, {"dim": 1})
        g.case(name + "_bad_dim", name, None, {"x": g.randn(2, 3)}, {"dim": 2},
               expect_error=name + ": dim 2 out of range for input [2,3]")
        g.case(name + "_int_input", name, None, {"x": torch.zeros(2, 3, dtype=torch.int32)}, {"dim": 1},
               expect_error=name + ": input [2,3] must be float32")
