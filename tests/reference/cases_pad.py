"""F.pad: constant (with negative = crop), reflect and replicate padding in
PyTorch's order (last dim first), its dimension rules and its limits. Data
movement only; reflect/replicate gradients sum at most a few upstream values
per element, well within the default tolerances."""
import torch
import torch.nn.functional as F


def pad(pads, mode, value=0.0):
    if mode == "constant":
        return lambda t: F.pad(t, pads, mode=mode, value=value)
    return lambda t: F.pad(t, pads, mode=mode)


def cases(g):
    constant_cases(g)
    for mode in ("reflect", "replicate"):
        border_cases(g, mode)
    error_cases(g)


def constant_cases(g):
    x = g.randn(2, 3, 4, 5)
    specs = [
        ([1, 2], 0.0),
        ([1, 2, 0, 3], 0.0),
        ([2, 1, 3, 0], -1.5),
        ([1, 1, 1, 1, 1, 0, 0, 2], 0.25),   # every dim, batch included
        ([-1, -2, 1, 0], 0.0),              # crop the last dim, pad H
        ([2, -1, -3, 1, 0, -1], 3.0),       # mixed pad and crop on three dims
        ([-3, -2], 0.0),                    # crop to an empty last dim
        ([0, 0, 0, 0], 0.0),
    ]
    for i, (pads, value) in enumerate(specs):
        g.case("constant_%d" % i, "pad", pad(pads, "constant", value), {"x": x},
               {"pads": pads, "mode": "constant", "value": value})
    g.case("constant_1d", "pad", pad([3, 1], "constant", 2.0), {"x": g.randn(5)},
           {"pads": [3, 1], "mode": "constant", "value": 2.0})
    g.case("constant_no_pads", "pad", pad([], "constant"), {"x": g.randn(3, 2)},
           {"pads": [], "mode": "constant", "value": 0.0})
    g.case("constant_scalar", "pad", pad([], "constant"), {"x": g.randn(())},
           {"pads": [], "mode": "constant", "value": 0.0})
    g.case("constant_nan", "pad", pad([1, 1], "constant", float("nan")), {"x": g.randn(2, 3)},
           {"pads": [1, 1], "mode": "constant", "value": "nan"})
    g.case("constant_empty_input", "pad", pad([1, 2], "constant", 4.0), {"x": g.randn(2, 0)},
           {"pads": [1, 2], "mode": "constant", "value": 4.0})
    g.case("constant_int", "pad", pad([1, 0, 0, 2], "constant", -2.7),
           {"x": torch.randint(-50, 50, (2, 3), generator=g.gen, dtype=torch.int32)},
           {"pads": [1, 0, 0, 2], "mode": "constant", "value": -2.7})
    g.case("constant_u8", "pad", pad([2, 1], "constant", 255.0),
           {"x": torch.randint(0, 255, (2, 3), generator=g.gen, dtype=torch.uint8)},
           {"pads": [2, 1], "mode": "constant", "value": 255.0})


def border_cases(g, mode):
    specs = [
        ((3, 6), [2, 3]),                     # 2-d input, 1-d padding
        ((2, 3, 5), [1, 4]),                  # 3-d input, 1-d padding
        ((3, 4, 5), [1, 2, 3, 0]),            # 3-d input, 2-d padding
        ((2, 2, 4, 5), [1, 2, 3, 1]),
        ((2, 2, 4, 5), [4, 4, 3, 3]),         # the reflect maximum: size - 1
        ((2, 2, 4, 5), [-1, 2, 1, -2]),       # negative amounts crop
        ((1, 2, 3, 4, 3), [1, 1, 2, 0, 1, 2]),
        ((2, 3, 4, 3), [2, 0, 1, 1, 0, 2]),   # 4-d input, 3-d padding
        ((1, 1, 1, 6), [0, 0, 0, 0]),
    ]
    if mode == "replicate":
        specs.append(((1, 2, 2, 3), [7, 5, 4, 6]))  # wider than the input
    for i, (shape, pads) in enumerate(specs):
        g.case("%s_%d" % (mode, i), "pad", pad(pads, mode), {"x": g.randn(*shape)}, {"pads": pads, "mode": mode})


def error_cases(g):
    x = g.randn(1, 2, 4, 5)
    g.case("reflect_too_wide", "pad", None, {"x": x}, {"pads": [5, 0, 1, 1], "mode": "reflect"},
           expect_error="pad: reflect padding (5, 0) of dimension 3 must be less than its size in input [1,2,4,5]")
    g.case("reflect_too_wide_h", "pad", None, {"x": x}, {"pads": [1, 1, 0, 4], "mode": "reflect"},
           expect_error="pad: reflect padding (0, 4) of dimension 2")
    g.case("odd_pads", "pad", None, {"x": x}, {"pads": [1], "mode": "constant"},
           expect_error="pad: the number of padding values must be even, got 1 for input [1,2,4,5]")
    g.case("too_many_pads", "pad", None, {"x": g.randn(2, 3)}, {"pads": [1, 1, 1, 1, 1, 1], "mode": "constant"},
           expect_error="pad: pads [1,1,1,1,1,1] pad 3 dimensions but input [2,3] has 2")
    g.case("reflect_needs_batch_dims", "pad", None, {"x": g.randn(5)}, {"pads": [1, 1], "mode": "reflect"},
           expect_error="pad: reflect mode pads the last 1-3 dimensions")
    g.case("replicate_wrong_rank", "pad", None, {"x": x}, {"pads": [1, 1], "mode": "replicate"},
           expect_error="got pads [1,1] for input [1,2,4,5]")
    g.case("reflect_no_pads", "pad", None, {"x": x}, {"pads": [], "mode": "reflect"},
           expect_error="pad: reflect mode")
    g.case("crop_negative", "pad", None, {"x": x}, {"pads": [-3, -3], "mode": "constant"},
           expect_error="pad: padding (-3, -3) of dimension 3 makes input [1,2,4,5] -1 long")
    g.case("replicate_crop_to_empty", "pad", None, {"x": g.randn(2, 4, 5)}, {"pads": [-2, -3], "mode": "replicate"},
           expect_error="pad: padding (-2, -3) of dimension 2 makes input [2,4,5] 0 long")
    g.case("replicate_empty_dim", "pad", None, {"x": g.randn(1, 2, 0)}, {"pads": [1, 1], "mode": "replicate"},
           expect_error="pad: replicate mode cannot pad the empty dimension 2 of input [1,2,0]")
    g.case("u8_overflow", "pad", None, {"x": torch.zeros(2, 2, dtype=torch.uint8)},
           {"pads": [1, 1], "mode": "constant", "value": 300.0},
           expect_error="pad: value 300 cannot be converted to uint8 without overflow (input [2,2])")
