/* Selection ops (where, masked_fill, gather, index_select) and lt_cast. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *run_where(fx_case *c) { return lt_where(fx_in(c, "cond"), fx_in(c, "a"), fx_in(c, "b")); }
static lt_tensor *run_masked_fill(fx_case *c)
{
    return lt_masked_fill(fx_in(c, "x"), fx_in(c, "mask"), (float)fx_param_f(c, "value", 0));
}
static lt_tensor *run_gather(fx_case *c)
{
    return lt_gather(fx_in(c, "x"), (int)fx_param_i(c, "dim", 0), fx_in(c, "index"));
}
static lt_tensor *run_index_select(fx_case *c)
{
    return lt_index_select(fx_in(c, "x"), (int)fx_param_i(c, "dim", 0), fx_in(c, "index"));
}
static lt_tensor *run_cast(fx_case *c)
{
    const char *d = fx_param_s(c, "dtype", "f32");
    lt_dtype dtype = !strcmp(d, "i32") ? LT_I32 : !strcmp(d, "u8") ? LT_U8 : !strcmp(d, "i64") ? LT_I64 : LT_F32;
    return lt_cast(fx_in(c, "x"), dtype);
}

static const fx_op select_ops[] = {
    {"where", run_where},   {"masked_fill", run_masked_fill}, {"gather", run_gather},
    {"index_select", run_index_select}, {"cast", run_cast},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("select", select_ops, (int)(sizeof select_ops / sizeof select_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---- helpers ---- */

static lt_tensor *owned_f32(int ndim, const int64_t *shape, uint64_t seed)
{
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    ck_assert_ptr_nonnull(t);
    fx_fill_uniform(t, seed, -2.0f, 2.0f);
    return t;
}

/* Owned uint8 mask (about half set) or int32 indices in [0, bound). */
static lt_tensor *owned_int(lt_dtype dtype, int ndim, const int64_t *shape, uint64_t seed, int32_t bound)
{
    lt_tensor *t = lt_tensor_new(dtype, ndim, shape);
    ck_assert_ptr_nonnull(t);
    lt_rng rng;
    lt_rng_seed(&rng, seed);
    for (int64_t i = 0; i < t->numel; i++) {
        uint32_t v = (uint32_t)lt_rng_below(&rng, (uint64_t)bound);
        if (dtype == LT_U8)
            lt_u8(t)[i] = (uint8_t)v;
        else
            lt_i32(t)[i] = (int32_t)v;
    }
    return t;
}

/* ---- finite differences ---- */

typedef struct select_args {
    int dim;
    lt_tensor *aux; /* cond / mask / index */
} select_args;

static lt_tensor *call_where(lt_tensor **in, void *user)
{
    return lt_where(((select_args *)user)->aux, in[0], in[1]);
}
static lt_tensor *call_masked_fill(lt_tensor **in, void *user)
{
    return lt_masked_fill(in[0], ((select_args *)user)->aux, 0.25f);
}
static lt_tensor *call_gather(lt_tensor **in, void *user)
{
    select_args *s = user;
    return lt_gather(in[0], s->dim, s->aux);
}
static lt_tensor *call_index_select(lt_tensor **in, void *user)
{
    select_args *s = user;
    return lt_index_select(in[0], s->dim, s->aux);
}

START_TEST(test_finite_differences)
{
    /* where: cond [3,1,7], a [5,1], b [3,5,7] -> [3,5,7] */
    {
        lt_tensor *cond = owned_int(LT_U8, 3, (int64_t[]){3, 1, 7}, 1, 2);
        lt_tensor *in[2] = {owned_f32(2, (int64_t[]){5, 1}, 2), owned_f32(3, (int64_t[]){3, 5, 7}, 3)};
        select_args s = {.aux = cond};
        fx_gradcheck("where broadcast", call_where, &s, in, 2, 1e-2f, 1e-2f, 40);
        lt_tensor_free(in[0]);
        lt_tensor_free(in[1]);
        lt_tensor_free(cond);
    }
    /* masked_fill: x [3,5,7], mask [5,1] */
    {
        lt_tensor *mask = owned_int(LT_U8, 2, (int64_t[]){5, 1}, 4, 2);
        lt_tensor *x = owned_f32(3, (int64_t[]){3, 5, 7}, 5);
        select_args s = {.aux = mask};
        fx_gradcheck("masked_fill broadcast", call_masked_fill, &s, &x, 1, 1e-2f, 1e-2f, 40);
        lt_tensor_free(x);
        lt_tensor_free(mask);
    }
    /* gather with repeated indices on each dim, index smaller than x outside dim */
    for (int dim = 0; dim < 3; dim++) {
        int64_t xs[3] = {3, 5, 7}, is[3] = {3, 4, 5};
        is[dim] = 9;
        lt_tensor *index = owned_int(LT_I32, 3, is, 6 + (uint64_t)dim, (int32_t)xs[dim]);
        lt_tensor *x = owned_f32(3, xs, 7);
        select_args s = {.dim = dim, .aux = index};
        char what[32];
        snprintf(what, sizeof what, "gather dim %d", dim);
        fx_gradcheck(what, call_gather, &s, &x, 1, 1e-2f, 1e-2f, 40);
        lt_tensor_free(x);
        lt_tensor_free(index);
    }
    /* index_select with repeated indices on each dim */
    for (int dim = -3; dim < 0; dim++) {
        int64_t xs[3] = {3, 5, 7};
        lt_tensor *index = owned_int(LT_I32, 1, (int64_t[]){11}, 8 + (uint64_t)dim, (int32_t)xs[dim + 3]);
        lt_tensor *x = owned_f32(3, xs, 9);
        select_args s = {.dim = dim, .aux = index};
        char what[32];
        snprintf(what, sizeof what, "index_select dim %d", dim);
        fx_gradcheck(what, call_index_select, &s, &x, 1, 1e-2f, 1e-2f, 40);
        lt_tensor_free(x);
        lt_tensor_free(index);
    }
}
END_TEST

/* ---- large shapes: the threaded paths against plain loops ---- */

static void use_ctx(lt_ctx **ctx)
{
    *ctx = lt_ctx_new();
    lt_ctx_use(*ctx);
}

static void drop_ctx(lt_ctx *ctx)
{
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

START_TEST(test_large_where_masked_fill)
{
    lt_ctx *ctx;
    use_ctx(&ctx);
    int64_t shape[4] = {4, 8, 33, 35}, cshape[4] = {4, 1, 33, 35};
    lt_tensor *cond = owned_int(LT_U8, 4, cshape, 11, 2);
    lt_tensor *a = owned_f32(4, shape, 12), *b = owned_f32(1, shape + 3, 13);
    lt_tensor_set_requires_grad(a, true);
    lt_tensor_set_requires_grad(b, true);
    lt_tensor *y = lt_where(cond, a, b);
    ck_assert_ptr_nonnull(y);
    lt_tensor *g = lt_empty(LT_F32, 4, shape);
    fx_fill_uniform(g, 14, -1, 1);
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    double *gb = calloc(35, sizeof *gb);
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t w = i % 35, hw = i % (33 * 35), n = i / (8 * 33 * 35);
        bool c = lt_u8(cond)[n * 33 * 35 + hw] != 0;
        ck_assert_float_eq(lt_f32(y)[i], c ? lt_f32(a)[i] : lt_f32(b)[w]);
        ck_assert_float_eq(a->grad[i], c ? lt_f32(g)[i] : 0.0f);
        if (!c) gb[w] += lt_f32(g)[i];
    }
    for (int w = 0; w < 35; w++) ck_assert_double_eq_tol(b->grad[w], gb[w], 1e-3);
    free(gb);
    lt_tensor_free(b);

    /* masked_fill with the same mask, broadcast over channels (a new step:
     * the tape keeps the finished where node marked as needed) */
    lt_ctx_reset(ctx);
    lt_tensor_zero_grad(a);
    g = lt_empty(LT_F32, 4, shape);
    fx_fill_uniform(g, 14, -1, 1);
    y = lt_masked_fill(a, cond, -3.0f);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(lt_backward_with_grad(y, g) == 0, "%s", lt_last_error());
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t hw = i % (33 * 35), n = i / (8 * 33 * 35);
        bool c = lt_u8(cond)[n * 33 * 35 + hw] != 0;
        ck_assert_float_eq(lt_f32(y)[i], c ? -3.0f : lt_f32(a)[i]);
        ck_assert_float_eq(a->grad[i], c ? 0.0f : lt_f32(g)[i]);
    }
    lt_tensor_free(a);
    lt_tensor_free(cond);
    drop_ctx(ctx);
}
END_TEST

START_TEST(test_large_gather_index_select)
{
    lt_ctx *ctx;
    use_ctx(&ctx);
    /* index_select on dim 0 (embedding lookup) with many repeats */
    int64_t xs[2] = {50, 700};
    lt_tensor *x = owned_f32(2, xs, 21);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor *index = owned_int(LT_I32, 1, (int64_t[]){300}, 22, 50);
    lt_tensor *y = lt_index_select(x, 0, index);
    ck_assert_ptr_nonnull(y);
    lt_tensor *g = lt_empty(LT_F32, 2, y->shape);
    fx_fill_uniform(g, 23, -1, 1);
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    float *want = calloc((size_t)x->numel, sizeof *want);
    for (int64_t k = 0; k < 300; k++) {
        int32_t r = lt_i32(index)[k];
        ck_assert(memcmp(lt_f32(y) + k * 700, lt_f32(x) + r * 700, 700 * sizeof(float)) == 0);
        for (int64_t q = 0; q < 700; q++) want[r * 700 + q] += lt_f32(g)[k * 700 + q];
    }
    /* index order summation: the same bits as the plain loop */
    ck_assert(memcmp(want, x->grad, sizeof(float) * (size_t)x->numel) == 0);
    free(want);
    lt_tensor_free(index);
    lt_tensor_free(x);
    lt_ctx_reset(ctx);

    /* gather along dim 1 of [N,C,H,W] with a [N,K,H,W] index */
    int64_t gs[4] = {2, 9, 41, 43}, is[4] = {2, 12, 41, 43};
    x = owned_f32(4, gs, 24);
    lt_tensor_set_requires_grad(x, true);
    index = owned_int(LT_I32, 4, is, 25, 9);
    y = lt_gather(x, 1, index);
    ck_assert_ptr_nonnull(y);
    g = lt_empty(LT_F32, 4, is);
    fx_fill_uniform(g, 26, -1, 1);
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    want = calloc((size_t)x->numel, sizeof *want);
    const int64_t hw = 41 * 43;
    for (int64_t i = 0; i < y->numel; i++) {
        int64_t p = i % hw, n = i / (12 * hw);
        int64_t src = (n * 9 + lt_i32(index)[i]) * hw + p;
        ck_assert_float_eq(lt_f32(y)[i], lt_f32(x)[src]);
        want[src] += lt_f32(g)[i];
    }
    ck_assert(memcmp(want, x->grad, sizeof(float) * (size_t)x->numel) == 0);
    free(want);
    lt_tensor_free(index);
    lt_tensor_free(x);
    drop_ctx(ctx);
}
END_TEST

/* ---- casts the fixtures cannot express (int64) and edge values ---- */

START_TEST(test_cast_int64)
{
    lt_ctx *ctx;
    use_ctx(&ctx);
    const float f[] = {-1.5f, -0.7f, 0.7f, 300.7f, 3e9f, -3e9f, NAN, INFINITY, 1e19f, -9.2e18f};
    const int64_t want_i64[] = {-1, 0, 0, 300, 3000000000LL, -3000000000LL, INT64_MIN, INT64_MIN, INT64_MIN,
                                -9200000000000000000LL};
    int64_t n[1] = {10};
    lt_tensor *x = lt_from_data(LT_F32, 1, n, f);
    lt_tensor *y = lt_cast(x, LT_I64);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(y->dtype, LT_I64);
    for (int i = 0; i < 10; i++) {
        /* -9.2e18f is not exactly representable: compare with its float value */
        int64_t want = i == 9 ? (int64_t)-9.2e18f : want_i64[i];
        ck_assert_msg(((int64_t *)y->data)[i] == want, "f32 %g -> i64 %lld, want %lld", f[i],
                      (long long)((int64_t *)y->data)[i], (long long)want);
    }

    const int64_t big[] = {(1LL << 40) + 5, -(1LL << 33) - 7, -1, 255, 16777217};
    int64_t m[1] = {5};
    lt_tensor *l = lt_from_data(LT_I64, 1, m, big);
    lt_tensor *to_i32 = lt_cast(l, LT_I32), *to_u8 = lt_cast(l, LT_U8), *to_f32 = lt_cast(l, LT_F32);
    const int32_t want_i32[] = {5, -7, -1, 255, 16777217};
    const uint8_t want_u8[] = {5, 249, 255, 255, 1};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(lt_i32(to_i32)[i], want_i32[i]);
        ck_assert_uint_eq(lt_u8(to_u8)[i], want_u8[i]);
        ck_assert_float_eq(lt_f32(to_f32)[i], (float)big[i]);
    }
    lt_tensor *back = lt_cast(lt_cast(to_i32, LT_I64), LT_I32);
    ck_assert(memcmp(back->data, to_i32->data, sizeof want_i32) == 0);
    lt_tensor *bytes = lt_cast(lt_cast(to_u8, LT_I64), LT_U8);
    ck_assert(memcmp(bytes->data, to_u8->data, sizeof want_u8) == 0);
    lt_tensor *same = lt_cast(l, LT_I64);
    ck_assert(same != l && memcmp(same->data, l->data, sizeof big) == 0);

    /* casts never record a graph */
    lt_tensor *p = lt_full(1, m, 1.5f);
    lt_tensor_set_requires_grad(p, true);
    lt_tensor *q = lt_cast(p, LT_F32);
    ck_assert(!lt_requires_grad(q) && q->grad_fn == NULL);

    ck_assert_ptr_null(lt_cast(p, (lt_dtype)17));
    ck_assert_msg(strstr(lt_last_error(), "cast: unknown target dtype 17 for x [5] (float32)"), "%s", lt_last_error());
    drop_ctx(ctx);
}
END_TEST

/* int64 masked_fill and int64 data through gather / index_select. */
START_TEST(test_int64_data)
{
    lt_ctx *ctx;
    use_ctx(&ctx);
    const int64_t v[6] = {1LL << 40, -2, 3, 4, -(1LL << 35), 6};
    lt_tensor *x = lt_from_data(LT_I64, 2, (int64_t[]){2, 3}, v);
    const uint8_t m[3] = {1, 0, 1};
    lt_tensor *mask = lt_from_data(LT_U8, 1, (int64_t[]){3}, m);
    lt_tensor *y = lt_masked_fill(x, mask, -9.5f);
    const int64_t want[6] = {-9, -2, -9, -9, -(1LL << 35), -9};
    ck_assert(memcmp(y->data, want, sizeof want) == 0);

    const int32_t idx[2] = {2, 0};
    lt_tensor *index = lt_from_data(LT_I32, 1, (int64_t[]){2}, idx);
    lt_tensor *s = lt_index_select(x, 1, index);
    const int64_t want_s[4] = {3, 1LL << 40, 6, 4};
    ck_assert(memcmp(s->data, want_s, sizeof want_s) == 0);

    lt_tensor *gi = lt_from_data(LT_I32, 2, (int64_t[]){2, 1}, (int32_t[]){1, 2});
    lt_tensor *gt = lt_gather(x, 1, gi);
    ck_assert_int_eq(((int64_t *)gt->data)[0], -2);
    ck_assert_int_eq(((int64_t *)gt->data)[1], 6);
    drop_ctx(ctx);
}
END_TEST

START_TEST(test_null_and_modes)
{
    lt_ctx *ctx;
    use_ctx(&ctx);
    int64_t shape[2] = {2, 3};
    lt_tensor *x = lt_full(2, shape, 1.0f), *mask = lt_zeros(LT_U8, 2, shape), *index = lt_zeros(LT_I32, 2, shape);
    lt_tensor_set_requires_grad(x, true);
    lt_set_error("first");
    ck_assert_ptr_null(lt_where(NULL, x, x));
    ck_assert_ptr_null(lt_where(mask, NULL, x));
    ck_assert_ptr_null(lt_where(mask, x, NULL));
    ck_assert_ptr_null(lt_masked_fill(NULL, mask, 0));
    ck_assert_ptr_null(lt_masked_fill(x, NULL, 0));
    ck_assert_ptr_null(lt_gather(NULL, 0, index));
    ck_assert_ptr_null(lt_gather(x, 0, NULL));
    ck_assert_ptr_null(lt_index_select(NULL, 0, index));
    ck_assert_ptr_null(lt_index_select(x, 0, NULL));
    ck_assert_ptr_null(lt_cast(NULL, LT_F32));
    ck_assert_str_eq(lt_last_error(), "first");

    bool was = lt_set_grad_enabled(false);
    size_t tape = lt_tape_size();
    lt_tensor *y = lt_where(mask, x, x);
    ck_assert(y && !lt_requires_grad(y));
    y = lt_gather(x, 1, index);
    ck_assert(y && !lt_requires_grad(y));
    ck_assert_uint_eq(lt_tape_size(), tape);
    lt_set_grad_enabled(was);

    /* where(c, x, x) sends the whole gradient to x */
    const uint8_t c[6] = {1, 0, 1, 1, 0, 0};
    y = lt_where(lt_from_data(LT_U8, 2, shape, c), x, x);
    ck_assert_int_eq(lt_backward_with_grad(y, lt_full(2, shape, 2.0f)), 0);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(x->grad[i], 2.0f);
    drop_ctx(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_large_where_masked_fill);
    tcase_add_test(tc, test_large_gather_index_select);
    tcase_add_test(tc, test_cast_int64);
    tcase_add_test(tc, test_int64_data);
    tcase_add_test(tc, test_null_and_modes);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
