/* Dropout: deterministic PyTorch cases from the fixture; statistics, scaling,
 * gradients and determinism of the random masks here. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *run_dropout(fx_case *c) { return lt_dropout(fx_in(c, "x"), (float)fx_param_f(c, "p", 0.5)); }

static const fx_op dropout_ops[] = {{"dropout", run_dropout}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("dropout", dropout_ops, 1);
    ck_assert_int_gt(n, 0);
}
END_TEST

/* A context with training on and the given seed, made current. */
static lt_ctx *seeded_ctx(uint64_t seed)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_ctx_seed(ctx, seed);
    return ctx;
}

static lt_tensor *owned_uniform(int64_t rows, int64_t cols, uint64_t seed)
{
    const int64_t shape[2] = {rows, cols};
    lt_tensor *t = lt_tensor_new(LT_F32, 2, shape);
    fx_fill_uniform(t, seed, 0.5f, 2.0f); /* nonzero: a zero output means dropped */
    return t;
}

/* Fraction dropped overall and in 10 blocks, each within 6 standard deviations
 * of p; kept values are exactly x * (float)(1 / (1 - p)). */
static void check_statistics(float p)
{
    lt_ctx *ctx = seeded_ctx(7);
    lt_tensor *x = owned_uniform(200, 301, 1); /* above the threading threshold */
    lt_tensor *y = lt_dropout(x, p);
    ck_assert_ptr_nonnull(y);
    const float scale = (float)(1.0 / (1.0 - (double)p));
    const int64_t n = x->numel, block = n / 10;
    int64_t dropped = 0, block_dropped[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        const float v = lt_f32(y)[i];
        if (v == 0.0f) {
            dropped++;
            if (i / block < 10) block_dropped[i / block]++;
        } else {
            ck_assert_msg(v == lt_f32(x)[i] * scale, "p=%g element %lld: %.9g is not x * scale", (double)p,
                          (long long)i, (double)v);
        }
    }
    const double sd = sqrt((double)p * (1.0 - (double)p) / (double)n);
    ck_assert_msg(fabs((double)dropped / (double)n - p) < 6 * sd + 1e-9, "p=%g: dropped fraction %g", (double)p,
                  (double)dropped / (double)n);
    const double block_sd = sqrt((double)p * (1.0 - (double)p) / (double)block);
    for (int b = 0; b < 10; b++)
        ck_assert_msg(fabs((double)block_dropped[b] / (double)block - p) < 6 * block_sd + 1e-9,
                      "p=%g block %d: dropped fraction %g", (double)p, b, (double)block_dropped[b] / (double)block);
    lt_tensor_free(x);
    lt_ctx_free(ctx);
}

START_TEST(test_drop_fraction_and_scale)
{
    const float ps[] = {0.01f, 0.1f, 0.3f, 0.5f, 0.9f};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) check_statistics(ps[i]);
}
END_TEST

/* Gradient = upstream * mask * scale, read off the forward output. */
START_TEST(test_gradient_is_mask_times_scale)
{
    lt_ctx *ctx = seeded_ctx(11);
    lt_tensor *x = owned_uniform(13, 17, 2);
    lt_tensor_set_requires_grad(x, true);
    const float p = 0.4f, scale = (float)(1.0 / 0.6);
    lt_tensor *y = lt_dropout(x, p);
    ck_assert_ptr_nonnull(y);
    ck_assert(lt_requires_grad(y));
    lt_tensor *g = lt_copy(x);
    fx_fill_uniform(x, 3, 0.5f, 2.0f); /* x's values no longer matter for backward */
    for (int64_t i = 0; i < g->numel; i++) lt_f32(g)[i] = (float)(i % 7) - 3.0f;
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    for (int64_t i = 0; i < x->numel; i++) {
        const float want = lt_f32(y)[i] != 0.0f ? lt_f32(g)[i] * scale : 0.0f;
        ck_assert_float_eq(x->grad[i], want);
    }
    lt_tensor_free(x);
    lt_ctx_free(ctx);
}
END_TEST

/* Copies the mask pattern (nonzero outputs) of one dropout call. */
static void mask_of(lt_tensor *x, float p, unsigned char *mask)
{
    lt_tensor *y = lt_dropout(x, p);
    ck_assert_ptr_nonnull(y);
    for (int64_t i = 0; i < x->numel; i++) mask[i] = lt_f32(y)[i] != 0.0f;
}

START_TEST(test_determinism)
{
    lt_tensor *x = owned_uniform(190, 211, 4);
    const size_t n = (size_t)x->numel;
    unsigned char *a = malloc(n), *b = malloc(n), *c = malloc(n), *d = malloc(n);
    const int threads = lt_get_num_threads();

    /* Same seed: the same sequence of masks, whatever the thread count. */
    lt_set_num_threads(1);
    lt_ctx *ctx = seeded_ctx(42);
    mask_of(x, 0.5f, a);
    mask_of(x, 0.5f, b);
    lt_ctx_free(ctx);
    lt_set_num_threads(2);
    ctx = seeded_ctx(42);
    mask_of(x, 0.5f, c);
    mask_of(x, 0.5f, d);
    ck_assert(memcmp(a, c, n) == 0);
    ck_assert(memcmp(b, d, n) == 0);
    /* Successive draws differ; re-seeding restarts the sequence; a step reset does not. */
    ck_assert(memcmp(a, b, n) != 0);
    lt_ctx_seed(ctx, 42);
    mask_of(x, 0.5f, c);
    ck_assert(memcmp(a, c, n) == 0);
    lt_ctx_reset(ctx);
    mask_of(x, 0.5f, c);
    ck_assert(memcmp(b, c, n) == 0);
    /* Another seed, another mask. */
    lt_ctx_seed(ctx, 43);
    mask_of(x, 0.5f, c);
    ck_assert(memcmp(a, c, n) != 0);
    /* Identity calls (p = 0, eval) draw nothing. */
    lt_ctx_seed(ctx, 42);
    ck_assert_ptr_nonnull(lt_dropout(x, 0.0f));
    lt_set_training(false);
    ck_assert_ptr_nonnull(lt_dropout(x, 0.5f));
    lt_set_training(true);
    mask_of(x, 0.5f, c);
    ck_assert(memcmp(a, c, n) == 0);
    lt_ctx_free(ctx);

    lt_set_num_threads(threads);
    free(a), free(b), free(c), free(d);
    lt_tensor_free(x);
}
END_TEST

/* Eval mode: values pass unchanged, gradients too, nothing is copied. */
START_TEST(test_eval_identity)
{
    lt_ctx *ctx = seeded_ctx(5);
    lt_tensor *x = owned_uniform(5, 9, 6);
    lt_tensor_set_requires_grad(x, true);
    lt_set_training(false);
    lt_tensor *y = lt_dropout(x, 0.7f);
    ck_assert_ptr_nonnull(y);
    ck_assert_ptr_eq(y->data, x->data);
    ck_assert(lt_requires_grad(y) && y != x);
    lt_tensor *g = lt_copy(x);
    ck_assert_int_eq(lt_backward_with_grad(y, g), 0);
    ck_assert(memcmp(x->grad, lt_f32(g), sizeof(float) * (size_t)x->numel) == 0);
    /* No grad mode: nothing recorded. */
    lt_ctx_reset(ctx);
    lt_set_training(true);
    lt_set_grad_enabled(false);
    y = lt_dropout(x, 0.5f);
    ck_assert(y && !lt_requires_grad(y));
    ck_assert_uint_eq(lt_tape_size(), 0);
    lt_tensor_free(x);
    lt_ctx_free(ctx);
}
END_TEST

/* The mask is the documented counter-based hash: element i of the d-th draw
 * after seeding is kept when the high 32 bits of lt_hash64(key + i) are at
 * least p * 2^32, key = lt_hash64(seed ^ lt_hash64(d + 0x6a09e667f3bcc909)). */
START_TEST(test_mask_definition)
{
    lt_ctx *ctx = seeded_ctx(5);
    lt_tensor *x = owned_uniform(33, 65, 8);
    const float p = 0.3f;
    const uint64_t threshold = (uint64_t)llround((double)p * 4294967296.0);
    for (uint64_t draw = 0; draw < 3; draw++) {
        lt_tensor *y = lt_dropout(x, p);
        ck_assert_ptr_nonnull(y);
        const uint64_t key = lt_hash64(5 ^ lt_hash64(draw + 0x6a09e667f3bcc909ull));
        for (int64_t i = 0; i < x->numel; i++) {
            const bool kept = (lt_hash64(key + (uint64_t)i) >> 32) >= threshold;
            ck_assert_msg(kept == (lt_f32(y)[i] != 0.0f), "draw %llu element %lld", (unsigned long long)draw,
                          (long long)i);
        }
    }
    lt_tensor_free(x);
    lt_ctx_free(ctx);
}
END_TEST

/* Finite differences with a fixed mask: each evaluation re-seeds the context. */
static lt_tensor *call_dropout(lt_tensor **in, void *user)
{
    lt_ctx_seed(lt_ctx_current(), 99);
    return lt_dropout(in[0], *(const float *)user);
}

START_TEST(test_finite_differences)
{
    const float ps[] = {0.25f, 0.6f};
    for (int i = 0; i < 2; i++) {
        lt_tensor *x = owned_uniform(7, 11, 10 + (uint64_t)i);
        fx_gradcheck("dropout", call_dropout, (void *)&ps[i], &x, 1, 1e-2f, 1e-2f, 40);
        lt_tensor_free(x);
    }
}
END_TEST

START_TEST(test_null_input)
{
    lt_ctx *ctx = seeded_ctx(1);
    lt_set_error("first");
    ck_assert_ptr_null(lt_dropout(NULL, 0.5f));
    ck_assert_str_eq(lt_last_error(), "first");
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_drop_fraction_and_scale);
    tcase_add_test(tc, test_gradient_is_mask_times_scale);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_eval_identity);
    tcase_add_test(tc, test_mask_definition);
    tcase_add_test(tc, test_finite_differences);
    tcase_add_test(tc, test_null_input);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
