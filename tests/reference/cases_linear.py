"""linear (F.linear) and matmul (torch.matmul).

Tolerances: default (rtol 1e-5, atol 1e-6) for short reductions. Sums over a
few hundred float32 products of O(1) values are rounded differently by
OpenBLAS's sgemm blocking and PyTorch's kernels (~sqrt(n)*2^-24*|terms|), so
cases reducing over >= 100 terms use atol 1e-5 (stated per case).
"""
import torch
import torch.nn.functional as F


def linear_case(g, name, x_shape, out_features, bias=True, **tol):
    x = g.randn(*x_shape)
    w = g.randn(out_features, x_shape[-1], scale=0.5)
    if bias:
        g.case(name, "linear", F.linear, {"x": x, "w": w, "b": g.randn(out_features)}, **tol)
    else:
        g.case(name, "linear", F.linear, {"x": x, "w": w}, **tol)


def matmul_case(g, name, a_shape, b_shape, **tol):
    g.case(name, "matmul", torch.matmul, {"a": g.randn(*a_shape), "b": g.randn(*b_shape)}, **tol)


def cases(g):
    # ---- linear ----
    linear_case(g, "linear_basic", (4, 5), 3)
    linear_case(g, "linear_no_bias", (4, 5), 3, bias=False)
    linear_case(g, "linear_3d", (2, 3, 5), 4)
    linear_case(g, "linear_4d_no_bias", (2, 1, 3, 6), 2, bias=False)
    linear_case(g, "linear_vector", (7,), 3)
    linear_case(g, "linear_odd", (7, 13), 11)
    linear_case(g, "linear_one_output", (5, 9), 1)
    # in_features 160: the forward sums 160 products.
    linear_case(g, "linear_long_k", (9, 160), 7, atol=1e-5)
    # 120 rows: the weight and bias gradients sum over 120 rows.
    linear_case(g, "linear_many_rows", (3, 40, 8), 6, atol=1e-5)

    # empty reduction: the output is the bias (PyTorch's addmm with K = 0)
    linear_case(g, "linear_zero_features", (3, 0), 4)

    # ---- matmul ----
    matmul_case(g, "matmul_2d", (3, 4), (4, 5))
    matmul_case(g, "matmul_odd", (7, 9), (9, 11))
    matmul_case(g, "matmul_batched", (3, 4, 5), (3, 5, 2))
    matmul_case(g, "matmul_3d_2d", (2, 3, 4, 5), (5, 6))
    matmul_case(g, "matmul_2d_3d", (4, 5), (3, 5, 2))
    matmul_case(g, "matmul_broadcast", (2, 1, 3, 4), (5, 4, 2))
    matmul_case(g, "matmul_broadcast_both", (3, 1, 2, 4), (1, 5, 4, 3))
    matmul_case(g, "matmul_batch_one", (1, 3, 4), (6, 4, 2))
    matmul_case(g, "matmul_vec_mat", (4,), (4, 3))
    matmul_case(g, "matmul_mat_vec", (3, 4), (4,))
    matmul_case(g, "matmul_dot", (6,), (6,))
    matmul_case(g, "matmul_vec_batched", (4,), (2, 4, 3))
    matmul_case(g, "matmul_batched_vec", (2, 3, 4), (4,))
    matmul_case(g, "matmul_zero_k", (2, 3, 0), (0, 4))
    # K = 120: long reductions in the forward and the gradient of a.
    matmul_case(g, "matmul_long_k", (2, 3, 120), (120, 4), atol=1e-5)

    # ---- errors ----
    g.case("err_linear_features", "linear", None, {"x": torch.zeros(4, 5), "w": torch.zeros(3, 6)},
           expect_error="linear: input [4,5] has 5 features but weight [3,6] expects 6")
    g.case("err_linear_weight_1d", "linear", None, {"x": torch.zeros(4, 5), "w": torch.zeros(5)},
           expect_error="weight [5] [out_features, in_features]")
    g.case("err_linear_bias", "linear", None, {"x": torch.zeros(4, 5), "w": torch.zeros(3, 5), "b": torch.zeros(4)},
           expect_error="bias [4] must be [3] for weight [3,5]")
    g.case("err_linear_int", "linear", None,
           {"x": torch.zeros(4, 5, dtype=torch.int32), "w": torch.zeros(3, 5)}, expect_error="linear: input [4,5]")
    g.case("err_matmul_inner", "matmul", None, {"a": torch.zeros(3, 4), "b": torch.zeros(5, 2)},
           expect_error="matmul: a [3,4] and b [5,2] cannot be multiplied (4 columns vs 5 rows)")
    g.case("err_matmul_batch", "matmul", None, {"a": torch.zeros(2, 3, 4), "b": torch.zeros(3, 4, 2)},
           expect_error="batch dimensions of a [2,3,4] and b [3,4,2] cannot be broadcast (2 vs 3)")
    g.case("err_matmul_scalar", "matmul", None, {"a": torch.zeros(()), "b": torch.zeros(3)},
           expect_error="matmul: both arguments need at least 1 dimension")
