"""F.interpolate: nearest (legacy) and bilinear (align_corners both ways).

Params as the C runner reads them: mode ("nearest" | "bilinear"), size [h, w]
or scale_h / scale_w (PyTorch's scale_factor, recompute_scale_factor=None),
align_corners.
"""
import torch
import torch.nn.functional as F


def interp_case(g, name, x, mode, size=None, scale=None, align_corners=None, **kw):
    params = {"mode": mode}
    if size is not None:
        params["size"] = list(size)
    if scale is not None:
        params["scale_h"], params["scale_w"] = scale
    if align_corners is not None:
        params["align_corners"] = align_corners
    fn = lambda t: F.interpolate(t, size=size, scale_factor=scale, mode=mode, align_corners=align_corners)
    g.case(name, "interpolate", fn, {"x": x}, params, **kw)


def cases(g):
    # ---- nearest ----
    interp_case(g, "nearest_up_size", g.randn(2, 3, 3, 5), "nearest", size=(7, 9))
    interp_case(g, "nearest_down_size", g.randn(2, 2, 7, 9), "nearest", size=(3, 4))
    interp_case(g, "nearest_mixed_size", g.randn(1, 3, 4, 9), "nearest", size=(9, 5))
    interp_case(g, "nearest_x2_size", g.randn(2, 2, 4, 5), "nearest", size=(8, 10))
    interp_case(g, "nearest_x2_scale", g.randn(2, 2, 5, 3), "nearest", scale=(2.0, 2.0))
    interp_case(g, "nearest_x3_scale", g.randn(1, 2, 3, 4), "nearest", scale=(3.0, 3.0))
    interp_case(g, "nearest_frac_up", g.randn(1, 2, 5, 7), "nearest", scale=(1.7, 2.3))
    interp_case(g, "nearest_frac_down", g.randn(1, 2, 9, 11), "nearest", scale=(0.6, 0.45))
    # Scale factors whose output is 2*in or in: PyTorch's NCHW forward (C > 1)
    # still maps with floor(i / scale), but its backward special-cases these
    # sizes (i >> 1, i) and so is not the gradient of its own forward. We match
    # the forward and keep our backward the exact adjoint (checked by finite
    # differences in test_interpolate.c), so these cases compare forward only.
    interp_case(g, "nearest_odd_scale_2x", g.randn(1, 2, 20, 20), "nearest", scale=(2.04, 2.04), grad=False)
    interp_case(g, "nearest_odd_scale_1x", g.randn(1, 2, 10, 12), "nearest", scale=(1.05, 1.05), grad=False)
    interp_case(g, "nearest_to_1x1", g.randn(1, 2, 5, 4), "nearest", size=(1, 1))

    # ---- bilinear ----
    for ac in (False, True):
        tag = "ac" if ac else "noac"
        interp_case(g, "bilinear_up_size_" + tag, g.randn(2, 2, 3, 5), "bilinear", size=(7, 9), align_corners=ac)
        interp_case(g, "bilinear_down_size_" + tag, g.randn(1, 3, 8, 9), "bilinear", size=(3, 5), align_corners=ac)
        interp_case(g, "bilinear_mixed_" + tag, g.randn(1, 2, 4, 9), "bilinear", size=(9, 4), align_corners=ac)
        interp_case(g, "bilinear_x2_" + tag, g.randn(2, 2, 4, 5), "bilinear", scale=(2.0, 2.0), align_corners=ac)
        interp_case(g, "bilinear_frac_" + tag, g.randn(1, 2, 5, 7), "bilinear", scale=(1.7, 0.6), align_corners=ac)
        interp_case(g, "bilinear_frac_down_" + tag, g.randn(1, 2, 9, 11), "bilinear", scale=(0.45, 0.75),
                    align_corners=ac)
        interp_case(g, "bilinear_same_h_" + tag, g.randn(1, 2, 5, 4), "bilinear", size=(5, 7), align_corners=ac)
        interp_case(g, "bilinear_scale_same_" + tag, g.randn(1, 2, 10, 6), "bilinear", scale=(1.05, 2.5),
                    align_corners=ac)
        interp_case(g, "bilinear_to_1_" + tag, g.randn(1, 2, 5, 4), "bilinear", size=(1, 3), align_corners=ac)
        interp_case(g, "bilinear_from_1_" + tag, g.randn(1, 2, 1, 4), "bilinear", size=(3, 6), align_corners=ac)
    interp_case(g, "bilinear_default_align", g.randn(1, 2, 6, 6), "bilinear", size=(11, 4))
    interp_case(g, "bilinear_empty_batch", g.randn(0, 2, 3, 3), "bilinear", size=(5, 5), align_corners=False)

    # ---- errors ----
    x = g.randn(1, 2, 5, 5)
    err = lambda name, msg, inp, **p: g.case(name, "interpolate", None, {"x": inp}, p, expect_error=msg)
    err("err_3d_input", "interpolate: input must be [N,C,H,W], got [2,5,5]", g.randn(2, 5, 5),
        mode="bilinear", size=[4, 4])
    err("err_size_and_scale", "only one of size or scale_factor", x, mode="nearest", size=[4, 4],
        scale_h=2.0, scale_w=2.0)
    err("err_neither", "either size or scale_factor", x, mode="nearest")
    err("err_align_nearest", "align_corners can only be set with bilinear", x, mode="nearest", size=[4, 4],
        align_corners=True)
    err("err_zero_output", "output [1,2,0,0]", x, mode="bilinear", scale_h=0.1, scale_w=0.1)
    err("err_negative_scale", "scale_factor must be positive", x, mode="nearest", scale_h=-2.0, scale_w=2.0)
    err("err_partial_size", "size must be positive", x, mode="nearest", size=[4, 0])
    err("err_int_input", "interpolate: input [1,1,2,2] must be float32", torch.zeros(1, 1, 2, 2, dtype=torch.int32),
        mode="nearest", size=[4, 4])
