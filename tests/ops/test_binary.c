/* Broadcasting binary ops: add, sub, mul, div, pow. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef lt_tensor *(*binary_fn)(lt_tensor *, lt_tensor *);

static lt_tensor *run_add(fx_case *c) { return lt_add(fx_in(c, "a"), fx_in(c, "b")); }
static lt_tensor *run_sub(fx_case *c) { return lt_sub(fx_in(c, "a"), fx_in(c, "b")); }
static lt_tensor *run_mul(fx_case *c) { return lt_mul(fx_in(c, "a"), fx_in(c, "b")); }
static lt_tensor *run_div(fx_case *c) { return lt_div(fx_in(c, "a"), fx_in(c, "b")); }
static lt_tensor *run_pow(fx_case *c) { return lt_pow(fx_in(c, "a"), fx_in(c, "b")); }

static const fx_op binary_ops[] = {
    {"add", run_add}, {"sub", run_sub}, {"mul", run_mul}, {"div", run_div}, {"pow", run_pow},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("binary", binary_ops, (int)(sizeof binary_ops / sizeof binary_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---- helpers ---- */

static const struct {
    const char *name;
    binary_fn fn;
} OPS[] = {{"add", lt_add}, {"sub", lt_sub}, {"mul", lt_mul}, {"div", lt_div}, {"pow", lt_pow}};
enum { N_OPS = sizeof OPS / sizeof OPS[0] };

static lt_tensor *owned(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi)
{
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    ck_assert_ptr_nonnull(t);
    fx_fill_uniform(t, seed, lo, hi);
    return t;
}

/* Operands for op k: divisors and bases kept away from zero (random sign for
 * the divisor), exponents in a moderate range. */
static void fill_operands(int k, lt_tensor *a, lt_tensor *b, uint64_t seed)
{
    if (k == 3) {
        fx_fill_uniform(a, seed, -2.0f, 2.0f);
        fx_fill_uniform(b, seed + 1, 0.5f, 2.0f);
        for (int64_t i = 0; i < b->numel; i += 2) lt_f32(b)[i] = -lt_f32(b)[i];
    } else if (k == 4) {
        fx_fill_uniform(a, seed, 0.5f, 2.0f);
        fx_fill_uniform(b, seed + 1, -2.0f, 2.0f);
    } else {
        fx_fill_uniform(a, seed, -2.0f, 2.0f);
        fx_fill_uniform(b, seed + 1, -2.0f, 2.0f);
    }
}

typedef struct shape_pair {
    const char *name;
    int na, nb;
    int64_t sa[4], sb[4];
} shape_pair;

/* Odd sizes through every path: same shape, scalars, channel / row
 * broadcast on either side, outer and interleaved broadcast. */
static const shape_pair PAIRS[] = {
    {"same", 3, 3, {3, 5, 7}, {3, 5, 7}},
    {"scalar_b", 2, 0, {5, 3}, {0}},
    {"scalar_a", 0, 2, {0}, {5, 3}},
    {"channel", 4, 3, {2, 3, 5, 7}, {3, 1, 1}},
    {"channel_a", 4, 4, {1, 3, 1, 1}, {2, 3, 5, 7}},
    {"row", 3, 1, {3, 5, 7}, {7}},
    {"row_a", 1, 3, {7}, {3, 5, 7}},
    {"outer", 3, 2, {3, 1, 5}, {4, 1}},
    {"interleaved", 4, 4, {1, 3, 1, 5}, {3, 1, 7, 1}},
    {"inner", 3, 3, {3, 5, 7}, {3, 5, 1}},
};
enum { N_PAIRS = sizeof PAIRS / sizeof PAIRS[0] };

static lt_tensor *call_binary(lt_tensor **in, void *user) { return ((binary_fn)user)(in[0], in[1]); }

START_TEST(test_finite_differences)
{
    for (int k = 0; k < N_OPS; k++)
        for (int p = 0; p < N_PAIRS; p++) {
            lt_tensor *in[2] = {owned(PAIRS[p].na, PAIRS[p].sa, 1, 0, 1), owned(PAIRS[p].nb, PAIRS[p].sb, 1, 0, 1)};
            fill_operands(k, in[0], in[1], 10 + (uint64_t)(k * N_PAIRS + p));
            char what[64];
            snprintf(what, sizeof what, "%s %s", OPS[k].name, PAIRS[p].name);
            fx_gradcheck(what, call_binary, (void *)OPS[k].fn, in, 2, 1e-2f, 1e-2f, 40);
            lt_tensor_free(in[0]);
            lt_tensor_free(in[1]);
        }
}
END_TEST

/* The same tensor on both sides gets both contributions. */
START_TEST(test_aliased_inputs)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t shape[2] = {3, 7};
    lt_tensor *x = owned(2, shape, 5, 0.5f, 2.0f);
    lt_tensor_set_requires_grad(x, true);
    for (int k = 0; k < N_OPS; k++) {
        lt_tensor_zero_grad(x);
        lt_tensor *y = OPS[k].fn(x, x);
        ck_assert_ptr_nonnull(y);
        ck_assert_int_eq(lt_backward_with_grad(y, lt_full(2, shape, 1.0f)), 0);
        for (int64_t i = 0; i < x->numel; i++) {
            float v = lt_f32(x)[i], want;
            switch (k) {
            case 0: want = 2.0f; break;                               /* x + x */
            case 1: want = 0.0f; break;                               /* x - x */
            case 2: want = 2.0f * v; break;                           /* x * x */
            case 3: want = 0.0f; break;                               /* x / x */
            default: want = powf(v, v) * (1.0f + logf(v)); break;     /* x ** x */
            }
            ck_assert_msg(fabsf(x->grad[i] - want) <= 1e-5f * (1.0f + fabsf(want)), "%s(x, x): grad %g, want %g",
                          OPS[k].name, x->grad[i], want);
        }
        lt_ctx_reset(ctx);
    }
    lt_tensor_free(x);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

/* ---- large shapes: threaded paths against a double-precision reference ---- */

/* Offset in t of output element i (broadcast). */
static int64_t source_offset(const lt_tensor *t, int ndim, const int64_t *shape, int64_t i)
{
    int64_t off = 0, stride = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        int64_t c = i % shape[d];
        i /= shape[d];
        int dt = t->ndim - ndim + d;
        if (dt < 0) continue;
        if (t->shape[dt] != 1) off += c * stride;
        stride *= t->shape[dt];
    }
    return off;
}

static double ref_forward(int k, double x, double y)
{
    switch (k) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    default: return pow(x, y);
    }
}

static void ref_grads(int k, double x, double y, double *da, double *db)
{
    switch (k) {
    case 0: *da = 1, *db = 1; break;
    case 1: *da = 1, *db = -1; break;
    case 2: *da = y, *db = x; break;
    case 3: *da = 1 / y, *db = -x / (y * y); break;
    default: *da = y * pow(x, y - 1), *db = pow(x, y) * log(x); break;
    }
}

static void check_close(const char *what, const float *got, const double *want, int64_t n, double rtol)
{
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-5 + rtol * fabs(want[i]), "%s: element %lld: got %.8g, want %.8g",
                      what, (long long)i, got[i], want[i]);
}

static void check_large(int k, int na, const int64_t *sa, int nb, const int64_t *sb)
{
    lt_tensor *a = owned(na, sa, 1, 0, 1), *b = owned(nb, sb, 1, 0, 1);
    fill_operands(k, a, b, 77);
    lt_tensor_set_requires_grad(a, true);
    lt_tensor_set_requires_grad(b, true);
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_tensor *out = OPS[k].fn(a, b);
    ck_assert_msg(out != NULL, "%s: %s", OPS[k].name, lt_last_error());
    ck_assert_int_gt(out->numel, 32768); /* above LT_PAR_MIN: the threaded paths */
    lt_tensor *g = lt_empty(LT_F32, out->ndim, out->shape);
    fx_fill_uniform(g, 99, -1.0f, 1.0f);

    int64_t n = out->numel;
    double *want = calloc((size_t)n, sizeof *want), *ga = calloc((size_t)a->numel, sizeof *ga),
           *gb = calloc((size_t)b->numel, sizeof *gb);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = source_offset(a, out->ndim, out->shape, i), ib = source_offset(b, out->ndim, out->shape, i);
        double x = lt_f32(a)[ia], y = lt_f32(b)[ib], da, db;
        want[i] = ref_forward(k, x, y);
        ref_grads(k, x, y, &da, &db);
        ga[ia] += lt_f32(g)[i] * da;
        gb[ib] += lt_f32(g)[i] * db;
    }
    char what[96];
    snprintf(what, sizeof what, "%s %s x %s forward", OPS[k].name, lt_shape_str(a, (char[32]){0}, 32),
             lt_shape_str(b, (char[32]){0}, 32));
    check_close(what, lt_f32(out), want, n, 1e-5);
    ck_assert_int_eq(lt_backward_with_grad(out, g), 0);
    /* Broadcast sides sum thousands of terms in float32. */
    check_close("gradient of a", a->grad, ga, a->numel, 1e-4);
    check_close("gradient of b", b->grad, gb, b->numel, 1e-4);

    /* Deterministic: a second run gives the same bits. */
    float *first_a = malloc(sizeof(float) * (size_t)a->numel), *first_b = malloc(sizeof(float) * (size_t)b->numel);
    memcpy(first_a, a->grad, sizeof(float) * (size_t)a->numel);
    memcpy(first_b, b->grad, sizeof(float) * (size_t)b->numel);
    lt_ctx_reset(ctx);
    lt_tensor_zero_grad(a);
    lt_tensor_zero_grad(b);
    out = OPS[k].fn(a, b);
    g = lt_empty(LT_F32, out->ndim, out->shape);
    fx_fill_uniform(g, 99, -1.0f, 1.0f);
    ck_assert_int_eq(lt_backward_with_grad(out, g), 0);
    ck_assert(memcmp(first_a, a->grad, sizeof(float) * (size_t)a->numel) == 0);
    ck_assert(memcmp(first_b, b->grad, sizeof(float) * (size_t)b->numel) == 0);

    free(first_a);
    free(first_b);
    free(want);
    free(ga);
    free(gb);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
    lt_tensor_free(a);
    lt_tensor_free(b);
}

START_TEST(test_large_threaded)
{
    static const shape_pair large[] = {
        {"same", 2, 2, {67, 1031}, {67, 1031}},
        {"channel", 4, 3, {4, 16, 33, 31}, {16, 1, 1}},
        {"row", 2, 1, {300, 257}, {257}},
        {"scalar_a", 0, 3, {0}, {7, 101, 53}},
        {"general", 4, 3, {8, 1, 97, 43}, {5, 97, 1}},
        {"short_rows", 2, 2, {20001, 3}, {1, 3}},
    };
    for (int k = 0; k < N_OPS; k++)
        for (size_t p = 0; p < sizeof large / sizeof large[0]; p++)
            check_large(k, large[p].na, large[p].sa, large[p].nb, large[p].sb);
}
END_TEST

START_TEST(test_modes_and_errors)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t shape[2] = {2, 3};
    lt_tensor *a = lt_full(2, shape, 2.0f), *b = lt_full(1, shape + 1, 3.0f);
    lt_tensor_set_requires_grad(a, true);

    /* grad mode off: nothing recorded */
    bool was = lt_set_grad_enabled(false);
    size_t tape = lt_tape_size();
    lt_tensor *y = lt_mul(a, b);
    ck_assert_ptr_nonnull(y);
    ck_assert(!lt_requires_grad(y));
    ck_assert_uint_eq(lt_tape_size(), tape);
    lt_set_grad_enabled(was);

    /* neither side requires grad: nothing recorded either */
    y = lt_add(b, b);
    ck_assert(!lt_requires_grad(y) && y->grad_fn == NULL);
    ck_assert_float_eq(lt_f32(y)[2], 6.0f);

    /* NULL inputs keep the first error */
    lt_clear_error();
    ck_assert_ptr_null(lt_add(a, lt_full(1, (int64_t[]){7}, 1.0f)));
    char first[256];
    snprintf(first, sizeof first, "%s", lt_last_error());
    ck_assert(first[0] != '\0');
    for (int k = 0; k < N_OPS; k++) {
        ck_assert_ptr_null(OPS[k].fn(NULL, a));
        ck_assert_ptr_null(OPS[k].fn(a, NULL));
    }
    ck_assert_str_eq(lt_last_error(), first);

    /* int inputs name the op and both dtypes */
    lt_tensor *ints = lt_zeros(LT_I32, 2, shape);
    ck_assert_ptr_null(lt_pow(ints, a));
    ck_assert_msg(strstr(lt_last_error(), "pow: needs float32 tensors, got a [2,3] int32 and b [2,3] float32"),
                  "%s", lt_last_error());

    /* pow by a constant 2 (x * x path) still differentiates both sides */
    lt_tensor *two = lt_scalar(2.0f);
    lt_tensor_set_requires_grad(two, true);
    y = lt_pow(a, two);
    ck_assert_float_eq(lt_f32(y)[0], 4.0f);
    ck_assert_int_eq(lt_backward_with_grad(y, lt_full(2, shape, 1.0f)), 0);
    ck_assert_float_eq_tol(a->grad[0], 4.0f, 1e-6f);
    ck_assert_float_eq_tol(two->grad[0], 6.0f * 4.0f * logf(2.0f), 1e-4f);

    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("binary");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_aliased_inputs);
    tcase_add_test(tc, test_large_threaded);
    tcase_add_test(tc, test_modes_and_errors);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
