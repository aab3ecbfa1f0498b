/* Optimizer trajectories (trajectory.h). */
#include "trajectory.h"

#include <check.h>
#include <string.h>

#include <ltrain/rng.h>

static lt_tensor *add_param(lt_params *p, const char *name, const lt_tensor *init)
{
    lt_tensor *t = lt_params_add(p, "layer", name, LT_F32, init->ndim, init->shape, true);
    ck_assert_msg(t != NULL, "%s", lt_last_error());
    memcpy(t->data, init->data, sizeof(float) * (size_t)t->numel);
    return t;
}

lt_tensor *fx_run_trajectory(fx_case *c, const fx_trajectory *t)
{
    lt_tensor *w0 = fx_in(c, "w0"), *b0 = fx_in(c, "b0"), *gw = fx_in(c, "gw"), *gb = fx_in(c, "gb");
    lt_params *p = lt_params_new();
    lt_tensor *w = add_param(p, "weight", w0), *b = add_param(p, "bias", b0);
    if (fx_param_b(c, "packed", false)) ck_assert_int_eq(lt_params_pack(p), 0);
    const int64_t unfreeze_at = fx_param_i(c, "unfreeze_b_at", -1);
    if (fx_param_b(c, "frozen_b", false) || unfreeze_at > 0) lt_params_set_trainable(p, "layer.bias", false);
    if (!t->open(c, p, t->user)) {
        lt_params_free(p);
        return NULL;
    }
    const int64_t steps = fx_param_i(c, "steps", 1);
    int64_t n_rec = 0;
    for (int64_t s = 0; s < steps; s++) n_rec += !t->record || t->record(s);
    const int64_t tw_shape[3] = {n_rec, w->shape[0], w->shape[1]}, tb_shape[2] = {n_rec, b->numel};
    lt_tensor *traj_w = lt_empty(LT_F32, 3, tw_shape), *traj_b = lt_empty(LT_F32, 2, tb_shape);
    for (int64_t s = 0, k = 0; s < steps; s++) {
        if (s == unfreeze_at) lt_params_set_trainable(p, "layer.bias", true);
        if (t->before_step) t->before_step(c, p, s, t->user);
        memcpy(w->grad, lt_f32(gw) + s * w->numel, sizeof(float) * (size_t)w->numel);
        memcpy(b->grad, lt_f32(gb) + s * b->numel, sizeof(float) * (size_t)b->numel);
        t->step(t->user);
        if (t->record && !t->record(s)) continue;
        memcpy(lt_f32(traj_w) + k * w->numel, w->data, sizeof(float) * (size_t)w->numel);
        memcpy(lt_f32(traj_b) + k * b->numel, b->data, sizeof(float) * (size_t)b->numel);
        k++;
    }
    t->close(t->user);
    lt_params_free(p);
    fx_out(c, "traj_w", traj_w);
    fx_out(c, "traj_b", traj_b);
    return traj_w;
}

/* A store with parameters of awkward sizes and a buffer between them. */
lt_params *fx_awkward_store(void)
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

void fx_set_step_grads(lt_params *p, int step)
{
    for (size_t i = 0; i < lt_params_count(p); i++) {
        lt_tensor *t = lt_params_at(p, i);
        if (!t->grad) continue;
        for (int64_t j = 0; j < t->numel; j++) t->grad[j] = (float)((j * 7 + step * 13 + (int64_t)i) % 17) / 8 - 1;
    }
}
