/* lt_pad: PyTorch fixtures, finite differences for every mode, and large
 * tensors (threaded paths) against a naive per-element reference for every
 * dtype, forward and backward. */
#include "fixture.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static lt_pad_mode mode_of(const char *s)
{
    if (!strcmp(s, "reflect")) return LT_PAD_REFLECT;
    if (!strcmp(s, "replicate")) return LT_PAD_REPLICATE;
    return LT_PAD_CONSTANT;
}

static lt_tensor *run_pad(fx_case *c)
{
    int64_t pads[2 * LT_MAX_DIMS];
    int n = fx_param_ints(c, "pads", pads, 2 * LT_MAX_DIMS);
    return lt_pad(fx_in(c, "x"), pads, n, mode_of(fx_param_s(c, "mode", "constant")),
                  (float)fx_param_f(c, "value", 0.0));
}

static const fx_op pad_ops[] = {{"pad", run_pad}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("pad", pad_ops, 1);
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- finite differences ---------------- */

typedef struct pad_call {
    int n_pads;
    int64_t pads[6];
    lt_pad_mode mode;
} pad_call;

static lt_tensor *call_pad(lt_tensor **in, void *user)
{
    const pad_call *p = user;
    return lt_pad(in[0], p->pads, p->n_pads, p->mode, 0.75f);
}

START_TEST(test_finite_differences)
{
    static const pad_call calls[] = {
        {4, {2, 3, 1, 4}, LT_PAD_CONSTANT},
        {6, {-1, 2, 3, -2, 1, 1}, LT_PAD_CONSTANT},
        {4, {2, 4, 1, 6}, LT_PAD_REFLECT},
        {4, {-2, 3, 4, -1}, LT_PAD_REFLECT},
        {4, {4, 3, 0, 0}, LT_PAD_REFLECT},
        {4, {6, 2, 9, 1}, LT_PAD_REPLICATE},
        {4, {-1, 3, 0, -2}, LT_PAD_REPLICATE},
    };
    const int64_t shape[4] = {2, 3, 7, 5};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        lt_tensor *x = lt_tensor_new(LT_F32, 4, shape);
        fx_fill_uniform(x, 300 + i, -2, 2);
        char name[32];
        snprintf(name, sizeof name, "pad_%zu", i);
        fx_gradcheck(name, call_pad, (void *)&calls[i], &x, 1, 1e-2f, 1e-3f, 60);
        lt_tensor_free(x);
    }
    /* 5-d reflect over 3 dims */
    const int64_t shape5[5] = {1, 2, 3, 5, 4};
    const pad_call c5 = {6, {3, 1, 2, 4, 1, 2}, LT_PAD_REFLECT};
    lt_tensor *x = lt_tensor_new(LT_F32, 5, shape5);
    fx_fill_uniform(x, 400, -2, 2);
    fx_gradcheck("pad_reflect_3d", call_pad, (void *)&c5, &x, 1, 1e-2f, 1e-3f, 60);
    lt_tensor_free(x);
}
END_TEST

/* ---------------- large tensors against a naive reference ---------------- */

static int64_t source_of(lt_pad_mode mode, int64_t j, int64_t left, int64_t n)
{
    int64_t i = j - left;
    if (i >= 0 && i < n) return i;
    if (mode == LT_PAD_CONSTANT) return -1;
    if (mode == LT_PAD_REPLICATE) return i < 0 ? 0 : n - 1;
    return i < 0 ? -i : 2 * (n - 1) - i;
}

/* Input index read by output element o, or -1 for the constant. */
static int64_t naive_source(const lt_tensor *x, const lt_tensor *y, const int64_t *pads, int n_pads,
                            lt_pad_mode mode, int64_t o)
{
    int64_t src = 0, in_stride = 1;
    for (int d = y->ndim - 1; d >= 0; d--) {
        const int pair = y->ndim - 1 - d;
        const int64_t left = pair < n_pads / 2 ? pads[2 * pair] : 0;
        const int64_t s = source_of(mode, o % y->shape[d], left, x->shape[d]);
        o /= y->shape[d];
        if (s < 0) return -1;
        src += s * in_stride;
        in_stride *= x->shape[d];
    }
    return src;
}

static void fill_random(lt_tensor *t, uint64_t seed)
{
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    for (int64_t i = 0; i < t->numel; i++) {
        const uint64_t r = lt_rng_next(&rng);
        switch (t->dtype) {
        case LT_F32: lt_f32(t)[i] = lt_rng_uniform(&rng) * 2.0f - 1.0f; break;
        case LT_I32: lt_i32(t)[i] = (int32_t)r; break;
        case LT_U8: lt_u8(t)[i] = (uint8_t)r; break;
        default: ((int64_t *)t->data)[i] = (int64_t)r; break;
        }
    }
}

static double element(const lt_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case LT_F32: return lt_f32(t)[i];
    case LT_I32: return lt_i32(t)[i];
    case LT_U8: return lt_u8(t)[i];
    default: return (double)((int64_t *)t->data)[i];
    }
}

START_TEST(test_large_against_naive)
{
    static const struct {
        int ndim;
        int64_t shape[5];
        int n_pads;
        int64_t pads[8];
        lt_pad_mode mode;
    } cases[] = {
        {4, {3, 4, 61, 67}, 4, {3, 2, 1, 5}, LT_PAD_CONSTANT},
        {4, {3, 4, 61, 67}, 8, {-3, 2, 1, -5, 2, 0, 1, 1}, LT_PAD_CONSTANT},
        {2, {1, 40000}, 2, {5, -7}, LT_PAD_CONSTANT},
        {4, {3, 4, 61, 67}, 4, {3, 2, 60, 5}, LT_PAD_REFLECT},
        {3, {4, 97, 101}, 4, {-9, 100, 96, -4}, LT_PAD_REFLECT},
        {5, {2, 3, 11, 17, 19}, 6, {2, 18, 0, 5, 10, 3}, LT_PAD_REFLECT},
        {4, {3, 4, 61, 67}, 4, {70, 1, 2, 64}, LT_PAD_REPLICATE},
        {3, {1, 181, 190}, 4, {-2, 3, 4, -1}, LT_PAD_REPLICATE}, /* one outer block: a single task */
    };
    const lt_dtype dtypes[4] = {LT_F32, LT_I32, LT_U8, LT_I64};
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int k = 0; k < 4; k++) {
            lt_tensor *x = lt_empty(dtypes[k], cases[c].ndim, cases[c].shape);
            fill_random(x, 50 + c);
            if (dtypes[k] == LT_F32) lt_tensor_set_requires_grad(x, true);
            lt_tensor *y = lt_pad(x, cases[c].pads, cases[c].n_pads, cases[c].mode, 7.0f);
            ck_assert_msg(y != NULL, "case %zu: %s", c, lt_last_error());
            ck_assert_int_eq(y->dtype, dtypes[k]);
            for (int64_t o = 0; o < y->numel; o++) {
                const int64_t s = naive_source(x, y, cases[c].pads, cases[c].n_pads, cases[c].mode, o);
                ck_assert_msg(element(y, o) == (s < 0 ? 7.0 : element(x, s)), "case %zu dtype %s output %lld",
                              c, lt_dtype_name(dtypes[k]), (long long)o);
            }
            if (dtypes[k] == LT_F32) {
                lt_tensor *g = lt_empty(LT_F32, y->ndim, y->shape);
                fill_random(g, 60 + c);
                ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
                float *want = lt_step_alloc(sizeof(float) * (size_t)x->numel);
                memset(want, 0, sizeof(float) * (size_t)x->numel);
                for (int64_t o = 0; o < y->numel; o++) {
                    const int64_t s = naive_source(x, y, cases[c].pads, cases[c].n_pads, cases[c].mode, o);
                    if (s >= 0) want[s] += lt_f32(g)[o];
                }
                /* same summation order (output order) as the kernel: exact */
                for (int64_t i = 0; i < x->numel; i++)
                    ck_assert_msg(x->grad[i] == want[i], "case %zu gradient %lld: %g vs %g", c, (long long)i,
                                  x->grad[i], want[i]);
            }
            lt_ctx_reset(ctx);
        }
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_errors)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_error("first");
    const int64_t pads[2] = {1, 1};
    ck_assert_ptr_null(lt_pad(NULL, pads, 2, LT_PAD_CONSTANT, 0));
    ck_assert_str_eq(lt_last_error(), "first");
    const int64_t shape[2] = {2, 3};
    lt_tensor *x = lt_zeros(LT_F32, 2, shape);
    ck_assert_ptr_null(lt_pad(x, NULL, 2, LT_PAD_CONSTANT, 0));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "pad: pads is NULL for 2 values (input [2,3])"));
    ck_assert_ptr_null(lt_pad(x, pads, 2, (lt_pad_mode)7, 0));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "pad: unknown mode 7"));
    lt_tensor *i = lt_zeros(LT_I32, 2, shape);
    ck_assert_ptr_null(lt_pad(i, pads, 2, LT_PAD_CONSTANT, 3e9f));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "cannot be converted to int32"));
    lt_tensor *u = lt_zeros(LT_U8, 2, shape);
    ck_assert_ptr_null(lt_pad(u, pads, 2, LT_PAD_CONSTANT, -1.0f));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "cannot be converted to uint8"));
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pad");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_large_against_naive);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
