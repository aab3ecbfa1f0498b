/* Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static lt_pool2d_params pool_params(fx_case *c)
{
    int64_t v[2];
    lt_pool2d_params p = {0};
    if (fx_param_ints(c, "kernel", v, 2) == 2) p.kernel[0] = (int)v[0], p.kernel[1] = (int)v[1];
    if (fx_param_ints(c, "stride", v, 2) == 2) p.stride[0] = (int)v[0], p.stride[1] = (int)v[1];
    if (fx_param_ints(c, "padding", v, 2) == 2) p.padding[0] = (int)v[0], p.padding[1] = (int)v[1];
    if (fx_param_ints(c, "dilation", v, 2) == 2) p.dilation[0] = (int)v[0], p.dilation[1] = (int)v[1];
    p.ceil_mode = fx_param_b(c, "ceil_mode", false);
    p.exclude_pad = fx_param_b(c, "exclude_pad", false);
    return p;
}

static lt_tensor *run_max_pool2d(fx_case *c)
{
    lt_pool2d_params p = pool_params(c);
    return lt_max_pool2d(fx_in(c, "x"), &p);
}

static lt_tensor *run_avg_pool2d(fx_case *c)
{
    lt_pool2d_params p = pool_params(c);
    return lt_avg_pool2d(fx_in(c, "x"), &p);
}

static lt_tensor *run_adaptive_avg_pool2d(fx_case *c)
{
    int64_t out[2] = {1, 1};
    fx_param_ints(c, "out", out, 2);
    return lt_adaptive_avg_pool2d(fx_in(c, "x"), out[0], out[1]);
}

static const fx_op pool_ops[] = {
    {"max_pool2d", run_max_pool2d},
    {"avg_pool2d", run_avg_pool2d},
    {"adaptive_avg_pool2d", run_adaptive_avg_pool2d},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("pool", pool_ops, (int)(sizeof pool_ops / sizeof pool_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---- finite differences ---- */

typedef struct pool_call {
    int kind; /* 0 max, 1 avg, 2 adaptive */
    lt_pool2d_params p;
    int64_t out_h, out_w;
} pool_call;

static lt_tensor *call_pool(lt_tensor **in, void *user)
{
    const pool_call *pc = user;
    if (pc->kind == 0) return lt_max_pool2d(in[0], &pc->p);
    if (pc->kind == 1) return lt_avg_pool2d(in[0], &pc->p);
    return lt_adaptive_avg_pool2d(in[0], pc->out_h, pc->out_w);
}

/* Distinct values 0.01 apart in random order: a +-1e-3 step never changes a
 * window's argmax, so max pooling is differentiable at every sample. */
static void fill_distinct(lt_tensor *t, uint64_t seed)
{
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    float *v = lt_f32(t);
    for (int64_t i = 0; i < t->numel; i++) v[i] = (float)(i - t->numel / 2) * 0.01f;
    for (int64_t i = t->numel - 1; i > 0; i--) {
        int64_t j = (int64_t)lt_rng_below(&rng, (uint64_t)i + 1);
        float tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
}

START_TEST(test_finite_differences)
{
    static const struct {
        const char *name;
        pool_call call;
        int ndim;
        int64_t shape[4];
    } checks[] = {
        {"max_k3s2p1", {0, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, false, false}, 0, 0}, 4, {2, 3, 7, 9}},
        {"max_k2s2_ceil", {0, {{2, 2}, {0, 0}, {0, 0}, {0, 0}, true, false}, 0, 0}, 4, {2, 2, 7, 5}},
        {"max_rect_dilated", {0, {{3, 2}, {1, 2}, {1, 1}, {2, 1}, false, false}, 0, 0}, 4, {1, 2, 9, 8}},
        {"max_3d", {0, {{3, 3}, {1, 1}, {1, 1}, {0, 0}, true, false}, 0, 0}, 3, {3, 5, 7}},
        {"avg_k3s2p1_ceil_incl", {1, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, true, false}, 0, 0}, 4, {2, 3, 6, 9}},
        {"avg_k3s2p1_ceil_excl", {1, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, true, true}, 0, 0}, 4, {2, 3, 6, 9}},
        {"avg_k2s2", {1, {{2, 2}, {0, 0}, {0, 0}, {0, 0}, false, false}, 0, 0}, 4, {1, 3, 7, 7}},
        {"avg_rect_3d", {1, {{2, 3}, {1, 2}, {1, 1}, {0, 0}, false, true}, 0, 0}, 3, {2, 5, 9}},
        {"adaptive_uneven", {.kind = 2, .out_h = 3, .out_w = 4}, 4, {2, 3, 7, 5}},
        {"adaptive_up", {.kind = 2, .out_h = 9, .out_w = 6}, 4, {1, 2, 4, 5}},
        {"adaptive_global", {.kind = 2, .out_h = 1, .out_w = 1}, 4, {2, 3, 5, 7}},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        lt_tensor *x = lt_tensor_new(LT_F32, checks[i].ndim, checks[i].shape);
        if (checks[i].call.kind == 0) {
            fill_distinct(x, 300 + i);
            fx_gradcheck(checks[i].name, call_pool, (void *)&checks[i].call, &x, 1, 1e-3f, 1e-2f, 60);
        } else {
            fx_fill_uniform(x, 300 + i, -2, 2);
            fx_gradcheck(checks[i].name, call_pool, (void *)&checks[i].call, &x, 1, 1e-2f, 1e-2f, 60);
        }
        lt_tensor_free(x);
    }
}
END_TEST

/* ---- threads and paths ---- */

/* Output and input gradient of one pooling call on x with grad mode `grad`. */
static void run_once(const pool_call *pc, lt_tensor *x, bool grad, float *out, float *gin, int64_t n_out)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_grad_enabled(grad);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor_zero_grad(x);
    lt_tensor *y = call_pool(&x, (void *)pc);
    ck_assert_msg(y != NULL, "%s", lt_last_error());
    ck_assert_int_eq(y->numel, n_out);
    memcpy(out, y->data, sizeof(float) * (size_t)n_out);
    if (grad) {
        lt_tensor *g = lt_empty(LT_F32, y->ndim, y->shape);
        for (int64_t i = 0; i < n_out; i++) lt_f32(g)[i] = (float)((i * 7919) % 17) - 8.0f;
        ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
        memcpy(gin, x->grad, sizeof(float) * (size_t)x->numel);
    }
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

/* Inputs large enough for the parallel kernels give the same bits on 1 and
 * 2 threads, with and without grad mode (max pool's value-only path). */
START_TEST(test_threads_deterministic)
{
    static const pool_call calls[] = {
        {0, {{2, 2}, {0, 0}, {0, 0}, {0, 0}, false, false}, 0, 0},
        {0, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, true, false}, 0, 0},
        {0, {{3, 2}, {1, 2}, {1, 0}, {2, 1}, false, false}, 0, 0},
        {1, {{3, 3}, {2, 2}, {1, 1}, {0, 0}, true, true}, 0, 0},
        {1, {{2, 2}, {0, 0}, {0, 0}, {0, 0}, false, false}, 0, 0},
        {.kind = 2, .out_h = 5, .out_w = 7},
        {.kind = 2, .out_h = 1, .out_w = 1},
    };
    int64_t shape[4] = {2, 16, 67, 45};
    lt_tensor *x = lt_tensor_new(LT_F32, 4, shape);
    fx_fill_uniform(x, 77, -3, 3);
    lt_f32(x)[1234] = NAN;
    const int threads_was = lt_get_num_threads();
    const int64_t max_out = x->numel;
    float *o1 = malloc(sizeof(float) * (size_t)max_out), *o2 = malloc(sizeof(float) * (size_t)max_out);
    float *o3 = malloc(sizeof(float) * (size_t)max_out);
    float *g1 = malloc(sizeof(float) * (size_t)x->numel), *g2 = malloc(sizeof(float) * (size_t)x->numel);
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        lt_ctx *ctx = lt_ctx_new();
        lt_ctx_use(ctx);
        lt_tensor *probe = call_pool(&x, (void *)&calls[i]);
        ck_assert_msg(probe != NULL, "%s", lt_last_error());
        const int64_t n_out = probe->numel;
        lt_ctx_use(NULL);
        lt_ctx_free(ctx);

        lt_set_num_threads(1);
        run_once(&calls[i], x, true, o1, g1, n_out);
        lt_set_num_threads(2);
        run_once(&calls[i], x, true, o2, g2, n_out);
        run_once(&calls[i], x, false, o3, NULL, n_out);
        ck_assert_msg(memcmp(o1, o2, sizeof(float) * (size_t)n_out) == 0, "call %zu: outputs differ by threads", i);
        ck_assert_msg(memcmp(o1, o3, sizeof(float) * (size_t)n_out) == 0, "call %zu: no-grad output differs", i);
        ck_assert_msg(memcmp(g1, g2, sizeof(float) * (size_t)x->numel) == 0, "call %zu: gradients differ", i);
    }
    lt_set_num_threads(threads_was);
    free(o1);
    free(o2);
    free(o3);
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
    lt_pool2d_params p = {.kernel = {2, 2}};
    ck_assert_ptr_null(lt_max_pool2d(NULL, &p));
    ck_assert_ptr_null(lt_avg_pool2d(NULL, &p));
    ck_assert_ptr_null(lt_adaptive_avg_pool2d(NULL, 1, 1));
    ck_assert_str_eq(lt_last_error(), "earlier failure");
    int64_t shape[4] = {1, 1, 4, 4};
    lt_tensor *x = lt_zeros(LT_F32, 4, shape);
    ck_assert_ptr_null(lt_max_pool2d(x, NULL));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "max_pool2d: parameters are required"));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_threads_deterministic);
    tcase_add_test(tc, test_null_input);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
