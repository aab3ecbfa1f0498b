"""Broadcasting binary arithmetic: add, sub, mul, div, pow."""
import torch

OPS = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
}

# (a shape, b shape): every fast path of ops/binary.c and the general one.
SHAPES = [
    ("same", (2, 3, 4, 5), (2, 3, 4, 5)),
    ("scalar_b", (3, 5), ()),
    ("scalar_a", (), (3, 5)),
    ("numel1_b", (4, 5), (1, 1)),
    ("channel", (2, 3, 4, 5), (1, 3, 1, 1)),
    ("channel_nobatch", (2, 3, 4, 5), (3, 1, 1)),
    ("channel_a", (1, 3, 1, 1), (2, 3, 4, 5)),
    ("row", (3, 4, 7), (7,)),
    ("row_a", (7,), (3, 4, 7)),
    ("outer", (2, 1, 5), (3, 1)),
    ("mutual", (4, 1), (1, 5)),
    ("inner_b", (3, 4, 6), (3, 4, 1)),
    ("batch_b", (3, 4, 6), (1, 4, 6)),
    ("odometer", (1, 7, 1, 3), (2, 1, 5, 1)),
    ("interleaved", (2, 1, 3, 1, 2), (1, 3, 1, 2, 1)),
    ("both_0d", (), ()),
    ("empty", (0, 3), (3,)),
]


def randn(g, shape):
    """g.randn for any shape, 0-d included."""
    return torch.randn(shape, generator=g.gen).requires_grad_()


def rand(g, shape, lo, hi):
    return (torch.rand(shape, generator=g.gen) * (hi - lo) + lo).requires_grad_()


def operands(g, op, sa, sb):
    if op == "div":  # keep the divisor away from zero, either sign
        sign = torch.where(torch.rand(sb, generator=g.gen) < 0.5, -1.0, 1.0)
        return randn(g, sa), (rand(g, sb, 0.5, 2.0) * sign).detach().requires_grad_()
    if op == "pow":  # positive bases: log(a) is defined for d/db
        return rand(g, sa, 0.3, 2.5), randn(g, sb)
    return randn(g, sa), randn(g, sb)


def cases(g):
    for op, fn in OPS.items():
        for tag, sa, sb in SHAPES:
            a, b = operands(g, op, sa, sb)
            g.case("%s_%s" % (op, tag), op, fn, {"a": a, "b": b})
        # only one side requires grad
        a, b = operands(g, op, (3, 5), (5,))
        g.case("%s_grad_a_only" % op, op, fn, {"a": a, "b": b.detach()})
        g.case("%s_grad_b_only" % op, op, fn, {"a": a.detach(), "b": b})

    # pow conventions: d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0;
    # negative bases with integral exponents; 0 ** negative = inf.
    a = torch.tensor([0.0, 0.0, 0.0, 0.0, -2.0, -1.5, 2.0, 3.0, -2.0, 1.0, 0.5], requires_grad=True)
    b = torch.tensor([0.0, 2.0, -1.0, 0.5, 3.0, 2.0, 0.0, -2.0, 0.5, 7.0, -0.5], requires_grad=True)
    g.case("pow_conventions", "pow", torch.pow, {"a": a, "b": b})
    g.case("pow_zero_base_broadcast", "pow", torch.pow,
           {"a": torch.tensor([[0.0], [1.5], [-2.0]], requires_grad=True),
            "b": torch.tensor([0.0, 1.0, 2.0, -1.0], requires_grad=True)})
    # constant exponents (2 takes the x * x path)
    for e in (2.0, 0.5, 3.0, -1.0, 0.0):
        g.case("pow_const_%g" % e, "pow", torch.pow,
               {"a": g.randn(3, 7), "b": torch.tensor(e, requires_grad=True)})
    g.case("pow_square_negative", "pow", torch.pow,
           {"a": torch.tensor([-3.0, -0.5, 0.0, 0.25, 1e-20, 3e18], requires_grad=True),
            "b": torch.tensor([2.0], requires_grad=True)})
    # division by zero: inf and nan in values and gradients
    g.case("div_by_zero", "div", torch.div,
           {"a": torch.tensor([1.0, -1.0, 0.0, 2.0], requires_grad=True),
            "b": torch.tensor([0.0, 0.0, 0.0, 4.0], requires_grad=True)})
    # infinities and nan propagate
    inf = float("inf")
    special = torch.tensor([inf, -inf, float("nan"), 1.0], requires_grad=True)
    for op in ("add", "sub", "mul"):
        g.case("%s_special" % op, op, OPS[op],
               {"a": special, "b": torch.tensor([1.0, 2.0, 3.0, inf], requires_grad=True)})
    # wide broadcast sums: a [1,C,1,1] bias against many elements
    g.case("add_channel_wide", "add", torch.add, {"a": g.randn(3, 8, 5, 7), "b": g.randn(1, 8, 1, 1)})
    g.case("mul_row_wide", "mul", torch.mul, {"a": g.randn(19, 33), "b": g.randn(33)})

    # errors
    g.case("add_bad_shapes", "add", None, {"a": g.randn(2, 3), "b": g.randn(4)},
           expect_error="add: shapes [2,3] and [4] cannot be broadcast")
    g.case("mul_bad_inner", "mul", None, {"a": g.randn(2, 3, 4), "b": g.randn(3, 1, 5)},
           expect_error="mul: shapes [2,3,4] and [3,1,5] cannot be broadcast")
    g.case("pow_bad_shapes", "pow", None, {"a": g.randn(5), "b": g.randn(2, 4)},
           expect_error="pow: shapes [5] and [2,4]")
    g.case("sub_int", "sub", None,
           {"a": torch.zeros(3, dtype=torch.int32), "b": g.randn(3)},
           expect_error="sub: needs float32 tensors, got a [3] int32 and b [3] float32")
    g.case("div_uint8", "div", None,
           {"a": g.randn(2), "b": torch.ones(2, dtype=torch.uint8)},
           expect_error="div: needs float32 tensors, got a [2] float32 and b [2] uint8")
