/* F.interpolate: nearest and bilinear. */
#include "fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *run_interpolate(fx_case *c)
{
    lt_interpolate_params p = {0};
    const char *mode = fx_param_s(c, "mode", "nearest");
    p.mode = strcmp(mode, "bilinear") ? LT_INTERP_NEAREST : LT_INTERP_BILINEAR;
    fx_param_ints(c, "size", p.size, 2);
    p.scale_factor[0] = fx_param_f(c, "scale_h", 0);
    p.scale_factor[1] = fx_param_f(c, "scale_w", 0);
    p.align_corners = fx_param_b(c, "align_corners", false);
    return lt_interpolate(fx_in(c, "x"), &p);
}

static const fx_op interpolate_ops[] = {{"interpolate", run_interpolate}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("interpolate", interpolate_ops, 1);
    ck_assert_int_gt(n, 0);
}
END_TEST

static lt_tensor *call_interp(lt_tensor **in, void *user) { return lt_interpolate(in[0], user); }

/* The op is linear in x, so central differences are exact up to rounding. */
START_TEST(test_finite_differences)
{
    static const struct {
        const char *name;
        lt_interpolate_params p;
        int64_t shape[4];
    } checks[] = {
        {"nearest_up", {LT_INTERP_NEAREST, {7, 11}, {0, 0}, false}, {2, 3, 3, 5}},
        {"nearest_down", {LT_INTERP_NEAREST, {3, 4}, {0, 0}, false}, {1, 3, 7, 9}},
        {"nearest_scale", {LT_INTERP_NEAREST, {0, 0}, {1.7, 0.6}, false}, {2, 2, 5, 9}},
        {"nearest_x2", {LT_INTERP_NEAREST, {0, 0}, {2, 2}, false}, {1, 3, 5, 3}},
        /* out == 2*in and out == in from odd scale factors: our backward is
         * the adjoint of the forward there (PyTorch's is not, see interpolate.c) */
        {"nearest_odd_scales", {LT_INTERP_NEAREST, {0, 0}, {2.04, 1.05}, false}, {1, 2, 13, 12}},
        {"bilinear_up", {LT_INTERP_BILINEAR, {9, 7}, {0, 0}, false}, {2, 2, 4, 3}},
        {"bilinear_up_ac", {LT_INTERP_BILINEAR, {9, 7}, {0, 0}, true}, {2, 2, 4, 3}},
        {"bilinear_down", {LT_INTERP_BILINEAR, {3, 4}, {0, 0}, false}, {1, 3, 7, 9}},
        {"bilinear_down_ac", {LT_INTERP_BILINEAR, {3, 4}, {0, 0}, true}, {1, 3, 7, 9}},
        {"bilinear_scale", {LT_INTERP_BILINEAR, {0, 0}, {1.7, 0.45}, false}, {2, 2, 5, 11}},
        {"bilinear_scale_ac", {LT_INTERP_BILINEAR, {0, 0}, {2.5, 1.3}, true}, {1, 2, 3, 5}},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        lt_tensor *x = lt_tensor_new(LT_F32, 4, checks[i].shape);
        fx_fill_uniform(x, 500 + i, -2, 2);
        fx_gradcheck(checks[i].name, call_interp, (void *)&checks[i].p, &x, 1, 1e-2f, 1e-2f, 60);
        lt_tensor_free(x);
    }
}
END_TEST

/* Output and input gradient with grad mode on. */
static void run_once(const lt_interpolate_params *p, lt_tensor *x, float *out, float *gin, int64_t n_out)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor_zero_grad(x);
    lt_tensor *y = lt_interpolate(x, p);
    ck_assert_msg(y != NULL, "%s", lt_last_error());
    ck_assert_int_eq(y->numel, n_out);
    memcpy(out, y->data, sizeof(float) * (size_t)n_out);
    lt_tensor *g = lt_empty(LT_F32, y->ndim, y->shape);
    for (int64_t i = 0; i < n_out; i++) lt_f32(g)[i] = (float)((i * 7919) % 17) - 8.0f;
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    memcpy(gin, x->grad, sizeof(float) * (size_t)x->numel);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

/* Large inputs take the threaded kernels (the bilinear row cache restarts
 * at each thread's share): same bits on 1 and 2 threads. */
START_TEST(test_threads_deterministic)
{
    static const lt_interpolate_params calls[] = {
        {LT_INTERP_NEAREST, {0, 0}, {2, 2}, false},
        {LT_INTERP_NEAREST, {37, 101}, {0, 0}, false},
        {LT_INTERP_BILINEAR, {0, 0}, {2, 2}, false},
        {LT_INTERP_BILINEAR, {61, 29}, {0, 0}, true},
        {LT_INTERP_BILINEAR, {0, 0}, {1.3, 0.7}, false},
    };
    int64_t shape[4] = {2, 8, 33, 41};
    lt_tensor *x = lt_tensor_new(LT_F32, 4, shape);
    fx_fill_uniform(x, 99, -3, 3);
    const int threads_was = lt_get_num_threads();
    const int64_t max_out = x->numel * 4;
    float *o1 = malloc(sizeof(float) * (size_t)max_out), *o2 = malloc(sizeof(float) * (size_t)max_out);
    float *g1 = malloc(sizeof(float) * (size_t)x->numel), *g2 = malloc(sizeof(float) * (size_t)x->numel);
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        int64_t oh = calls[i].size[0] ? calls[i].size[0] : (int64_t)(shape[2] * calls[i].scale_factor[0]);
        int64_t ow = calls[i].size[1] ? calls[i].size[1] : (int64_t)(shape[3] * calls[i].scale_factor[1]);
        const int64_t n_out = shape[0] * shape[1] * oh * ow;
        ck_assert_int_le(n_out, max_out);
        lt_set_num_threads(1);
        run_once(&calls[i], x, o1, g1, n_out);
        lt_set_num_threads(2);
        run_once(&calls[i], x, o2, g2, n_out);
        ck_assert_msg(memcmp(o1, o2, sizeof(float) * (size_t)n_out) == 0, "call %zu: outputs differ by threads", i);
        ck_assert_msg(memcmp(g1, g2, sizeof(float) * (size_t)x->numel) == 0, "call %zu: gradients differ", i);
    }
    lt_set_num_threads(threads_was);
    free(o1);
    free(o2);
    free(g1);
    free(g2);
    lt_tensor_free(x);
}
END_TEST

START_TEST(test_null_input)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_error("earlier failure");
    lt_interpolate_params p = {LT_INTERP_NEAREST, {4, 4}, {0, 0}, false};
    ck_assert_ptr_null(lt_interpolate(NULL, &p));
    ck_assert_str_eq(lt_last_error(), "earlier failure");
    int64_t shape[4] = {1, 1, 2, 2};
    lt_tensor *x = lt_zeros(LT_F32, 4, shape);
    ck_assert_ptr_null(lt_interpolate(x, NULL));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "interpolate: parameters are required"));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("interpolate");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_threads_deterministic);
    tcase_add_test(tc, test_null_input);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
