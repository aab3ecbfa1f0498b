"""Selection ops (where, masked_fill, gather, index_select) and dtype casts."""
import torch


def randn(g, shape, requires_grad=True):
    """g.randn for any shape, 0-d included."""
    return torch.randn(shape, generator=g.gen).requires_grad_(requires_grad)


def mask(g, shape, p=0.5):
    return torch.rand(shape, generator=g.gen) < p


def where_cases(g):
    shapes = [
        ("same", (2, 3, 4), (2, 3, 4), (2, 3, 4)),
        ("cond_row", (3, 1), (3, 4), (3, 4)),
        ("cond_inner", (2, 3, 1), (2, 3, 5), (2, 3, 5)),
        ("scalar_b", (3, 4), (3, 4), ()),
        ("scalar_a", (5,), (), (5,)),
        ("row_b", (2, 5), (2, 5), (5,)),
        ("all_differ", (2, 1, 4), (3, 1), (1,)),
        ("cond_grows", (2, 3, 4), (3, 1), (4,)),
        ("all_0d", (), (), ()),
        ("empty", (0, 3), (3,), (0, 1)),
    ]
    for tag, sc, sa, sb in shapes:
        g.case("where_" + tag, "where", torch.where,
               {"cond": mask(g, sc), "a": randn(g, sa), "b": randn(g, sb)})
    # nan/inf in the unselected side do not leak into gradients
    g.case("where_nonfinite", "where", torch.where,
           {"cond": torch.tensor([True, False, True, False]),
            "a": torch.tensor([1.0, float("nan"), 2.0, float("inf")], requires_grad=True),
            "b": torch.tensor([float("-inf"), 3.0, float("nan"), 4.0], requires_grad=True)})
    g.case("where_b_only", "where", torch.where,
           {"cond": mask(g, (3, 4)), "a": randn(g, (3, 4), False), "b": randn(g, (1, 4))})
    g.case("where_bad_shapes", "where", None,
           {"cond": mask(g, (2, 3)), "a": randn(g, (4,)), "b": randn(g, (3,))},
           expect_error="where: cond [2,3], a [4] and b [3] cannot be broadcast together (dimension -1)")
    g.case("where_float_cond", "where", None,
           {"cond": randn(g, (3,), False), "a": randn(g, (3,)), "b": randn(g, (3,))},
           expect_error="where: needs a uint8 cond and float32 a and b, got cond [3] float32")
    g.case("where_int_a", "where", None,
           {"cond": mask(g, (3,)), "a": torch.zeros(3, dtype=torch.int32), "b": randn(g, (3,))},
           expect_error="a [3] int32")


def masked_fill_cases(g):
    shapes = [
        ("same", (2, 3, 4, 5), (2, 3, 4, 5)),
        ("channel_mask", (2, 3, 4, 5), (2, 1, 4, 5)),
        ("row_mask", (3, 7), (7,)),
        ("inner_mask", (3, 4, 5), (3, 4, 1)),
        ("scalar_mask", (3, 4), ()),
        ("x_0d", (), ()),
        ("empty", (0, 4), (4,)),
    ]
    for tag, sx, sm in shapes:
        v = -1.5
        g.case("masked_fill_" + tag, "masked_fill", lambda x, m, v=v: x.masked_fill(m, v),
               {"x": randn(g, sx), "mask": mask(g, sm)}, {"value": v})
    g.case("masked_fill_neg_inf", "masked_fill", lambda x, m: x.masked_fill(m, float("-inf")),
           {"x": randn(g, (4, 6)), "mask": mask(g, (4, 6))}, {"value": "-inf"})
    g.case("masked_fill_all", "masked_fill", lambda x, m: x.masked_fill(m, 0.0),
           {"x": randn(g, (2, 3)), "mask": torch.ones(2, 3, dtype=torch.bool)}, {"value": 0.0})
    # integer tensors (label maps): the value converts by truncation
    labels = torch.randint(0, 10, (3, 5), generator=g.gen, dtype=torch.int32)
    g.case("masked_fill_int32", "masked_fill", lambda x, m: x.masked_fill(m, 255),
           {"x": labels, "mask": mask(g, (3, 5))}, {"value": 255})
    g.case("masked_fill_int32_trunc", "masked_fill", lambda x, m: x.masked_fill(m, -7.9),
           {"x": labels, "mask": mask(g, (5,))}, {"value": -7.9})
    img = torch.randint(0, 256, (2, 4), generator=g.gen, dtype=torch.int32).to(torch.uint8)
    g.case("masked_fill_uint8", "masked_fill", lambda x, m: x.masked_fill(m, 7),
           {"x": img, "mask": mask(g, (2, 1))}, {"value": 7})
    for tag, dt, v, name in (("int32_overflow", torch.int32, 1e10, "int32"),
                             ("int32_nan", torch.int32, "nan", "int32"),
                             ("uint8_negative", torch.uint8, -0.5, "uint8"),
                             ("uint8_over", torch.uint8, 255.7, "uint8")):
        g.case("masked_fill_" + tag, "masked_fill", None,
               {"x": torch.zeros(2, dtype=dt), "mask": mask(g, (2,))}, {"value": v},
               expect_error="masked_fill: value %s does not fit in %s x [2]" % ("%g" % float(v), name))
    g.case("masked_fill_mask_too_big", "masked_fill", None,
           {"x": randn(g, (3,)), "mask": mask(g, (2, 3))}, {"value": 0.0},
           expect_error="masked_fill: mask [2,3] cannot be broadcast to x [3]")
    g.case("masked_fill_mask_mismatch", "masked_fill", None,
           {"x": randn(g, (2, 3)), "mask": mask(g, (2, 2))}, {"value": 0.0},
           expect_error="masked_fill: mask [2,2] cannot be broadcast to x [2,3]")
    g.case("masked_fill_float_mask", "masked_fill", None,
           {"x": randn(g, (2, 3)), "mask": randn(g, (2, 3), False)}, {"value": 0.0},
           expect_error="masked_fill: mask [2,3] must be uint8, got float32")


def gather_cases(g):
    # (x shape, dim, index shape): index may be smaller than x outside dim,
    # and longer or shorter than x along dim; values repeat.
    shapes = [
        ("dim1", (3, 5), 1, (3, 4)),
        ("dim0", (4, 3), 0, (6, 3)),
        ("neg_dim", (2, 3, 4), -1, (2, 3, 7)),
        ("target", (2, 5, 3, 4), 1, (2, 1, 3, 4)),
        ("smaller_outside", (4, 6, 5), 1, (3, 8, 2)),
        ("smaller_outer", (5, 3, 4), 2, (2, 3, 4)),
        ("one_d", (7,), 0, (12,)),
        ("x_0d", (), 0, ()),
        ("empty", (3, 4), 1, (3, 0)),
    ]
    for tag, sx, dim, si in shapes:
        size = sx[dim] if sx else 1
        index = torch.randint(0, size, si, generator=g.gen)
        g.case("gather_" + tag, "gather", lambda x, i, dim=dim: torch.gather(x, dim, i),
               {"x": randn(g, sx), "index": index}, {"dim": dim})
    ints = torch.randint(-50, 50, (3, 4), generator=g.gen, dtype=torch.int32)
    g.case("gather_int32", "gather", lambda x, i: torch.gather(x, 1, i),
           {"x": ints, "index": torch.randint(0, 4, (3, 2), generator=g.gen)}, {"dim": 1})
    g.case("gather_out_of_range", "gather", None,
           {"x": randn(g, (2, 5)), "index": torch.tensor([[0, 5], [1, 2]])}, {"dim": 1},
           expect_error="gather: index 5 is out of bounds for dimension 1 with size 5 (x [2,5], index [2,2])")
    g.case("gather_negative", "gather", None,
           {"x": randn(g, (2, 5)), "index": torch.tensor([[0, 1], [-1, 2]])}, {"dim": -1},
           expect_error="gather: index -1 is out of bounds for dimension 1 with size 5")
    g.case("gather_ndim", "gather", None,
           {"x": randn(g, (2, 5)), "index": torch.tensor([0, 1])}, {"dim": 1},
           expect_error="gather: index [2] must have as many dimensions as x [2,5]")
    g.case("gather_too_big", "gather", None,
           {"x": randn(g, (2, 5)), "index": torch.zeros(3, 1, dtype=torch.int64)}, {"dim": 1},
           expect_error="gather: index [3,1] is larger than x [2,5] in dimension 0")
    g.case("gather_bad_dim", "gather", None,
           {"x": randn(g, (2, 5)), "index": torch.zeros(2, 1, dtype=torch.int64)}, {"dim": 2},
           expect_error="gather: dim 2 out of range")
    g.case("gather_float_index", "gather", None,
           {"x": randn(g, (2, 5)), "index": randn(g, (2, 1), False)}, {"dim": 1},
           expect_error="gather: index [2,1] must be int32, got float32")


def index_select_cases(g):
    shapes = [
        ("dim0", (5, 4), 0, [4, 0, 4, 2]),
        ("dim1", (3, 6), 1, [5, 1, 1, 0, 3, 5, 2]),
        ("neg_dim", (3, 4, 5), -1, [0, 4, 4]),
        ("middle", (2, 5, 3), 1, [1, 3]),
        ("one_d", (6,), 0, [5, 5, 0]),
        ("empty_index", (4, 3), 0, []),
        ("x_0d", (), 0, [0]),
    ]
    for tag, sx, dim, idx in shapes:
        index = torch.tensor(idx, dtype=torch.int64)
        g.case("index_select_" + tag, "index_select", lambda x, i, dim=dim: torch.index_select(x, dim, i),
               {"x": randn(g, sx), "index": index}, {"dim": dim})
    g.case("index_select_0d_index", "index_select", lambda x, i: torch.index_select(x, 0, i),
           {"x": randn(g, (4, 2)), "index": torch.tensor(3)}, {"dim": 0})
    img = torch.randint(0, 256, (3, 2, 2), generator=g.gen, dtype=torch.int32).to(torch.uint8)
    g.case("index_select_uint8", "index_select", lambda x, i: torch.index_select(x, 0, i),
           {"x": img, "index": torch.tensor([2, 0])}, {"dim": 0})
    g.case("index_select_out_of_range", "index_select", None,
           {"x": randn(g, (5, 2)), "index": torch.tensor([1, 7])}, {"dim": 0},
           expect_error="index_select: index 7 is out of bounds for dimension 0 with size 5 (x [5,2], index [2])")
    g.case("index_select_negative", "index_select", None,
           {"x": randn(g, (5, 2)), "index": torch.tensor([-2])}, {"dim": 1},
           expect_error="index_select: index -2 is out of bounds for dimension 1 with size 2")
    g.case("index_select_2d_index", "index_select", None,
           {"x": randn(g, (5, 2)), "index": torch.zeros(2, 2, dtype=torch.int64)}, {"dim": 0},
           expect_error="index_select: index [2,2] must be 1-d (x [5,2])")
    g.case("index_select_bad_dim", "index_select", None,
           {"x": randn(g, (5, 2)), "index": torch.zeros(2, dtype=torch.int64)}, {"dim": -3},
           expect_error="index_select: dim -3 out of range")


def cast_cases(g):
    nan, inf = float("nan"), float("inf")
    floats = torch.tensor([-1.5, -0.7, -0.0, 0.7, 1.0, 2.5, 255.9, 256.5, 300.7, -300.2, 3e9, -3e9, nan, inf,
                           -inf, 2147483520.0, 1e10, 16777217.0])
    to = {"f32": torch.float32, "i32": torch.int32, "u8": torch.uint8}
    for dst in ("i32", "u8", "f32"):
        g.case("cast_f32_" + dst, "cast", lambda x, d=to[dst]: x.to(d), {"x": floats}, {"dtype": dst})
    ints = torch.tensor([-2147483648, -300, -1, 0, 1, 255, 256, 300, 16777217, 2147483647], dtype=torch.int32)
    for dst in ("f32", "u8", "i32"):
        g.case("cast_i32_" + dst, "cast", lambda x, d=to[dst]: x.to(d), {"x": ints}, {"dtype": dst})
    bytes_ = torch.tensor([0, 1, 127, 128, 255], dtype=torch.int32).to(torch.uint8)
    for dst in ("f32", "i32", "u8"):
        g.case("cast_u8_" + dst, "cast", lambda x, d=to[dst]: x.to(d), {"x": bytes_}, {"dtype": dst})
    g.case("cast_shape_kept", "cast", lambda x: x.to(torch.int32),
           {"x": randn(g, (2, 3, 4), False) * 10}, {"dtype": "i32"})
    g.case("cast_0d", "cast", lambda x: x.to(torch.uint8), {"x": torch.tensor(3.9)}, {"dtype": "u8"})


def cases(g):
    where_cases(g)
    masked_fill_cases(g)
    gather_cases(g)
    index_select_cases(g)
    cast_cases(g)
