/* linear and matmul: PyTorch fixtures, finite differences, and a
 * double-precision reference on batched / broadcast shapes that take every
 * GEMM path (one tall GEMM, per-thread small products, broadcast sums). */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *run_linear(fx_case *c)
{
    return lt_linear(fx_in(c, "x"), fx_in(c, "w"), fx_has(c, "b") ? fx_in(c, "b") : NULL);
}

static lt_tensor *run_matmul(fx_case *c) { return lt_matmul(fx_in(c, "a"), fx_in(c, "b")); }

static const fx_op linear_ops[] = {
    {"linear", run_linear},
    {"matmul", run_matmul},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("linear", linear_ops, (int)(sizeof linear_ops / sizeof linear_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- finite differences ---------------- */

static lt_tensor *call_linear(lt_tensor **in, void *user)
{
    return lt_linear(in[0], in[1], user ? in[2] : NULL);
}

static lt_tensor *call_matmul(lt_tensor **in, void *user)
{
    (void)user;
    return lt_matmul(in[0], in[1]);
}

static lt_tensor *owned(int ndim, const int64_t *shape, uint64_t seed)
{
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    fx_fill_uniform(t, seed, -1, 1);
    return t;
}

START_TEST(test_finite_differences_linear)
{
    const int64_t xs[3] = {3, 5, 7}, ws[2] = {9, 7}, bs[1] = {9};
    lt_tensor *in[3] = {owned(3, xs, 1), owned(2, ws, 2), owned(1, bs, 3)};
    fx_gradcheck("linear_bias", call_linear, (void *)1, in, 3, 5e-2f, 1e-2f, 40);
    fx_gradcheck("linear_no_bias", call_linear, NULL, in, 2, 5e-2f, 1e-2f, 40);
    for (int i = 0; i < 3; i++) lt_tensor_free(in[i]);
}
END_TEST

START_TEST(test_finite_differences_matmul)
{
    static const struct {
        const char *name;
        int na, nb;
        int64_t a[4], b[4];
    } cases[] = {
        {"2d", 2, 2, {5, 7}, {7, 3}},
        {"batched", 3, 3, {3, 5, 7}, {3, 7, 3}},
        {"broadcast", 4, 3, {2, 1, 3, 5}, {3, 5, 7}},
        {"broadcast_both", 4, 4, {3, 1, 5, 3}, {1, 2, 3, 7}},
        {"3d_2d", 3, 2, {3, 5, 7}, {7, 3}},
        {"2d_3d", 2, 3, {5, 7}, {3, 7, 3}},
        {"vec_mat", 1, 3, {7}, {3, 7, 5}},
        {"mat_vec", 3, 1, {3, 5, 7}, {7}},
        {"dot", 1, 1, {9}, {9}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lt_tensor *in[2] = {owned(cases[i].na, cases[i].a, 10 + i), owned(cases[i].nb, cases[i].b, 20 + i)};
        fx_gradcheck(cases[i].name, call_matmul, NULL, in, 2, 5e-2f, 1e-2f, 40);
        lt_tensor_free(in[0]);
        lt_tensor_free(in[1]);
    }
}
END_TEST

/* ---------------- double-precision reference for batched matmul ---------------- */

/* Index of broadcast batch entry `bi` (of out_shape[0..nd)) in an operand of
 * `ndim` dims whose last two are the matrix. */
static int64_t operand_matrix(const int64_t *shape, int ndim, const int64_t *out_shape, int nd, int64_t bi)
{
    int64_t off = 0, stride = 1;
    for (int d = nd - 1; d >= 0; d--) {
        const int64_t idx = bi % out_shape[d];
        bi /= out_shape[d];
        const int src = ndim - 2 - (nd - d);
        const int64_t dim = src >= 0 ? shape[src] : 1;
        if (dim != 1) off += idx * stride;
        stride *= dim;
    }
    return off;
}

static void check_matmul(int na, const int64_t *as, int nb, const int64_t *bs)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_tensor *a = owned(na, as, 5), *b = owned(nb, bs, 6);
    lt_tensor_set_requires_grad(a, true);
    lt_tensor_set_requires_grad(b, true);
    lt_tensor *c = lt_matmul(a, b);
    ck_assert_msg(c != NULL, "%s", lt_last_error());
    lt_tensor *gc = owned(c->ndim, c->shape, 7);
    ck_assert_int_eq(lt_backward_with_grad(c, gc), 0);

    const int64_t m = as[na - 2], k = as[na - 1], n = bs[nb - 1];
    const int nd = (na > nb ? na : nb) - 2;
    int64_t out_shape[LT_MAX_DIMS], batch = 1;
    for (int d = 0; d < nd; d++) {
        const int ia = na - 2 - nd + d, ib = nb - 2 - nd + d;
        const int64_t da = ia >= 0 ? as[ia] : 1, db = ib >= 0 ? bs[ib] : 1;
        out_shape[d] = da == 1 ? db : da;
        batch *= out_shape[d];
    }
    double *ref_c = calloc((size_t)c->numel, sizeof(double)), *ref_da = calloc((size_t)a->numel, sizeof(double));
    double *ref_db = calloc((size_t)b->numel, sizeof(double));
    for (int64_t bi = 0; bi < batch; bi++) {
        const int64_t ao = operand_matrix(as, na, out_shape, nd, bi) * m * k;
        const int64_t bo = operand_matrix(bs, nb, out_shape, nd, bi) * k * n, co = bi * m * n;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                for (int64_t p = 0; p < k; p++) {
                    const double av = lt_f32(a)[ao + i * k + p], bv = lt_f32(b)[bo + p * n + j];
                    const double g = lt_f32(gc)[co + i * n + j];
                    ref_c[co + i * n + j] += av * bv;
                    ref_da[ao + i * k + p] += g * bv;
                    ref_db[bo + p * n + j] += av * g;
                }
    }
    for (int64_t i = 0; i < c->numel; i++)
        ck_assert_msg(fabs(lt_f32(c)[i] - ref_c[i]) <= 1e-5 * (1 + fabs(ref_c[i])) * sqrt((double)k),
                      "c[%lld] %.8g vs %.8g", (long long)i, lt_f32(c)[i], ref_c[i]);
    for (int64_t i = 0; i < a->numel; i++)
        ck_assert_msg(fabs(a->grad[i] - ref_da[i]) <= 1e-5 * (1 + fabs(ref_da[i])) * sqrt((double)(batch * n)),
                      "da[%lld] %.8g vs %.8g", (long long)i, a->grad[i], ref_da[i]);
    for (int64_t i = 0; i < b->numel; i++)
        ck_assert_msg(fabs(b->grad[i] - ref_db[i]) <= 1e-5 * (1 + fabs(ref_db[i])) * sqrt((double)(batch * m)),
                      "db[%lld] %.8g vs %.8g", (long long)i, b->grad[i], ref_db[i]);
    free(ref_c);
    free(ref_da);
    free(ref_db);
    lt_tensor_free(a);
    lt_tensor_free(b);
    lt_tensor_free(gc);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

START_TEST(test_matmul_paths)
{
    /* many small products, one per thread */
    check_matmul(3, (int64_t[]){64, 9, 17}, 3, (int64_t[]){64, 17, 11});
    /* tall GEMM (b without batch dims) */
    check_matmul(4, (int64_t[]){4, 6, 33, 70}, 2, (int64_t[]){70, 21});
    /* a broadcast over b's batches: its gradient sums over them */
    check_matmul(2, (int64_t[]){30, 40}, 3, (int64_t[]){12, 40, 25});
    /* both sides broadcast */
    check_matmul(4, (int64_t[]){5, 1, 20, 31}, 4, (int64_t[]){1, 6, 31, 9});
    /* large single product (threaded GEMM) */
    check_matmul(2, (int64_t[]){200, 300}, 2, (int64_t[]){300, 150});
}
END_TEST

START_TEST(test_linear_reference)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t xs[3] = {7, 30, 65}, ws[2] = {129, 65}, bs[1] = {129};
    lt_tensor *x = owned(3, xs, 1), *w = owned(2, ws, 2), *b = owned(1, bs, 3);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor_set_requires_grad(w, true);
    lt_tensor_set_requires_grad(b, true);
    lt_tensor *y = lt_linear(x, w, b);
    ck_assert_ptr_nonnull(y);
    const int64_t ys[3] = {7, 30, 129};
    lt_tensor *gy = owned(3, ys, 4);
    ck_assert_int_eq(lt_backward_with_grad(y, gy), 0);
    const int64_t rows = 7 * 30, in = 65, out = 129;
    for (int64_t r = 0; r < rows; r += 13)
        for (int64_t o = 0; o < out; o++) {
            double s = lt_f32(b)[o];
            for (int64_t i = 0; i < in; i++) s += (double)lt_f32(x)[r * in + i] * lt_f32(w)[o * in + i];
            ck_assert_msg(fabs(lt_f32(y)[r * out + o] - s) <= 1e-5 * (1 + fabs(s)) * 8, "y[%lld,%lld]", (long long)r,
                          (long long)o);
        }
    for (int64_t o = 0; o < out; o++) {
        double sb = 0;
        for (int64_t r = 0; r < rows; r++) sb += lt_f32(gy)[r * out + o];
        ck_assert_msg(fabs(b->grad[o] - sb) <= 1e-4 * (1 + fabs(sb)), "db[%lld] %.8g vs %.8g", (long long)o,
                      b->grad[o], sb);
        for (int64_t i = 0; i < in; i += 7) {
            double s = 0;
            for (int64_t r = 0; r < rows; r++) s += (double)lt_f32(gy)[r * out + o] * lt_f32(x)[r * in + i];
            ck_assert_msg(fabs(w->grad[o * in + i] - s) <= 1e-4 * (1 + fabs(s)), "dw[%lld,%lld]", (long long)o,
                          (long long)i);
        }
    }
    for (int64_t r = 0; r < rows; r += 11)
        for (int64_t i = 0; i < in; i++) {
            double s = 0;
            for (int64_t o = 0; o < out; o++) s += (double)lt_f32(gy)[r * out + o] * lt_f32(w)[o * in + i];
            ck_assert_msg(fabs(x->grad[r * in + i] - s) <= 1e-4 * (1 + fabs(s)), "dx[%lld,%lld]", (long long)r,
                          (long long)i);
        }
    lt_tensor_free(x);
    lt_tensor_free(w);
    lt_tensor_free(b);
    lt_tensor_free(gy);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_null_inputs)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_error("first");
    ck_assert_ptr_null(lt_linear(NULL, NULL, NULL));
    ck_assert_ptr_null(lt_matmul(NULL, NULL));
    ck_assert_str_eq(lt_last_error(), "first");
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences_linear);
    tcase_add_test(tc, test_finite_differences_matmul);
    tcase_add_test(tc, test_matmul_paths);
    tcase_add_test(tc, test_linear_reference);
    tcase_add_test(tc, test_null_inputs);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
