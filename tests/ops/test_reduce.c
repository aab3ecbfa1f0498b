/* Reductions: sum, mean, max, argmax. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The case's "dims" list as ints; returns how many. */
static int case_dims(fx_case *c, int *dims)
{
    int64_t d[LT_MAX_DIMS];
    int n = fx_param_ints(c, "dims", d, LT_MAX_DIMS);
    for (int i = 0; i < n; i++) dims[i] = (int)d[i];
    return n;
}

static lt_tensor *run_sum(fx_case *c)
{
    int dims[LT_MAX_DIMS];
    int n = case_dims(c, dims);
    return lt_sum(fx_in(c, "x"), dims, n, fx_param_b(c, "keepdim", false));
}

static lt_tensor *run_mean(fx_case *c)
{
    int dims[LT_MAX_DIMS];
    int n = case_dims(c, dims);
    return lt_mean(fx_in(c, "x"), dims, n, fx_param_b(c, "keepdim", false));
}

static lt_tensor *run_max(fx_case *c)
{
    lt_tensor *idx = NULL;
    lt_tensor *out = lt_max(fx_in(c, "x"), (int)fx_param_i(c, "dim", 0), fx_param_b(c, "keepdim", false), &idx);
    if (out) fx_out(c, "out1", idx);
    return out;
}

static lt_tensor *run_argmax(fx_case *c)
{
    return lt_argmax(fx_in(c, "x"), (int)fx_param_i(c, "dim", 0), fx_param_b(c, "keepdim", false));
}

static const fx_op reduce_ops[] = {
    {"sum", run_sum}, {"mean", run_mean}, {"max", run_max}, {"argmax", run_argmax},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("reduce", reduce_ops, (int)(sizeof reduce_ops / sizeof reduce_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---- finite differences ---- */

typedef struct reduce_call {
    int op; /* 0 sum, 1 mean, 2 max */
    int dims[LT_MAX_DIMS];
    int n_dims;
    bool keepdim;
} reduce_call;

static lt_tensor *call_reduce(lt_tensor **in, void *user)
{
    const reduce_call *r = user;
    switch (r->op) {
    case 0: return lt_sum(in[0], r->dims, r->n_dims, r->keepdim);
    case 1: return lt_mean(in[0], r->dims, r->n_dims, r->keepdim);
    default: return lt_max(in[0], r->dims[0], r->keepdim, NULL);
    }
}

START_TEST(test_finite_differences)
{
    static const reduce_call calls[] = {
        {0, {0}, 0, false},     {0, {1}, 1, false},    {0, {0, 2}, 2, true}, {0, {-1}, 1, true},
        {1, {0}, 0, false},     {1, {2, 0}, 2, false}, {1, {1}, 1, true},    {1, {0, 1, 2}, 3, false},
        {2, {0}, 1, false},     {2, {1}, 1, true},     {2, {-1}, 1, false},
    };
    int64_t shape[3] = {3, 5, 7};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        lt_tensor *x = lt_tensor_new(LT_F32, 3, shape);
        fx_fill_uniform(x, 300 + i, -2.0f, 2.0f); /* distinct values: max is unique */
        char what[64];
        snprintf(what, sizeof what, "reduce call %zu (op %d)", i, calls[i].op);
        fx_gradcheck(what, call_reduce, (void *)&calls[i], &x, 1, 1e-2f, 1e-2f, 60);
        lt_tensor_free(x);
    }
}
END_TEST

/* ---- large tensors: threaded paths against a double reference, and the
 * same bits for 1 and 2 threads ---- */

/* Naive double reference of sum over `mask` of x [a, b, c]. */
static double ref_sum(const lt_tensor *x, const bool *mask, int64_t i0, int64_t i1, int64_t i2)
{
    double s = 0.0;
    const int64_t *sh = x->shape;
    for (int64_t a = mask[0] ? 0 : i0; a < (mask[0] ? sh[0] : i0 + 1); a++)
        for (int64_t b = mask[1] ? 0 : i1; b < (mask[1] ? sh[1] : i1 + 1); b++)
            for (int64_t c = mask[2] ? 0 : i2; c < (mask[2] ? sh[2] : i2 + 1); c++)
                s += lt_f32(x)[(a * sh[1] + b) * sh[2] + c];
    return s;
}

START_TEST(test_large_sums)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t shape[3] = {33, 47, 61}; /* 94611 elements: above the threading threshold */
    lt_tensor *x = lt_tensor_new(LT_F32, 3, shape);
    fx_fill_uniform(x, 7, -1.0f, 3.0f);
    static const struct {
        int dims[3], n;
    } sets[] = {{{0}, 0}, {{0}, 1}, {{1}, 1}, {{2}, 1}, {{0, 2}, 2}, {{0, 1}, 2}, {{1, 2}, 2}};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        bool mask[3] = {sets[k].n == 0, sets[k].n == 0, sets[k].n == 0};
        for (int i = 0; i < sets[k].n; i++) mask[sets[k].dims[i]] = true;
        lt_set_num_threads(1);
        lt_tensor *one = lt_sum(x, sets[k].dims, sets[k].n, true);
        lt_set_num_threads(2);
        lt_tensor *two = lt_sum(x, sets[k].dims, sets[k].n, true);
        lt_tensor *mean = lt_mean(x, sets[k].dims, sets[k].n, true);
        ck_assert_ptr_nonnull(one);
        ck_assert_ptr_nonnull(two);
        ck_assert_ptr_nonnull(mean);
        ck_assert_int_eq(memcmp(one->data, two->data, sizeof(float) * (size_t)one->numel), 0);
        int64_t count = x->numel / one->numel;
        for (int64_t i = 0; i < one->numel; i++) {
            int64_t i2 = i % one->shape[2], i1 = (i / one->shape[2]) % one->shape[1], i0 = i / one->shape[2] / one->shape[1];
            double want = ref_sum(x, mask, i0, i1, i2);
            ck_assert_msg(fabs(lt_f32(one)[i] - want) <= 1e-6 * fabs(want) + 1e-5, "set %zu elt %lld: %g vs %g", k,
                          (long long)i, lt_f32(one)[i], want);
            ck_assert_msg(fabs(lt_f32(mean)[i] - want / count) <= 1e-6 * fabs(want / count) + 1e-6,
                          "mean set %zu elt %lld", k, (long long)i);
        }
        lt_ctx_reset(ctx);
    }
    /* max / argmax agree with each other and with a scan, on both thread counts */
    for (int dim = 0; dim < 3; dim++) {
        lt_set_num_threads(1);
        lt_tensor *idx1 = NULL, *v1 = lt_max(x, dim, false, &idx1);
        lt_set_num_threads(2);
        lt_tensor *idx2 = NULL, *v2 = lt_max(x, dim, false, &idx2);
        lt_tensor *am = lt_argmax(x, dim, false);
        ck_assert_ptr_nonnull(v1);
        ck_assert_ptr_nonnull(v2);
        ck_assert_ptr_nonnull(am);
        ck_assert_int_eq(memcmp(v1->data, v2->data, sizeof(float) * (size_t)v1->numel), 0);
        ck_assert_int_eq(memcmp(idx1->data, idx2->data, sizeof(int32_t) * (size_t)v1->numel), 0);
        ck_assert_int_eq(memcmp(idx1->data, am->data, sizeof(int32_t) * (size_t)v1->numel), 0);
        int64_t inner = 1, n = shape[dim];
        for (int d = dim + 1; d < 3; d++) inner *= shape[d];
        for (int64_t o = 0; o < v1->numel; o++) {
            const float *src = lt_f32(x) + (o / inner) * n * inner + o % inner;
            int32_t best = 0;
            for (int64_t k = 1; k < n; k++)
                if (src[k * inner] > src[best * inner]) best = (int32_t)k;
            ck_assert_int_eq(lt_i32(idx1)[o], best);
            ck_assert(lt_f32(v1)[o] == src[best * inner]);
        }
        lt_ctx_reset(ctx);
    }
    lt_set_num_threads(0);
    lt_tensor_free(x);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

/* A long full reduction goes through the chunked parallel sum. */
START_TEST(test_full_sum_chunks)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t n = 200003;
    lt_tensor *x = lt_tensor_new(LT_F32, 1, &n);
    fx_fill_uniform(x, 11, 0.0f, 1.0f);
    double want = 0.0;
    for (int64_t i = 0; i < n; i++) want += lt_f32(x)[i];
    lt_set_num_threads(1);
    float one = lt_item(lt_sum(x, NULL, 0, false));
    lt_set_num_threads(2);
    float two = lt_item(lt_sum(x, NULL, 0, false));
    float mean = lt_item(lt_mean(x, NULL, 0, false));
    lt_set_num_threads(0);
    ck_assert(one == two);
    ck_assert_msg(fabs(one - want) <= 1e-7 * want, "%.9g vs %.9g", one, want);
    ck_assert_msg(fabs(mean - want / (double)n) <= 1e-7, "%.9g vs %.9g", mean, want / (double)n);
    /* gradient of the mean is 1/n everywhere */
    lt_tensor_set_requires_grad(x, true);
    ck_assert_int_eq(lt_backward(lt_mean(x, NULL, 0, false)), 0);
    for (int64_t i = 0; i < n; i++) ck_assert(fabsf(x->grad[i] - 1.0f / (float)n) <= 1e-12f);
    lt_tensor_free(x);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_api_conventions)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int dims[1] = {0};
    lt_set_error("first");
    ck_assert_ptr_null(lt_sum(NULL, dims, 1, false));
    ck_assert_ptr_null(lt_mean(NULL, NULL, 0, false));
    lt_tensor *idx = (lt_tensor *)1;
    ck_assert_ptr_null(lt_max(NULL, 0, false, &idx));
    ck_assert_ptr_null(idx);
    ck_assert_ptr_null(lt_argmax(NULL, 0, false));
    ck_assert_str_eq(lt_last_error(), "first");
    int64_t shape[2] = {2, 3};
    lt_tensor *x = lt_zeros(LT_F32, 2, shape);
    ck_assert_ptr_null(lt_sum(x, NULL, 1, false));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "sum: bad dims list"));
    /* no gradient wanted: nothing recorded */
    size_t tape = lt_tape_size();
    ck_assert_ptr_nonnull(lt_sum(x, NULL, 0, false));
    ck_assert_ptr_nonnull(lt_max(x, 1, false, NULL));
    ck_assert_uint_eq(lt_tape_size(), tape);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_large_sums);
    tcase_add_test(tc, test_full_sum_chunks);
    tcase_add_test(tc, test_api_conventions);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
