/* SGD: trajectories against torch.optim.SGD fed the same per-step gradients,
 * and the store/optimizer interplay (packing, freezing, state, errors). */
#include "fixture.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static lt_sgd_options options_of(fx_case *c)
{
    return (lt_sgd_options){
        .lr = (float)fx_param_f(c, "lr", 0.0),
        .momentum = (float)fx_param_f(c, "momentum", 0.0),
        .dampening = (float)fx_param_f(c, "dampening", 0.0),
        .weight_decay = (float)fx_param_f(c, "weight_decay", 0.0),
        .nesterov = fx_param_b(c, "nesterov", false),
    };
}

static lt_tensor *add_param(lt_params *p, const char *name, const lt_tensor *init)
{
    lt_tensor *t = lt_params_add(p, "layer", name, LT_F32, init->ndim, init->shape, true);
    ck_assert_msg(t != NULL, "%s", lt_last_error());
    memcpy(t->data, init->data, sizeof(float) * (size_t)t->numel);
    return t;
}

/* New learning rate before step s, when the case schedules one. */
static void apply_lr_schedule(fx_case *c, lt_sgd *opt, int64_t s)
{
    for (int i = 0;; i++) {
        char at[32], lr[32];
        snprintf(at, sizeof at, "lr_at_%d", i);
        snprintf(lr, sizeof lr, "lr_%d", i);
        const int64_t step = fx_param_i(c, at, -1);
        if (step < 0) return;
        if (step == s) lt_sgd_set_lr(opt, (float)fx_param_f(c, lr, 0.0));
    }
}

/* Runs the case's steps; the parameters after every step are the outputs. */
static lt_tensor *run_sgd(fx_case *c)
{
    lt_tensor *w0 = fx_in(c, "w0"), *b0 = fx_in(c, "b0"), *gw = fx_in(c, "gw"), *gb = fx_in(c, "gb");
    const lt_sgd_options o = options_of(c);
    lt_params *p = lt_params_new();
    lt_tensor *w = add_param(p, "weight", w0), *b = add_param(p, "bias", b0);
    if (fx_param_b(c, "packed", false)) ck_assert_int_eq(lt_params_pack(p), 0);
    const bool frozen_b = fx_param_b(c, "frozen_b", false);
    const int64_t unfreeze_at = fx_param_i(c, "unfreeze_b_at", -1);
    if (frozen_b || unfreeze_at > 0) lt_params_set_trainable(p, "layer.bias", false);
    lt_sgd *opt = lt_sgd_new(p, &o);
    if (!opt) {
        lt_params_free(p);
        return NULL;
    }
    const int64_t steps = fx_param_i(c, "steps", 1);
    const int64_t tw_shape[3] = {steps, w->shape[0], w->shape[1]}, tb_shape[2] = {steps, b->numel};
    lt_tensor *traj_w = lt_empty(LT_F32, 3, tw_shape), *traj_b = lt_empty(LT_F32, 2, tb_shape);
    for (int64_t s = 0; s < steps; s++) {
        apply_lr_schedule(c, opt, s);
        if (s == unfreeze_at) lt_params_set_trainable(p, "layer.bias", true);
        /* Frozen parameters get gradients too: the optimizer must skip them. */
        memcpy(w->grad, lt_f32(gw) + s * w->numel, sizeof(float) * (size_t)w->numel);
        memcpy(b->grad, lt_f32(gb) + s * b->numel, sizeof(float) * (size_t)b->numel);
        ck_assert_int_eq(lt_sgd_step(opt), 0);
        memcpy(lt_f32(traj_w) + s * w->numel, w->data, sizeof(float) * (size_t)w->numel);
        memcpy(lt_f32(traj_b) + s * b->numel, b->data, sizeof(float) * (size_t)b->numel);
    }
    lt_sgd_free(opt);
    lt_params_free(p);
    fx_out(c, "traj_w", traj_w);
    fx_out(c, "traj_b", traj_b);
    return traj_w;
}

static const fx_op optim_ops[] = {{"sgd", run_sgd}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("optim", optim_ops, 1);
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- store / optimizer interplay ---------------- */

/* A store with parameters of awkward sizes and a buffer between them. */
static lt_params *make_store(void)
{
    lt_params *p = lt_params_new();
    const int64_t s1[2] = {37, 1001}, s2[1] = {3}, s3[4] = {5, 3, 3, 3};
    lt_rng rng;
    lt_rng_seed(&rng, 9);
    lt_tensor *a = lt_params_add(p, "a", "weight", LT_F32, 2, s1, true);
    lt_params_add(p, "a", "running_mean", LT_F32, 1, s2, false);
    lt_tensor *b = lt_params_add(p, "b", "bias", LT_F32, 1, s2, true);
    lt_tensor *c = lt_params_add(p, "c", "weight", LT_F32, 4, s3, true);
    lt_init_uniform(a, &rng, -1, 1);
    lt_init_uniform(b, &rng, -1, 1);
    lt_init_uniform(c, &rng, -1, 1);
    return p;
}

static void set_grads(lt_params *p, int step)
{
    for (size_t i = 0; i < lt_params_count(p); i++) {
        lt_tensor *t = lt_params_at(p, i);
        if (!t->grad) continue;
        for (int64_t j = 0; j < t->numel; j++) t->grad[j] = (float)((j * 7 + step * 13 + (int64_t)i) % 17) / 8 - 1;
    }
}

/* The flat update over a packed store gives the bits of the per-tensor one. */
START_TEST(test_packed_matches_unpacked)
{
    const lt_sgd_options o = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-3f, .nesterov = true};
    lt_params *p1 = make_store(), *p2 = make_store();
    ck_assert_int_eq(lt_params_pack(p2), 0);
    lt_sgd *s1 = lt_sgd_new(p1, &o), *s2 = lt_sgd_new(p2, &o);
    for (int step = 0; step < 5; step++) {
        set_grads(p1, step);
        set_grads(p2, step);
        ck_assert_int_eq(lt_sgd_step(s1), 0);
        ck_assert_int_eq(lt_sgd_step(s2), 0);
    }
    for (size_t i = 0; i < lt_params_count(p1); i++) {
        lt_tensor *t1 = lt_params_at(p1, i), *t2 = lt_params_at(p2, i);
        ck_assert(memcmp(t1->data, t2->data, lt_dtype_size(t1->dtype) * (size_t)t1->numel) == 0);
    }
    ck_assert_uint_eq(lt_params_at(p2, 0)->version, 5);
    ck_assert_uint_eq(lt_params_at(p2, 1)->version, 0); /* the buffer is not touched */
    lt_sgd_free(s1), lt_sgd_free(s2);
    lt_params_free(p1), lt_params_free(p2);
}
END_TEST

/* Weight decay is added to a copy: the stored gradient is unchanged. */
START_TEST(test_gradient_not_modified)
{
    const lt_sgd_options o = {.lr = 0.1f, .momentum = 0.5f, .weight_decay = 0.1f};
    lt_params *p = make_store();
    lt_sgd *s = lt_sgd_new(p, &o);
    set_grads(p, 1);
    lt_tensor *a = lt_params_at(p, 0);
    const float g0 = a->grad[5];
    ck_assert_int_eq(lt_sgd_step(s), 0);
    ck_assert_float_eq(a->grad[5], g0);
    lt_sgd_free(s);
    lt_params_free(p);
}
END_TEST

START_TEST(test_store_changed)
{
    const lt_sgd_options o = {.lr = 0.1f};
    lt_params *p = make_store();
    lt_sgd *s = lt_sgd_new(p, &o);
    const int64_t one = 1;
    lt_params_add(p, "d", "weight", LT_F32, 1, &one, true);
    ck_assert_int_eq(lt_sgd_step(s), -1);
    ck_assert_msg(strstr(lt_last_error(), "sgd: the parameter store changed") != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_sgd_step(NULL), -1);
    ck_assert_ptr_null(lt_sgd_new(NULL, &o));
    lt_sgd_free(s);
    lt_sgd_free(NULL);
    lt_params_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("sgd");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_packed_matches_unpacked);
    tcase_add_test(tc, test_gradient_not_modified);
    tcase_add_test(tc, test_store_changed);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
