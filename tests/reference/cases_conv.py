"""conv2d and conv_transpose2d against F.conv2d / F.conv_transpose2d.

Tolerances: the default (rtol 1e-5, atol 1e-6) holds for the forward of
short reductions. Each output / gradient element is a float32 sum whose order
differs from PyTorch's (im2col + sgemm blocking vs oneDNN / thnn): the weight
gradient sums over batch*Ho*Wo products, the input gradient over
C_out/groups*kh*kw, the output over C_in/groups*kh*kw. Cases whose sums reach
a few hundred terms of O(1) magnitude carry atol 1e-5 (the rounding of such a
sum is ~sqrt(n)*2^-24*|terms|, about 1e-6..5e-6, which breaks atol 1e-6 at
elements that cancel to near zero), stated per case below.
"""
import torch
import torch.nn.functional as F


def pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def conv_case(g, name, x_shape, w_shape, bias=True, stride=1, padding=0, dilation=1, groups=1, **tol):
    x = g.randn(*x_shape)
    w = g.randn(*w_shape, scale=0.5)
    params = {"stride": pair(stride), "padding": pair(padding), "dilation": pair(dilation), "groups": groups}
    inputs = {"x": x, "w": w}
    if bias:
        inputs["b"] = g.randn(w_shape[0])
        fn = lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups)
    else:
        fn = lambda x, w: F.conv2d(x, w, None, stride, padding, dilation, groups)
    g.case(name, "conv2d", fn, inputs, params, **tol)


def convt_case(g, name, x_shape, w_shape, bias=True, stride=1, padding=0, output_padding=0, dilation=1, groups=1,
               **tol):
    x = g.randn(*x_shape)
    w = g.randn(*w_shape, scale=0.5)
    params = {"stride": pair(stride), "padding": pair(padding), "output_padding": pair(output_padding),
              "dilation": pair(dilation), "groups": groups}
    inputs = {"x": x, "w": w}
    if bias:
        inputs["b"] = g.randn(w_shape[1] * groups)
        fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)
    else:
        fn = lambda x, w: F.conv_transpose2d(x, w, None, stride, padding, output_padding, groups, dilation)
    g.case(name, "conv_transpose2d", fn, inputs, params, **tol)


def error_case(g, name, op, x_shape, w_shape, b_shape, params, message):
    inputs = {"x": torch.zeros(*x_shape), "w": torch.zeros(*w_shape)}
    if b_shape is not None:
        inputs["b"] = torch.zeros(*b_shape)
    g.case(name, op, None, inputs, params, expect_error=message)


def cases(g):
    # ---- conv2d ----
    conv_case(g, "conv_basic", (2, 3, 7, 6), (4, 3, 3, 3))
    conv_case(g, "conv_no_bias", (2, 3, 6, 7), (5, 3, 3, 3), bias=False)
    conv_case(g, "conv_stride2_pad1", (2, 3, 9, 8), (4, 3, 3, 3), stride=2, padding=1)
    conv_case(g, "conv_nonsquare", (2, 3, 9, 11), (4, 3, 3, 2), stride=(2, 1), padding=(2, 1))
    conv_case(g, "conv_dilation2", (2, 2, 10, 9), (3, 2, 3, 3), padding=2, dilation=2)
    conv_case(g, "conv_odd_all", (2, 5, 9, 11), (4, 5, 5, 3), stride=(3, 2), padding=(2, 1), dilation=(1, 2))
    conv_case(g, "conv_groups2", (2, 4, 6, 6), (6, 2, 3, 3), padding=1, groups=2)
    conv_case(g, "conv_groups3_stride2", (2, 6, 7, 7), (9, 2, 3, 1), stride=2, padding=(1, 0), groups=3,
              bias=False)
    conv_case(g, "conv_depthwise", (2, 4, 7, 7), (4, 1, 3, 3), padding=1, groups=4)
    conv_case(g, "conv_depthwise_mult2_s2", (2, 3, 9, 8), (6, 1, 3, 3), stride=2, padding=1, groups=3)
    conv_case(g, "conv_depthwise_dil_nobias", (2, 3, 8, 9), (3, 1, 3, 2), padding=(2, 1), dilation=2, groups=3,
              bias=False)
    conv_case(g, "conv_depthwise_5x5_s2_odd", (2, 4, 11, 10), (4, 1, 5, 5), stride=2, padding=2, groups=4)
    conv_case(g, "conv_1x1", (2, 5, 4, 3), (3, 5, 1, 1))
    conv_case(g, "conv_1x1_stride2", (2, 5, 7, 6), (3, 5, 1, 1), stride=2)
    conv_case(g, "conv_1x1_groups", (3, 6, 5, 5), (4, 3, 1, 1), groups=2, bias=False)
    conv_case(g, "conv_1x1_padded", (2, 3, 4, 4), (2, 3, 1, 1), padding=1)
    conv_case(g, "conv_kernel_equals_input", (2, 3, 5, 4), (2, 3, 5, 4))
    conv_case(g, "conv_kernel_wider_than_input_padded", (2, 2, 3, 2), (3, 2, 3, 4), padding=(0, 1))
    conv_case(g, "conv_stride_exceeds_kernel", (2, 2, 9, 9), (3, 2, 2, 2), stride=3)
    conv_case(g, "conv_batch1", (1, 3, 6, 5), (2, 3, 3, 3), padding=1)
    # Small planes batched into one GEMM (2x2 and 1x1 outputs), with long sums:
    # K = 12*9 = 108 (forward), batch*Ho*Wo per weight gradient.
    conv_case(g, "conv_small_planes", (5, 12, 2, 2), (6, 12, 3, 3), padding=1, atol=1e-5)
    conv_case(g, "conv_1x1_output", (5, 8, 3, 3), (4, 8, 3, 3), atol=1e-5)
    # Bigger plane, K = 4*9 = 36, weight-gradient sums of 2*12*12 = 288 terms: atol 1e-5.
    conv_case(g, "conv_plane12", (2, 4, 12, 12), (3, 4, 3, 3), padding=1, atol=1e-5)

    # ---- conv_transpose2d ----
    convt_case(g, "convt_basic", (2, 3, 4, 5), (3, 2, 3, 3))
    convt_case(g, "convt_stride2", (2, 3, 4, 4), (3, 4, 3, 3), stride=2, padding=1)
    convt_case(g, "convt_stride2_outpad1", (2, 3, 4, 5), (3, 2, 3, 3), stride=2, padding=1, output_padding=1)
    convt_case(g, "convt_nonsquare", (2, 2, 3, 5), (2, 3, 2, 3), stride=(2, 3), padding=(0, 1),
               output_padding=(1, 2))
    convt_case(g, "convt_dilation_outpad", (2, 2, 5, 4), (2, 3, 3, 2), stride=1, dilation=2, output_padding=1,
               bias=False)
    convt_case(g, "convt_groups2", (2, 4, 4, 4), (4, 3, 3, 3), stride=2, padding=1, output_padding=1, groups=2)
    convt_case(g, "convt_depthwise", (2, 3, 5, 5), (3, 1, 3, 3), stride=2, groups=3)
    convt_case(g, "convt_1x1", (2, 4, 3, 3), (4, 5, 1, 1), bias=False)
    convt_case(g, "convt_4x4_s2_upsample", (2, 3, 4, 4), (3, 2, 4, 4), stride=2, padding=1)
    convt_case(g, "convt_odd_all", (2, 4, 5, 3), (4, 3, 3, 5), stride=(2, 3), padding=(1, 2), output_padding=(1, 0),
               dilation=(1, 2))
    convt_case(g, "convt_padding_crops", (1, 2, 6, 6), (2, 2, 3, 3), padding=2)

    # ---- errors ----
    error_case(g, "err_channels", "conv2d", (2, 3, 8, 8), (4, 2, 3, 3), None, {},
               "conv2d: input [2,3,8,8] has 3 channels but weight [4,2,3,3] with groups=1 expects 2")
    error_case(g, "err_groups_divide", "conv2d", (2, 4, 8, 8), (3, 2, 3, 3), None, {"groups": 2},
               "both must be divisible by groups=2")
    error_case(g, "err_kernel_too_big", "conv2d", (1, 1, 4, 4), (1, 1, 5, 3), None, {"padding": [0, 0]},
               "larger than input [1,1,4,4] padded to 4x4")
    error_case(g, "err_dilated_kernel_too_big", "conv2d", (1, 1, 4, 4), (1, 1, 3, 3), None, {"dilation": [2, 2]},
               "spans 5x5 with dilation (2,2)")
    error_case(g, "err_bias_shape", "conv2d", (1, 2, 4, 4), (3, 2, 3, 3), (2,), {}, "bias [2] must be [3]")
    error_case(g, "err_input_3d", "conv2d", (2, 4, 4), (3, 2, 3, 3), None, {}, "input [2,4,4] must be [N,C,H,W]")
    error_case(g, "err_negative_stride", "conv2d", (1, 1, 4, 4), (1, 1, 3, 3), None, {"stride": [-1, 1]},
               "must be positive")
    error_case(g, "err_t_channels", "conv_transpose2d", (2, 3, 4, 4), (4, 2, 3, 3), None, {},
               "input [2,3,4,4] has 3 channels but weight [4,2,3,3] expects 4")
    error_case(g, "err_t_output_padding", "conv_transpose2d", (1, 2, 4, 4), (2, 2, 3, 3), None,
               {"stride": [2, 2], "output_padding": [2, 0]},
               "output_padding (2,0) must be smaller than either stride (2,2) or dilation (1,1)")
    error_case(g, "err_t_groups", "conv_transpose2d", (1, 3, 4, 4), (3, 2, 3, 3), None, {"groups": 2},
               "not divisible by groups=2")
    error_case(g, "err_t_too_small", "conv_transpose2d", (1, 2, 1, 1), (2, 2, 1, 1), None, {"padding": [1, 1]},
               "too small")
    error_case(g, "err_t_bias", "conv_transpose2d", (1, 4, 3, 3), (4, 3, 3, 3), (3,), {"groups": 2},
               "bias [3] must be [6]")
