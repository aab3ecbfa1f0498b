/* softmax and log_softmax. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *run_softmax(fx_case *c) { return lt_softmax(fx_in(c, "x"), (int)fx_param_i(c, "dim", -1)); }
static lt_tensor *run_log_softmax(fx_case *c)
{
    return lt_log_softmax(fx_in(c, "x"), (int)fx_param_i(c, "dim", -1));
}

static const fx_op softmax_ops[] = {{"softmax", run_softmax}, {"log_softmax", run_log_softmax}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("softmax", softmax_ops, (int)(sizeof softmax_ops / sizeof softmax_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

typedef struct softmax_call {
    bool log;
    int dim;
} softmax_call;

static lt_tensor *call_softmax(lt_tensor **in, void *user)
{
    const softmax_call *s = user;
    return s->log ? lt_log_softmax(in[0], s->dim) : lt_softmax(in[0], s->dim);
}

START_TEST(test_finite_differences)
{
    int64_t shape[3] = {3, 5, 7};
    for (int log = 0; log < 2; log++)
        for (int dim = -1; dim < 3; dim++) {
            softmax_call call = {log != 0, dim};
            lt_tensor *x = lt_tensor_new(LT_F32, 3, shape);
            fx_fill_uniform(x, 40 + (uint64_t)(log * 10 + dim), -3.0f, 3.0f);
            char what[64];
            snprintf(what, sizeof what, "%s dim %d", log ? "log_softmax" : "softmax", dim);
            fx_gradcheck(what, call_softmax, &call, &x, 1, 1e-2f, 1e-2f, 60);
            lt_tensor_free(x);
        }
}
END_TEST

/* Double-precision reference of (log_)softmax of x viewed as [outer, n, inner]. */
static void reference(const float *x, double *y, int64_t outer, int64_t n, int64_t inner, bool take_log)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *src = x + o * n * inner + i;
            double m = -INFINITY, s = 0.0;
            for (int64_t k = 0; k < n; k++) m = fmax(m, src[k * inner]);
            for (int64_t k = 0; k < n; k++) s += exp(src[k * inner] - m);
            for (int64_t k = 0; k < n; k++) {
                double v = src[k * inner] - m;
                y[o * n * inner + k * inner + i] = take_log ? v - log(s) : exp(v) / s;
            }
        }
}

/* Threaded sizes (NCHW over C and long rows): same bits for 1 and 2
 * threads, and within float rounding of a double reference. */
START_TEST(test_large)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    static const struct {
        int ndim;
        int64_t shape[4];
        int dim;
    } layouts[] = {{4, {3, 19, 29, 31}, 1}, {2, {40, 1001}, 1}, {2, {1001, 40}, 0}, {3, {5, 3, 3001}, 2}};
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        lt_tensor *x = lt_tensor_new(LT_F32, layouts[l].ndim, layouts[l].shape);
        fx_fill_uniform(x, 90 + l, -8.0f, 8.0f);
        const int dim = layouts[l].dim;
        int64_t outer = 1, inner = 1, n = layouts[l].shape[dim];
        for (int d = 0; d < dim; d++) outer *= layouts[l].shape[d];
        for (int d = dim + 1; d < layouts[l].ndim; d++) inner *= layouts[l].shape[d];
        double *want = malloc(sizeof(double) * (size_t)x->numel);
        for (int log = 0; log < 2; log++) {
            lt_set_num_threads(1);
            lt_tensor *one = log ? lt_log_softmax(x, dim) : lt_softmax(x, dim);
            lt_set_num_threads(2);
            lt_tensor *two = log ? lt_log_softmax(x, dim) : lt_softmax(x, dim);
            ck_assert_ptr_nonnull(one);
            ck_assert_ptr_nonnull(two);
            ck_assert_int_eq(memcmp(one->data, two->data, sizeof(float) * (size_t)x->numel), 0);
            reference(lt_f32(x), want, outer, n, inner, log != 0);
            /* log_softmax near 0 is a difference of two O(log n) terms: its
             * error is absolute, a few float ulps of log(sum). */
            const double atol = log ? 1e-6 : 1e-7;
            for (int64_t i = 0; i < x->numel; i++)
                ck_assert_msg(fabs(lt_f32(one)[i] - want[i]) <= 2e-6 * fabs(want[i]) + atol,
                              "layout %zu log %d elt %lld: %.9g vs %.9g", l, log, (long long)i, lt_f32(one)[i],
                              want[i]);
            lt_ctx_reset(ctx);
        }
        free(want);
        lt_tensor_free(x);
    }
    lt_set_num_threads(0);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_api_conventions)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_error("first");
    ck_assert_ptr_null(lt_softmax(NULL, 0));
    ck_assert_ptr_null(lt_log_softmax(NULL, 0));
    ck_assert_str_eq(lt_last_error(), "first");
    /* a NaN poisons its row only, as in PyTorch */
    float data[6] = {1.0f, NAN, 2.0f, 0.0f, 1.0f, 2.0f};
    int64_t shape[2] = {2, 3};
    lt_tensor *y = lt_softmax(lt_from_data(LT_F32, 2, shape, data), 1);
    ck_assert_ptr_nonnull(y);
    for (int i = 0; i < 3; i++) ck_assert(isnan(lt_f32(y)[i]));
    for (int i = 3; i < 6; i++) ck_assert(!isnan(lt_f32(y)[i]));
    /* empty input: empty output */
    int64_t empty[2] = {0, 4};
    lt_tensor *e = lt_log_softmax(lt_zeros(LT_F32, 2, empty), 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->numel, 0);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("softmax");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_large);
    tcase_add_test(tc, test_api_conventions);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
