/* Losses: cross_entropy, binary_cross_entropy_with_logits, mse, l1, smooth_l1. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_reduction case_reduction(fx_case *c)
{
    const char *r = fx_param_s(c, "reduction", "mean");
    return !strcmp(r, "sum") ? LT_REDUCTION_SUM : (!strcmp(r, "none") ? LT_REDUCTION_NONE : LT_REDUCTION_MEAN);
}

static lt_tensor *run_cross_entropy(fx_case *c)
{
    lt_cross_entropy_params p = LT_CROSS_ENTROPY_DEFAULTS;
    p.weight = fx_has(c, "weight") ? fx_in(c, "weight") : NULL;
    p.ignore_index = (int32_t)fx_param_i(c, "ignore_index", -100);
    p.label_smoothing = (float)fx_param_f(c, "label_smoothing", 0.0);
    p.reduction = case_reduction(c);
    return lt_cross_entropy(fx_in(c, "x"), fx_in(c, "target"), &p);
}

static lt_tensor *run_bce(fx_case *c)
{
    return lt_bce_with_logits(fx_in(c, "x"), fx_in(c, "target"), fx_has(c, "weight") ? fx_in(c, "weight") : NULL,
                              fx_has(c, "pos_weight") ? fx_in(c, "pos_weight") : NULL, case_reduction(c));
}

static lt_tensor *run_mse(fx_case *c) { return lt_mse_loss(fx_in(c, "x"), fx_in(c, "target"), case_reduction(c)); }
static lt_tensor *run_l1(fx_case *c) { return lt_l1_loss(fx_in(c, "x"), fx_in(c, "target"), case_reduction(c)); }
static lt_tensor *run_smooth_l1(fx_case *c)
{
    return lt_smooth_l1_loss(fx_in(c, "x"), fx_in(c, "target"), (float)fx_param_f(c, "beta", 1.0),
                             case_reduction(c));
}

static const fx_op loss_ops[] = {
    {"cross_entropy", run_cross_entropy}, {"bce_with_logits", run_bce}, {"mse_loss", run_mse},
    {"l1_loss", run_l1},                  {"smooth_l1_loss", run_smooth_l1},
};

START_TEST(test_fixtures)
{
    int n = fx_run_group("loss", loss_ops, (int)(sizeof loss_ops / sizeof loss_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---- helpers ---- */

static lt_tensor *owned_uniform(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi)
{
    lt_tensor *t = lt_tensor_new(LT_F32, ndim, shape);
    ck_assert_ptr_nonnull(t);
    fx_fill_uniform(t, seed, lo, hi);
    return t;
}

/* Class indices in [0, C) with every `ignore_every`-th set to ignore. */
static lt_tensor *owned_classes(int ndim, const int64_t *shape, int32_t C, int ignore_every, int32_t ignore)
{
    lt_tensor *t = lt_tensor_new(LT_I32, ndim, shape);
    ck_assert_ptr_nonnull(t);
    lt_rng rng;
    lt_rng_seed(&rng, 5);
    for (int64_t i = 0; i < t->numel; i++)
        lt_i32(t)[i] = ignore_every && i % ignore_every == 3 ? ignore : (int32_t)lt_rng_below(&rng, (uint64_t)C);
    return t;
}

/* ---- finite differences ---- */

typedef struct ce_call {
    lt_tensor *target; /* class indices (probability targets are gradchecked as input 1) */
    lt_cross_entropy_params p;
} ce_call;

static lt_tensor *call_ce_classes(lt_tensor **in, void *user)
{
    ce_call *c = user;
    return lt_cross_entropy(in[0], c->target, &c->p);
}

static lt_tensor *call_ce_probs(lt_tensor **in, void *user)
{
    ce_call *c = user;
    return lt_cross_entropy(in[0], in[1], &c->p);
}

START_TEST(test_cross_entropy_finite_differences)
{
    static const struct {
        int ndim;
        int64_t shape[4];
        bool weighted;
        float smoothing;
        lt_reduction reduction;
    } layouts[] = {
        {2, {5, 4}, true, 0.2f, LT_REDUCTION_MEAN},      {2, {7, 3}, false, 0.0f, LT_REDUCTION_NONE},
        {4, {2, 3, 5, 7}, true, 0.1f, LT_REDUCTION_MEAN}, {4, {2, 3, 9, 9}, false, 0.3f, LT_REDUCTION_SUM},
        {3, {3, 5, 4}, true, 0.0f, LT_REDUCTION_NONE},
    };
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++) {
        const int ndim = layouts[l].ndim;
        const int64_t C = layouts[l].shape[1];
        int64_t tshape[4];
        int tnd = 0;
        for (int d = 0; d < ndim; d++)
            if (d != 1) tshape[tnd++] = layouts[l].shape[d];
        lt_tensor *x = owned_uniform(ndim, layouts[l].shape, 60 + l, -3.0f, 3.0f);
        lt_tensor *w = owned_uniform(1, &C, 70 + l, 0.3f, 2.0f);
        ce_call call = {.target = owned_classes(tnd, tshape, (int32_t)C, 5, -100), .p = LT_CROSS_ENTROPY_DEFAULTS};
        call.p.weight = layouts[l].weighted ? w : NULL;
        call.p.label_smoothing = layouts[l].smoothing;
        call.p.reduction = layouts[l].reduction;
        char what[64];
        snprintf(what, sizeof what, "cross_entropy classes layout %zu", l);
        fx_gradcheck(what, call_ce_classes, &call, &x, 1, 1e-2f, 1e-2f, 60);

        /* probabilities (unnormalised, positive): gradients of logits and target */
        lt_tensor *in[2] = {x, owned_uniform(ndim, layouts[l].shape, 80 + l, 0.0f, 1.0f)};
        snprintf(what, sizeof what, "cross_entropy probabilities layout %zu", l);
        fx_gradcheck(what, call_ce_probs, &call, in, 2, 1e-2f, 1e-2f, 60);
        lt_tensor_free(in[1]);
        lt_tensor_free(call.target);
        lt_tensor_free(w);
        lt_tensor_free(x);
    }
}
END_TEST

typedef struct bce_call {
    lt_tensor *weight, *pos_weight;
    lt_reduction reduction;
} bce_call;

static lt_tensor *call_bce(lt_tensor **in, void *user)
{
    bce_call *c = user;
    return lt_bce_with_logits(in[0], in[1], c->weight, c->pos_weight, c->reduction);
}

START_TEST(test_bce_finite_differences)
{
    int64_t shape[3] = {3, 5, 7}, last = 7;
    lt_tensor *w = owned_uniform(3, shape, 1, 0.2f, 2.0f), *pw = owned_uniform(1, &last, 2, 0.5f, 3.0f);
    const bce_call calls[] = {
        {NULL, NULL, LT_REDUCTION_MEAN}, {w, NULL, LT_REDUCTION_SUM}, {NULL, pw, LT_REDUCTION_NONE},
        {w, pw, LT_REDUCTION_MEAN},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        lt_tensor *in[2] = {owned_uniform(3, shape, 10 + i, -4.0f, 4.0f), owned_uniform(3, shape, 20 + i, 0.0f, 1.0f)};
        char what[64];
        snprintf(what, sizeof what, "bce_with_logits call %zu", i);
        fx_gradcheck(what, call_bce, (void *)&calls[i], in, 2, 1e-2f, 1e-2f, 60);
        lt_tensor_free(in[0]);
        lt_tensor_free(in[1]);
    }
    lt_tensor_free(w);
    lt_tensor_free(pw);
}
END_TEST

typedef struct regression_call {
    int kind; /* 0 mse, 1 l1, 2 smooth_l1 */
    float beta;
    lt_reduction reduction;
} regression_call;

static lt_tensor *call_regression(lt_tensor **in, void *user)
{
    const regression_call *c = user;
    switch (c->kind) {
    case 0: return lt_mse_loss(in[0], in[1], c->reduction);
    case 1: return lt_l1_loss(in[0], in[1], c->reduction);
    default: return lt_smooth_l1_loss(in[0], in[1], c->beta, c->reduction);
    }
}

/* Moves x so that d = x - t stays 0.05 away from the kinks (0, +-beta). */
static void away_from_kinks(lt_tensor *x, const lt_tensor *t, float beta)
{
    for (int64_t i = 0; i < x->numel; i++) {
        const int64_t j = i % t->numel; /* t is the same shape or a trailing broadcast */
        float d = lt_f32(x)[i] - lt_f32(t)[j];
        if (fabsf(d) < 0.05f) d = d < 0 ? -0.1f : 0.1f;
        if (beta > 0 && fabsf(fabsf(d) - beta) < 0.05f) d += d < 0 ? -0.1f : 0.1f;
        lt_f32(x)[i] = lt_f32(t)[j] + d;
    }
}

START_TEST(test_regression_finite_differences)
{
    int64_t shape[3] = {3, 5, 7}, row[1] = {7};
    const regression_call calls[] = {
        {0, 0, LT_REDUCTION_MEAN}, {0, 0, LT_REDUCTION_NONE},  {1, 0, LT_REDUCTION_SUM},
        {2, 1.0f, LT_REDUCTION_MEAN}, {2, 0.3f, LT_REDUCTION_NONE}, {2, 0.0f, LT_REDUCTION_SUM},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
        for (int bcast = 0; bcast < 2; bcast++) {
            lt_tensor *in[2] = {owned_uniform(3, shape, 30 + i, -2.0f, 2.0f),
                                bcast ? owned_uniform(1, row, 40 + i, -2.0f, 2.0f)
                                      : owned_uniform(3, shape, 40 + i, -2.0f, 2.0f)};
            away_from_kinks(in[0], in[1], calls[i].kind == 2 ? calls[i].beta : 0.0f);
            char what[64];
            snprintf(what, sizeof what, "regression call %zu%s", i, bcast ? " (broadcast target)" : "");
            fx_gradcheck(what, call_regression, (void *)&calls[i], in, 2, 1e-2f, 1e-2f, 60);
            lt_tensor_free(in[0]);
            lt_tensor_free(in[1]);
        }
}
END_TEST

/* ---- segmentation size: double reference, 1 vs 2 threads ---- */

/* Mean cross entropy of [N,C,S] logits with weights, ignore and smoothing,
 * and its gradient, in double. */
static double ce_reference(const lt_tensor *x, const lt_tensor *t, const float *w, int32_t ignore, double ls,
                           double *grad)
{
    const int64_t N = x->shape[0], C = x->shape[1], S = x->numel / N / C;
    double total = 0.0, W = 0.0, w_sum = 0.0;
    for (int64_t k = 0; k < C; k++) w_sum += w[k];
    double *lp = malloc(sizeof(double) * (size_t)C);
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++) {
            const float *xs = lt_f32(x) + n * C * S + s;
            const int32_t tc = lt_i32(t)[n * S + s];
            if (tc == ignore) continue;
            double m = -INFINITY, se = 0.0;
            for (int64_t k = 0; k < C; k++) m = fmax(m, xs[k * S]);
            for (int64_t k = 0; k < C; k++) se += exp(xs[k * S] - m);
            double smooth = 0.0;
            for (int64_t k = 0; k < C; k++) {
                lp[k] = xs[k * S] - m - log(se);
                smooth -= w[k] * lp[k];
            }
            total += (1 - ls) * -w[tc] * lp[tc] + ls / (double)C * smooth;
            W += w[tc];
        }
    for (int64_t i = 0; i < x->numel; i++) grad[i] = 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++) {
            const float *xs = lt_f32(x) + n * C * S + s;
            const int32_t tc = lt_i32(t)[n * S + s];
            if (tc == ignore) continue;
            double m = -INFINITY, se = 0.0;
            for (int64_t k = 0; k < C; k++) m = fmax(m, xs[k * S]);
            for (int64_t k = 0; k < C; k++) se += exp(xs[k * S] - m);
            for (int64_t k = 0; k < C; k++) {
                double p = exp(xs[k * S] - m) / se;
                double g = p * ((1 - ls) * w[tc] + ls / (double)C * w_sum) - ls / (double)C * w[k];
                if (k == tc) g -= (1 - ls) * w[tc];
                grad[n * C * S + k * S + s] = g / W;
            }
        }
    free(lp);
    return total / W;
}

START_TEST(test_cross_entropy_large)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t shape[4] = {3, 21, 37, 41}, tshape[3] = {3, 37, 41}, C = 21;
    lt_tensor *x = owned_uniform(4, shape, 3, -6.0f, 6.0f);
    lt_tensor *w = owned_uniform(1, &C, 4, 0.2f, 3.0f);
    lt_tensor *t = owned_classes(3, tshape, 21, 7, 255);
    lt_tensor_set_requires_grad(x, true);
    double *want_grad = malloc(sizeof(double) * (size_t)x->numel);
    const double want = ce_reference(x, t, lt_f32(w), 255, 0.1, want_grad);
    float *grads[2];
    float loss[2];
    for (int threads = 1; threads <= 2; threads++) {
        lt_set_num_threads(threads);
        lt_tensor_zero_grad(x);
        lt_cross_entropy_params p = LT_CROSS_ENTROPY_DEFAULTS;
        p.weight = w;
        p.ignore_index = 255;
        p.label_smoothing = 0.1f;
        lt_tensor *l = lt_cross_entropy(x, t, &p);
        ck_assert_msg(l != NULL, "%s", lt_last_error());
        ck_assert_int_eq(lt_backward(l), 0);
        loss[threads - 1] = lt_item(l);
        grads[threads - 1] = malloc(sizeof(float) * (size_t)x->numel);
        memcpy(grads[threads - 1], x->grad, sizeof(float) * (size_t)x->numel);
        lt_ctx_reset(ctx);
    }
    lt_set_num_threads(0);
    ck_assert(loss[0] == loss[1]);
    ck_assert_int_eq(memcmp(grads[0], grads[1], sizeof(float) * (size_t)x->numel), 0);
    ck_assert_msg(fabs(loss[0] - want) <= 2e-6 * want, "loss %.9g vs %.9g", loss[0], want);
    double worst = 0.0;
    for (int64_t i = 0; i < x->numel; i++) worst = fmax(worst, fabs(grads[0][i] - want_grad[i]));
    ck_assert_msg(worst <= 1e-9, "gradient off by %g", worst);
    free(grads[0]);
    free(grads[1]);
    free(want_grad);
    lt_tensor_free(t);
    lt_tensor_free(w);
    lt_tensor_free(x);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

/* Elementwise losses at threaded sizes: same bits for 1 and 2 threads. */
START_TEST(test_elementwise_losses_threads)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t shape[2] = {301, 257}, last = 257;
    lt_tensor *x = owned_uniform(2, shape, 8, -4.0f, 4.0f), *t = owned_uniform(2, shape, 9, 0.0f, 1.0f);
    lt_tensor *pw = owned_uniform(1, &last, 10, 0.5f, 2.0f);
    lt_tensor_set_requires_grad(x, true);
    lt_tensor_set_requires_grad(t, true);
    for (int kind = 0; kind < 4; kind++) {
        float loss[2];
        float *gx[2], *gt[2];
        for (int threads = 1; threads <= 2; threads++) {
            lt_set_num_threads(threads);
            lt_tensor_zero_grad(x);
            lt_tensor_zero_grad(t);
            lt_tensor *l = kind == 0   ? lt_bce_with_logits(x, t, NULL, pw, LT_REDUCTION_MEAN)
                           : kind == 1 ? lt_mse_loss(x, t, LT_REDUCTION_MEAN)
                           : kind == 2 ? lt_l1_loss(x, t, LT_REDUCTION_SUM)
                                       : lt_smooth_l1_loss(x, t, 0.5f, LT_REDUCTION_MEAN);
            ck_assert_msg(l != NULL, "%s", lt_last_error());
            ck_assert_int_eq(lt_backward(l), 0);
            loss[threads - 1] = lt_item(l);
            gx[threads - 1] = malloc(sizeof(float) * (size_t)x->numel);
            gt[threads - 1] = malloc(sizeof(float) * (size_t)x->numel);
            memcpy(gx[threads - 1], x->grad, sizeof(float) * (size_t)x->numel);
            memcpy(gt[threads - 1], t->grad, sizeof(float) * (size_t)x->numel);
            lt_ctx_reset(ctx);
        }
        ck_assert_msg(loss[0] == loss[1], "kind %d: %.9g vs %.9g", kind, loss[0], loss[1]);
        ck_assert_int_eq(memcmp(gx[0], gx[1], sizeof(float) * (size_t)x->numel), 0);
        ck_assert_int_eq(memcmp(gt[0], gt[1], sizeof(float) * (size_t)x->numel), 0);
        for (int i = 0; i < 2; i++) {
            free(gx[i]);
            free(gt[i]);
        }
    }
    lt_set_num_threads(0);
    lt_tensor_free(pw);
    lt_tensor_free(t);
    lt_tensor_free(x);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

START_TEST(test_api_conventions)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    int64_t shape[2] = {2, 3};
    lt_tensor *x = lt_zeros(LT_F32, 2, shape);
    lt_set_error("first");
    ck_assert_ptr_null(lt_cross_entropy(NULL, x, NULL));
    ck_assert_ptr_null(lt_cross_entropy(x, NULL, NULL));
    ck_assert_ptr_null(lt_bce_with_logits(NULL, x, NULL, NULL, LT_REDUCTION_MEAN));
    ck_assert_ptr_null(lt_mse_loss(x, NULL, LT_REDUCTION_MEAN));
    ck_assert_ptr_null(lt_l1_loss(NULL, x, LT_REDUCTION_MEAN));
    ck_assert_ptr_null(lt_smooth_l1_loss(NULL, NULL, 1.0f, LT_REDUCTION_MEAN));
    ck_assert_str_eq(lt_last_error(), "first");
    /* NULL params: PyTorch's defaults (mean, ignore_index -100) */
    int32_t cls[2] = {2, -100};
    int64_t n = 2;
    lt_tensor *l = lt_cross_entropy(x, lt_from_data(LT_I32, 1, &n, cls), NULL);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(l->ndim, 0);
    ck_assert(fabsf(lt_item(l) - logf(3.0f)) < 1e-6f);
    ck_assert_ptr_null(lt_mse_loss(x, x, (lt_reduction)7));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "mse_loss: unknown reduction 7"));
    /* class indices: one fused node on the tape */
    lt_tensor_set_requires_grad(x, true);
    size_t tape = lt_tape_size();
    ck_assert_ptr_nonnull(lt_cross_entropy(x, lt_from_data(LT_I32, 1, &n, cls), NULL));
    ck_assert_uint_eq(lt_tape_size(), tape + 1);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_cross_entropy_finite_differences);
    tcase_add_test(tc, test_bce_finite_differences);
    tcase_add_test(tc, test_regression_finite_differences);
    tcase_add_test(tc, test_cross_entropy_large);
    tcase_add_test(tc, test_elementwise_losses_threads);
    tcase_add_test(tc, test_api_conventions);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
