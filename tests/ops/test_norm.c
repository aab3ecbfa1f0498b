/* Normalisation: batch norm (training / eval, running statistics) and layer norm. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *opt_in(fx_case *c, const char *name) { return fx_has(c, name) ? fx_in(c, name) : NULL; }

static lt_tensor *run_batch_norm(fx_case *c)
{
    lt_tensor *rm = opt_in(c, "running_mean"), *rv = opt_in(c, "running_var");
    lt_tensor *y = lt_batch_norm(fx_in(c, "x"), rm, rv, opt_in(c, "weight"), opt_in(c, "bias"),
                                 fx_param_b(c, "training", true), (float)fx_param_f(c, "momentum", 0.1),
                                 (float)fx_param_f(c, "eps", 1e-5));
    /* The running stats are updated in place: compared as extra outputs. */
    if (y && rm) fx_out(c, "running_mean", rm);
    if (y && rv) fx_out(c, "running_var", rv);
    return y;
}

static lt_tensor *run_layer_norm(fx_case *c)
{
    return lt_layer_norm(fx_in(c, "x"), (int)fx_param_i(c, "normalized_ndim", 1), opt_in(c, "weight"),
                         opt_in(c, "bias"), (float)fx_param_f(c, "eps", 1e-5));
}

static const fx_op norm_ops[] = {{"batch_norm", run_batch_norm}, {"layer_norm", run_layer_norm}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("norm", norm_ops, (int)(sizeof norm_ops / sizeof norm_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- finite differences ---------------- */

typedef struct bn_setup {
    bool training, affine;
    lt_tensor *running_mean, *running_var; /* eval only (constants) */
} bn_setup;

static lt_tensor *call_bn(lt_tensor **in, void *user)
{
    const bn_setup *s = user;
    return lt_batch_norm(in[0], s->running_mean, s->running_var, s->affine ? in[1] : NULL, s->affine ? in[2] : NULL,
                         s->training, 0.1f, 1e-5f);
}

static void gradcheck_bn(const char *what, int ndim, const int64_t *shape, bool training, bool affine, uint64_t seed)
{
    const int64_t c = shape[1];
    lt_tensor *in[3] = {lt_tensor_new(LT_F32, ndim, shape), lt_tensor_new(LT_F32, 1, &c), lt_tensor_new(LT_F32, 1, &c)};
    fx_fill_uniform(in[0], seed, -2.0f, 3.0f);
    fx_fill_uniform(in[1], seed + 1, 0.5f, 1.5f);
    fx_fill_uniform(in[2], seed + 2, -1.0f, 1.0f);
    bn_setup s = {training, affine, NULL, NULL};
    if (!training) {
        s.running_mean = lt_tensor_new(LT_F32, 1, &c);
        s.running_var = lt_tensor_new(LT_F32, 1, &c);
        fx_fill_uniform(s.running_mean, seed + 3, -1.0f, 1.0f);
        fx_fill_uniform(s.running_var, seed + 4, 0.5f, 2.0f);
    }
    fx_gradcheck(what, call_bn, &s, in, affine ? 3 : 1, 1e-2f, 1e-2f, 40);
    for (int i = 0; i < 3; i++) lt_tensor_free(in[i]);
    lt_tensor_free(s.running_mean);
    lt_tensor_free(s.running_var);
}

START_TEST(test_bn_finite_differences)
{
    const int64_t s4[4] = {3, 4, 5, 3}, s2[2] = {7, 5}, s3[3] = {2, 3, 5}, s1x1[4] = {5, 3, 1, 1};
    gradcheck_bn("batch_norm train 4d", 4, s4, true, true, 10);
    gradcheck_bn("batch_norm train 4d no affine", 4, s4, true, false, 20);
    gradcheck_bn("batch_norm train 2d", 2, s2, true, true, 30);
    gradcheck_bn("batch_norm train 3d", 3, s3, true, true, 40);
    gradcheck_bn("batch_norm train 1x1", 4, s1x1, true, true, 50);
    gradcheck_bn("batch_norm eval 4d", 4, s4, false, true, 60);
    gradcheck_bn("batch_norm eval 2d no affine", 2, s2, false, false, 70);
}
END_TEST

typedef struct ln_setup {
    int k;
    bool weight, bias;
} ln_setup;

static lt_tensor *call_ln(lt_tensor **in, void *user)
{
    const ln_setup *s = user;
    return lt_layer_norm(in[0], s->k, s->weight ? in[1] : NULL, s->bias ? in[2] : NULL, 1e-5f);
}

START_TEST(test_ln_finite_differences)
{
    static const struct {
        int ndim, k;
        int64_t shape[4];
        bool weight, bias;
    } cases[] = {
        {2, 1, {5, 7}, true, true},       {3, 2, {3, 5, 3}, true, true}, {4, 3, {2, 3, 3, 5}, true, true},
        {3, 1, {3, 5, 9}, false, false},  {2, 1, {4, 9}, true, false},   {2, 2, {3, 7}, false, true},
        {2, 1, {67, 5}, true, true}, /* several gradient chunks of rows */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int nd = cases[i].ndim, k = cases[i].k;
        lt_tensor *in[3] = {lt_tensor_new(LT_F32, nd, cases[i].shape),
                            lt_tensor_new(LT_F32, k, cases[i].shape + nd - k),
                            lt_tensor_new(LT_F32, k, cases[i].shape + nd - k)};
        fx_fill_uniform(in[0], 100 + i, -2.0f, 2.0f);
        fx_fill_uniform(in[1], 200 + i, 0.5f, 1.5f);
        fx_fill_uniform(in[2], 300 + i, -1.0f, 1.0f);
        ln_setup s = {k, cases[i].weight, cases[i].bias};
        char what[64];
        snprintf(what, sizeof what, "layer_norm case %zu", i);
        fx_gradcheck(what, call_ln, &s, in, 3, 1e-2f, 1e-2f, 40);
        for (int j = 0; j < 3; j++) lt_tensor_free(in[j]);
    }
}
END_TEST

/* ---------------- modes, side effects, determinism ---------------- */

static lt_tensor *owned_uniform(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi)
{
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    fx_fill_uniform(t, seed, lo, hi);
    return t;
}

/* Under no-grad the running stats are still updated, but nothing is recorded. */
START_TEST(test_bn_no_grad_updates_stats)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t shape[4] = {2, 3, 4, 4}, c = 3;
    lt_tensor *x = owned_uniform(4, shape, 1, -1, 1), *w = owned_uniform(1, &c, 2, 0.5f, 1.5f);
    lt_tensor *rm = lt_tensor_new(LT_F32, 1, &c), *rv = lt_tensor_new(LT_F32, 1, &c);
    lt_init_constant(rv, 1.0f);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor_set_requires_grad(w, true);
    lt_set_grad_enabled(false);
    lt_tensor *y = lt_batch_norm(x, rm, rv, w, NULL, true, 0.1f, 1e-5f);
    ck_assert_ptr_nonnull(y);
    ck_assert(!lt_requires_grad(y));
    ck_assert_uint_eq(lt_tape_size(), 0);
    for (int64_t ch = 0; ch < c; ch++) {
        double mean = 0;
        for (int64_t n = 0; n < 2; n++)
            for (int64_t i = 0; i < 16; i++) mean += lt_f32(x)[(n * 3 + ch) * 16 + i];
        mean /= 32;
        ck_assert_float_eq_tol(lt_f32(rm)[ch], (float)(0.1 * mean), 1e-6f);
        ck_assert(lt_f32(rv)[ch] != 1.0f);
    }
    /* Eval mode leaves them alone. */
    float before = lt_f32(rm)[0];
    ck_assert_ptr_nonnull(lt_batch_norm(x, rm, rv, w, NULL, false, 0.1f, 1e-5f));
    ck_assert_float_eq(lt_f32(rm)[0], before);
    lt_set_grad_enabled(true);
    lt_tensor_free(x);
    lt_tensor_free(w);
    lt_tensor_free(rm);
    lt_tensor_free(rv);
    lt_ctx_free(ctx);
}
END_TEST

/* Large tensors take the threaded paths: same bits for 1 and 2 threads
 * (reductions are per channel / per row / per fixed chunk of rows). */
typedef struct det_inputs {
    lt_tensor *x, *w, *b, *rm, *rv, *ln_w;
} det_inputs;

static void norm_outputs(const det_inputs *in, float *out, float *grads)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_tensor_zero_grad(in->x);
    lt_tensor_zero_grad(in->w);
    lt_tensor_zero_grad(in->ln_w);
    lt_tensor *y = lt_batch_norm(in->x, in->rm, in->rv, in->w, in->b, true, 0.1f, 1e-5f);
    lt_tensor *z = lt_layer_norm(y, 1, in->ln_w, NULL, 1e-5f); /* 960 rows: 30 gradient chunks */
    ck_assert_ptr_nonnull(z);
    lt_tensor *g = lt_copy(in->x);
    ck_assert_int_eq(lt_backward_with_grad(z, g), 0);
    const size_t n = (size_t)in->x->numel;
    memcpy(out, lt_f32(z), sizeof(float) * n);
    memcpy(grads, in->x->grad, sizeof(float) * n);
    memcpy(grads + n, in->w->grad, sizeof(float) * 6);
    memcpy(grads + n + 6, in->ln_w->grad, sizeof(float) * 40);
    lt_ctx_free(ctx);
}

START_TEST(test_thread_count_determinism)
{
    const int64_t shape[4] = {4, 6, 40, 40}, c = 6, d = 40;
    det_inputs in = {owned_uniform(4, shape, 5, -3, 4), owned_uniform(1, &c, 6, 0.5f, 1.5f),
                     owned_uniform(1, &c, 7, -1, 1),    lt_tensor_new(LT_F32, 1, &c),
                     lt_tensor_new(LT_F32, 1, &c),      owned_uniform(1, &d, 8, 0.5f, 1.5f)};
    lt_tensor_set_requires_grad(in.x, true);
    lt_tensor_set_requires_grad(in.w, true);
    lt_tensor_set_requires_grad(in.ln_w, true);
    const size_t n = (size_t)in.x->numel, ng = n + 6 + 40;
    float *o1 = malloc(n * 4), *o2 = malloc(n * 4), *g1 = malloc(ng * 4), *g2 = malloc(ng * 4);
    const int threads = lt_get_num_threads();
    lt_set_num_threads(1);
    norm_outputs(&in, o1, g1);
    const float rm1 = lt_f32(in.rm)[3];
    lt_init_constant(in.rm, 0.0f);
    lt_set_num_threads(2);
    norm_outputs(&in, o2, g2);
    lt_set_num_threads(threads);
    ck_assert(memcmp(o1, o2, n * 4) == 0);
    ck_assert(memcmp(g1, g2, ng * 4) == 0);
    ck_assert(lt_f32(in.rm)[3] == rm1);
    free(o1), free(o2), free(g1), free(g2);
    lt_tensor *all[6] = {in.x, in.w, in.b, in.rm, in.rv, in.ln_w};
    for (int i = 0; i < 6; i++) lt_tensor_free(all[i]);
}
END_TEST

/* The NULL-input convention: no result, the first error kept. */
START_TEST(test_null_inputs)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_set_error("first");
    ck_assert_ptr_null(lt_batch_norm(NULL, NULL, NULL, NULL, NULL, true, 0.1f, 1e-5f));
    ck_assert_ptr_null(lt_layer_norm(NULL, 1, NULL, NULL, 1e-5f));
    ck_assert_str_eq(lt_last_error(), "first");
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_bn_finite_differences);
    tcase_add_test(tc, test_ln_finite_differences);
    tcase_add_test(tc, test_bn_no_grad_updates_stats);
    tcase_add_test(tc, test_thread_count_determinism);
    tcase_add_test(tc, test_null_inputs);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
