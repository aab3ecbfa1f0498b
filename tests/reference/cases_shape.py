"""Shape ops: reshape, flatten, squeeze, unsqueeze, permute, transpose, slice,
concat and split. All are exact data movement, so the default tolerances hold
(gradients are sums of at most one upstream value per element)."""
import torch

BIG = 2 ** 62  # "no end" for slices (clamped like Python's None)


def sliced(x, dim, start, end, step):
    idx = [slice(None)] * x.dim()
    idx[dim] = slice(start, end, step)
    return x[tuple(idx)]


def ints(g, *shape, dtype=torch.int64, hi=1000):
    return torch.randint(-hi if dtype != torch.uint8 else 0, hi if dtype != torch.uint8 else 255, shape,
                         generator=g.gen).to(dtype)


def cases(g):
    reshape_cases(g)
    flatten_squeeze_cases(g)
    permute_cases(g)
    slice_cases(g)
    concat_cases(g)
    split_cases(g)


def reshape_cases(g):
    x = g.randn(2, 3, 4)
    for i, shape in enumerate([[4, 6], [-1, 4], [24], [2, -1, 2, 3], [1, 24, 1], [3, 2, 2, 2]]):
        g.case("reshape_%d" % i, "reshape", lambda t, s=shape: t.reshape(s), {"x": x}, {"shape": shape})
    g.case("reshape_scalar_to_1", "reshape", lambda t: t.reshape([1]), {"x": g.randn(())}, {"shape": [1]})
    g.case("reshape_1_to_scalar", "reshape", lambda t: t.reshape([]), {"x": g.randn(1)}, {"shape": []})
    g.case("reshape_empty", "reshape", lambda t: t.reshape([3, 0, 2]), {"x": g.randn(0, 6)},
           {"shape": [3, 0, 2]})
    g.case("reshape_int", "reshape", lambda t: t.reshape([3, -1]), {"x": ints(g, 2, 6, dtype=torch.int32)},
           {"shape": [3, -1]})
    g.case("reshape_bad_numel", "reshape", None, {"x": g.randn(2, 3)}, {"shape": [4, -1]},
           expect_error="reshape: cannot reshape [2,3] (6 elements) into [4,-1]")
    g.case("reshape_two_inferred", "reshape", None, {"x": g.randn(2, 3)}, {"shape": [-1, -1]},
           expect_error="only one dimension can be -1")
    g.case("reshape_ambiguous", "reshape", None, {"x": g.randn(0, 3)}, {"shape": [0, -1]},
           expect_error="ambiguous")
    g.case("reshape_negative", "reshape", None, {"x": g.randn(2, 3)}, {"shape": [-2, -3]},
           expect_error="reshape: cannot reshape [2,3] into [-2,-3]: invalid size -2")


def flatten_squeeze_cases(g):
    x = g.randn(2, 3, 4, 5)
    for i, (s, e) in enumerate([(1, -1), (0, -1), (2, 2), (0, 1), (-3, -2)]):
        g.case("flatten_%d" % i, "flatten", lambda t, s=s, e=e: torch.flatten(t, s, e), {"x": x},
               {"start": s, "end": e})
    g.case("flatten_scalar", "flatten", lambda t: torch.flatten(t), {"x": g.randn(())}, {"start": 0, "end": -1})
    g.case("flatten_bad_order", "flatten", None, {"x": x}, {"start": 2, "end": 1},
           expect_error="flatten: start_dim 2 comes after end_dim 1 for input [2,3,4,5]")
    g.case("flatten_bad_dim", "flatten", None, {"x": x}, {"start": 0, "end": 4},
           expect_error="flatten: dim 4 out of range")

    y = g.randn(3, 1, 4, 1)
    for i, d in enumerate([1, 3, -1, -3, 0, 2]):  # 0 and 2 are not size 1: no-ops
        g.case("squeeze_%d" % i, "squeeze", lambda t, d=d: t.squeeze(d), {"x": y}, {"dim": d})
    g.case("squeeze_scalar", "squeeze", lambda t: t.squeeze(0), {"x": g.randn(())}, {"dim": 0})
    g.case("squeeze_bad_dim", "squeeze", None, {"x": y}, {"dim": 4}, expect_error="squeeze: dim 4 out of range")
    z = g.randn(3, 4)
    for i, d in enumerate([0, 1, 2, -1, -3]):
        g.case("unsqueeze_%d" % i, "unsqueeze", lambda t, d=d: t.unsqueeze(d), {"x": z}, {"dim": d})
    g.case("unsqueeze_scalar", "unsqueeze", lambda t: t.unsqueeze(-1), {"x": g.randn(())}, {"dim": -1})
    g.case("unsqueeze_int", "unsqueeze", lambda t: t.unsqueeze(1), {"x": ints(g, 3, 2)}, {"dim": 1})
    g.case("unsqueeze_bad_dim", "unsqueeze", None, {"x": z}, {"dim": 3},
           expect_error="unsqueeze: dim 3 out of range [-3, 2] for input [3,4]")


def permute_cases(g):
    x = g.randn(2, 3, 4, 5)
    perms = [[0, 1, 2, 3], [0, 2, 3, 1], [0, 3, 1, 2], [3, 2, 1, 0], [1, 0, 2, 3], [2, 3, 0, 1], [0, 1, 3, 2],
             [-1, 0, -2, 1]]
    for i, p in enumerate(perms):
        g.case("permute_%d" % i, "permute", lambda t, p=p: t.permute(p), {"x": x}, {"dims": p})
    # size-1 dims and odd sizes; tiles larger than 32 along both sides
    g.case("permute_ones", "permute", lambda t: t.permute(2, 0, 3, 1), {"x": g.randn(1, 7, 1, 3)},
           {"dims": [2, 0, 3, 1]})
    g.case("permute_tiles", "permute", lambda t: t.permute(1, 0), {"x": g.randn(37, 45)}, {"dims": [1, 0]})
    g.case("permute_nhwc_rgb", "permute", lambda t: t.permute(0, 2, 3, 1), {"x": g.randn(2, 3, 9, 11)},
           {"dims": [0, 2, 3, 1]})
    g.case("permute_5d", "permute", lambda t: t.permute(4, 1, 3, 0, 2), {"x": g.randn(2, 3, 2, 3, 5)},
           {"dims": [4, 1, 3, 0, 2]})
    g.case("permute_scalar", "permute", lambda t: t.permute([]), {"x": g.randn(())}, {"dims": []})
    g.case("permute_empty", "permute", lambda t: t.permute(1, 0, 2), {"x": g.randn(2, 0, 3)}, {"dims": [1, 0, 2]})
    g.case("permute_int", "permute", lambda t: t.permute(2, 0, 1), {"x": ints(g, 3, 4, 5)}, {"dims": [2, 0, 1]})
    g.case("permute_u8", "permute", lambda t: t.permute(1, 2, 0), {"x": ints(g, 3, 7, 5, dtype=torch.uint8)},
           {"dims": [1, 2, 0]})
    g.case("permute_repeated", "permute", None, {"x": x}, {"dims": [0, 1, 1, 2]},
           expect_error="permute: dims [0,1,1,2] are not a permutation of the 4 dimensions of input [2,3,4,5]")
    g.case("permute_out_of_range", "permute", None, {"x": x}, {"dims": [0, 1, 2, 4]},
           expect_error="are not a permutation")

    for i, (a, b) in enumerate([(0, 1), (-1, -2), (1, 3), (2, 2), (0, -1)]):
        g.case("transpose_%d" % i, "transpose", lambda t, a=a, b=b: t.transpose(a, b), {"x": x},
               {"dim0": a, "dim1": b})
    g.case("transpose_2d", "transpose", lambda t: t.t(), {"x": g.randn(5, 33)}, {"dim0": 0, "dim1": 1})
    g.case("transpose_scalar", "transpose", lambda t: t.transpose(0, -1), {"x": g.randn(())},
           {"dim0": 0, "dim1": -1})
    g.case("transpose_int", "transpose", lambda t: t.transpose(0, 1), {"x": ints(g, 4, 3, dtype=torch.int32)},
           {"dim0": 0, "dim1": 1})
    g.case("transpose_bad_dim", "transpose", None, {"x": x}, {"dim0": 0, "dim1": 4},
           expect_error="transpose: dim 4 out of range")


def slice_cases(g):
    x = g.randn(4, 5, 6)
    specs = [
        (0, 1, 3, 1),          # outermost: a view
        (0, 0, BIG, 1),        # whole tensor
        (1, 1, 4, 1),
        (1, 0, BIG, 2),
        (2, 1, 6, 2),          # innermost, strided
        (-1, -4, -1, 1),       # negative bounds
        (-1, -100, 100, 3),    # clamped
        (1, 3, 1, 1),          # empty
        (2, 5, 6, 7),          # step beyond the size: one element
        (0, -1, BIG, 1),
        (-2, 2, -1, 2),
    ]
    for i, (d, s, e, st) in enumerate(specs):
        g.case("slice_%d" % i, "slice", lambda t, d=d, s=s, e=e, st=st: sliced(t, d, s, e, st), {"x": x},
               {"dim": d, "start": s, "end": e, "step": st})
    lead = g.randn(1, 1, 7, 3)
    g.case("slice_leading_ones", "slice", lambda t: sliced(t, 2, 2, 6, 1), {"x": lead},
           {"dim": 2, "start": 2, "end": 6, "step": 1})
    g.case("slice_leading_ones_step", "slice", lambda t: sliced(t, 2, 0, 7, 3), {"x": lead},
           {"dim": 2, "start": 0, "end": 7, "step": 3})
    g.case("slice_int", "slice", lambda t: sliced(t, 1, 1, 5, 2), {"x": ints(g, 3, 6, dtype=torch.int32)},
           {"dim": 1, "start": 1, "end": 5, "step": 2})
    g.case("slice_u8", "slice", lambda t: sliced(t, 0, 1, 3, 1), {"x": ints(g, 4, 3, dtype=torch.uint8)},
           {"dim": 0, "start": 1, "end": 3, "step": 1})
    g.case("slice_bad_step", "slice", None, {"x": x}, {"dim": 1, "start": 0, "end": 3, "step": 0},
           expect_error="slice: step must be >= 1, got 0 (input [4,5,6], dim 1)")
    g.case("slice_bad_dim", "slice", None, {"x": x}, {"dim": 3, "start": 0, "end": 3, "step": 1},
           expect_error="slice: dim 3 out of range")
    g.case("slice_scalar", "slice", None, {"x": g.randn(())}, {"dim": 0, "start": 0, "end": 1, "step": 1},
           expect_error="slice: cannot slice the 0-d tensor []")


def concat_cases(g):
    def cat(dim):
        return lambda *xs: torch.cat(xs, dim)

    nchw = [g.randn(2, c, 3, 4) for c in (3, 1, 5)]
    g.case("concat_channels", "concat", cat(1), {"x0": nchw[0], "x1": nchw[1], "x2": nchw[2]}, {"dim": 1})
    g.case("concat_batch", "concat", cat(0), {"x0": g.randn(1, 2, 3), "x1": g.randn(3, 2, 3)}, {"dim": 0})
    g.case("concat_last", "concat", cat(-1), {"x0": g.randn(2, 3, 1), "x1": g.randn(2, 3, 4)}, {"dim": -1})
    g.case("concat_one", "concat", cat(1), {"x0": g.randn(2, 3)}, {"dim": 1})
    g.case("concat_empty_piece", "concat", cat(1),
           {"x0": g.randn(2, 2, 3), "x1": g.randn(2, 0, 3), "x2": g.randn(2, 1, 3)}, {"dim": 1})
    g.case("concat_no_grad_input", "concat", cat(0),
           {"x0": g.randn(2, 3), "x1": g.randn(1, 3, requires_grad=False)}, {"dim": 0})
    g.case("concat_int", "concat", cat(1), {"x0": ints(g, 2, 2), "x1": ints(g, 2, 3)}, {"dim": 1})
    g.case("concat_u8", "concat", cat(0),
           {"x0": ints(g, 1, 3, dtype=torch.uint8), "x1": ints(g, 2, 3, dtype=torch.uint8)}, {"dim": 0})
    g.case("concat_mismatch", "concat", None, {"x0": g.randn(2, 3), "x1": g.randn(2, 4)}, {"dim": 0},
           expect_error="concat: tensor 1 [2,4] does not match tensor 0 [2,3] outside dim 0")
    g.case("concat_ndim_mismatch", "concat", None, {"x0": g.randn(2, 3), "x1": g.randn(2, 3, 1)}, {"dim": 1},
           expect_error="concat: tensor 1 [2,3,1] does not match tensor 0 [2,3] outside dim 1")
    g.case("concat_dtype_mismatch", "concat", None, {"x0": g.randn(2, 3), "x1": ints(g, 2, 3)}, {"dim": 0},
           expect_error="concat: tensor 1 [2,3] is int32 but tensor 0 [2,3] is float32")
    g.case("concat_scalar", "concat", None, {"x0": g.randn(()), "x1": g.randn(())}, {"dim": 0},
           expect_error="concat: tensor 0 [] is 0-d")
    g.case("concat_bad_dim", "concat", None, {"x0": g.randn(2, 3), "x1": g.randn(2, 3)}, {"dim": 2},
           expect_error="concat: dim 2 out of range")


def split_cases(g):
    x = g.randn(2, 6, 3)

    def split(sizes, dim, live):
        # Only piece `live` carries a gradient: ltrain's fixture runner runs one
        # backward per output, and a second backward over the same graph is
        # refused (see lt_backward). Each piece's backward is covered by some case.
        def fn(t):
            pieces = torch.split(t, sizes, dim)
            return tuple(p if i == live else p.detach() for i, p in enumerate(pieces))
        return fn

    specs = [([1, 2, 3], 1, 0), ([1, 2, 3], 1, 1), ([1, 2, 3], 1, 2), ([1, 1], 0, 1), ([2, 0, 1], -1, 2),
             ([2, 0, 1], -1, 0), ([6], 1, 0), ([3, 3], -2, 1)]
    for i, (sizes, dim, live) in enumerate(specs):
        g.case("split_%d" % i, "split", split(sizes, dim, live), {"x": x}, {"sizes": sizes, "dim": dim})
    g.case("split_int", "split", split([2, 1], 0, 0), {"x": ints(g, 3, 2, dtype=torch.int32)},
           {"sizes": [2, 1], "dim": 0})
    g.case("split_bad_sum", "split", None, {"x": g.randn(5, 3)}, {"sizes": [2, 2], "dim": 0},
           expect_error="split: sizes [2,2] sum to 4 but dim 0 of input [5,3] is 5")
    g.case("split_negative", "split", None, {"x": g.randn(5, 3)}, {"sizes": [6, -1], "dim": 0},
           expect_error="split: size -1 of piece 1 is negative")
