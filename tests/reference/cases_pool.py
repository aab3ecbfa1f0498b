"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d.

Params as the C runner reads them: kernel/stride/padding/dilation are [h, w]
lists (stride 0 = kernel, dilation 0 = 1), ceil_mode, exclude_pad
(= not count_include_pad); adaptive pooling takes out [h, w].
"""
import torch
import torch.nn.functional as F


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def max_case(g, name, x, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, **tol):
    params = {"kernel": pair(kernel), "stride": pair(stride or 0), "padding": pair(padding),
              "dilation": pair(dilation), "ceil_mode": ceil_mode}
    fn = lambda t: F.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode)
    g.case(name, "max_pool2d", fn, {"x": x}, params, **tol)


def avg_case(g, name, x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True, **tol):
    params = {"kernel": pair(kernel), "stride": pair(stride or 0), "padding": pair(padding),
              "ceil_mode": ceil_mode, "exclude_pad": not count_include_pad}
    fn = lambda t: F.avg_pool2d(t, kernel, stride, padding, ceil_mode, count_include_pad)
    g.case(name, "avg_pool2d", fn, {"x": x}, params, **tol)


def adaptive_case(g, name, x, out, **tol):
    g.case(name, "adaptive_avg_pool2d", lambda t: F.adaptive_avg_pool2d(t, out), {"x": x}, {"out": pair(out)}, **tol)


def cases(g):
    # ---- max pooling ----
    max_case(g, "max_k2s2", g.randn(2, 3, 8, 6), 2)
    max_case(g, "max_k2s2_odd", g.randn(2, 2, 7, 9), 2)
    max_case(g, "max_k2s2_odd_ceil", g.randn(2, 2, 7, 9), 2, ceil_mode=True)
    max_case(g, "max_k3s2p1", g.randn(2, 3, 9, 10), 3, 2, 1)
    max_case(g, "max_k3s2p1_ceil", g.randn(1, 2, 10, 9), 3, 2, 1, ceil_mode=True)
    max_case(g, "max_k3s1p1", g.randn(1, 2, 6, 7), 3, 1, 1)
    # ceil_mode where the last window would start in the right padding and is dropped
    max_case(g, "max_k2s2p1_ceil_drop", g.randn(1, 2, 5, 5), 2, 2, 1, ceil_mode=True)
    max_case(g, "max_k2s2p1_floor", g.randn(1, 2, 5, 5), 2, 2, 1)
    max_case(g, "max_rect", g.randn(2, 2, 9, 8), (3, 2), (2, 1), (1, 1))
    max_case(g, "max_rect_ceil", g.randn(1, 3, 8, 11), (2, 3), (3, 2), (1, 0), ceil_mode=True)
    max_case(g, "max_dilated", g.randn(1, 2, 11, 10), 3, 1, 1, 2)
    max_case(g, "max_dilated_rect_ceil", g.randn(2, 1, 12, 13), (3, 2), (2, 3), (1, 1), (2, 3), ceil_mode=True)
    max_case(g, "max_k5s3p2", g.randn(1, 2, 13, 12), 5, 3, 2)
    max_case(g, "max_global", g.randn(2, 3, 5, 7), (5, 7))
    max_case(g, "max_3d_input", g.randn(3, 7, 6), 3, 2, 1)
    max_case(g, "max_kernel1_stride2", g.randn(1, 2, 5, 6), 1, 2)
    # ties: the first maximum of a window (in row-major order) gets the gradient
    ties = torch.tensor([[1., 1., 0., 2., 2.], [1., 0., 2., 2., 0.], [3., 3., 3., 1., 1.],
                         [3., 0., 1., 1., 1.], [0., 0., 0., 0., 0.]]).reshape(1, 1, 5, 5).requires_grad_()
    max_case(g, "max_ties", ties, 2, 1)
    max_case(g, "max_ties_k3s2p1", ties, 3, 2, 1, ceil_mode=True)
    # NaN propagates and the last NaN of a window is the argmax; all -inf keeps the first element
    x = g.randn(1, 2, 6, 6, requires_grad=False)
    x[0, 0, 0, 1] = float("nan")
    x[0, 0, 1, 0] = float("nan")
    x[0, 1, 3, 3] = float("nan")
    x[0, 1, 4:6, 0:2] = float("-inf")
    max_case(g, "max_nan_inf", x.requires_grad_(), 2)
    max_case(g, "max_nan_overlap", x.detach().clone().requires_grad_(), 3, 1, 1)
    max_case(g, "max_empty_batch", g.randn(0, 2, 5, 5), 2)

    # ---- average pooling ----
    avg_case(g, "avg_k2s2", g.randn(2, 3, 8, 6), 2)
    avg_case(g, "avg_k2s2_odd", g.randn(2, 2, 7, 9), 2)
    avg_case(g, "avg_k2s2_odd_ceil", g.randn(2, 2, 7, 9), 2, ceil_mode=True)
    for include in (True, False):
        tag = "incl" if include else "excl"
        avg_case(g, "avg_k3s2p1_" + tag, g.randn(2, 2, 9, 10), 3, 2, 1, count_include_pad=include)
        # last window clipped to input + padding: PyTorch's ceil_mode divisor
        avg_case(g, "avg_k3s2p1_ceil_" + tag, g.randn(1, 2, 6, 8), 3, 2, 1, True, include)
        avg_case(g, "avg_k2s2p1_ceil_" + tag, g.randn(1, 2, 5, 6), 2, 2, 1, True, include)
        avg_case(g, "avg_rect_" + tag, g.randn(2, 2, 9, 8), (3, 2), (2, 1), (1, 1), False, include)
        avg_case(g, "avg_rect_ceil_" + tag, g.randn(1, 3, 8, 11), (4, 3), (3, 2), (2, 1), True, include)
        avg_case(g, "avg_k3s1p1_" + tag, g.randn(1, 2, 6, 7), 3, 1, 1, False, include)
    avg_case(g, "avg_global", g.randn(2, 3, 5, 7), (5, 7))
    avg_case(g, "avg_3d_input", g.randn(3, 7, 6), 3, 2, 1)
    avg_case(g, "avg_k5s3p2_ceil", g.randn(1, 2, 13, 12), 5, 3, 2, True)

    # ---- adaptive average pooling ----
    adaptive_case(g, "adaptive_divisible", g.randn(2, 3, 8, 6), (4, 3))
    adaptive_case(g, "adaptive_uneven", g.randn(2, 2, 7, 5), (3, 2))
    adaptive_case(g, "adaptive_upsample", g.randn(1, 2, 3, 4), (5, 7))
    adaptive_case(g, "adaptive_rect", g.randn(1, 3, 9, 11), (1, 4))
    adaptive_case(g, "adaptive_same", g.randn(1, 2, 5, 6), (5, 6))
    adaptive_case(g, "adaptive_3d_input", g.randn(3, 7, 6), (2, 4))
    # output 1x1 is PyTorch's mean: its pairwise summation order differs from ours
    adaptive_case(g, "adaptive_global", g.randn(2, 3, 7, 9), 1, rtol=1e-5, atol=2e-6)
    adaptive_case(g, "adaptive_global_3d", g.randn(4, 5, 3), 1, rtol=1e-5, atol=2e-6)
    adaptive_case(g, "adaptive_global_1x1_input", g.randn(2, 3, 1, 1), 1)

    # ---- errors ----
    x = g.randn(1, 2, 5, 5)
    max_case_err = lambda name, msg, **p: g.case(name, "max_pool2d", None, {"x": x},
                                                 dict({"kernel": [3, 3]}, **p), expect_error=msg)
    max_case_err("max_err_pad", "pad should be at most half of kernel size", padding=[2, 1])
    max_case_err("max_err_too_small", "calculated output size [1,2,0,0]", kernel=[7, 7])
    max_case_err("max_err_kernel0", "kernel size should be greater than zero", kernel=[0, 2])
    max_case_err("max_err_stride", "stride should be greater than zero", stride=[-1, 1])
    max_case_err("max_err_dilation", "dilation should be greater than zero", dilation=[1, -2])
    max_case_err("max_err_dilated_too_small", "input [1,2,5,5] is too small", dilation=[3, 3])
    g.case("avg_err_pad", "avg_pool2d", None, {"x": x}, {"kernel": [2, 2], "padding": [0, 2]},
           expect_error="avg_pool2d: pad should be at most half of kernel size")
    g.case("avg_err_dilation", "avg_pool2d", None, {"x": x}, {"kernel": [2, 2], "dilation": [2, 2]},
           expect_error="avg_pool2d: dilation is not supported")
    g.case("max_err_2d_input", "max_pool2d", None, {"x": g.randn(5, 5)}, {"kernel": [2, 2]},
           expect_error="max_pool2d: input must be [N,C,H,W] or [C,H,W], got [5,5]")
    g.case("max_err_empty_plane", "max_pool2d", None, {"x": g.randn(1, 2, 0, 5)}, {"kernel": [2, 2]},
           expect_error="empty non-batch dimension")
    g.case("avg_err_int", "avg_pool2d", None, {"x": torch.zeros(1, 1, 4, 4, dtype=torch.int32)},
           {"kernel": [2, 2]}, expect_error="avg_pool2d: input [1,1,4,4] must be float32")
    g.case("adaptive_err_out", "adaptive_avg_pool2d", None, {"x": x}, {"out": [0, 2]},
           expect_error="adaptive_avg_pool2d: output size must be positive")
    g.case("adaptive_err_5d", "adaptive_avg_pool2d", None, {"x": g.randn(1, 1, 2, 3, 3)}, {"out": [2, 2]},
           expect_error="input must be [N,C,H,W] or [C,H,W]")
