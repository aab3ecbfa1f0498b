/* Generic optimizers (Adam, AdamW, RMSprop, SGD by name): trajectories
 * against torch.optim fed the same per-step gradients, each run also
 * checkpointed halfway (optimizer and scheduler state saved, both rebuilt
 * from the config and reloaded) so the restored run must stay on PyTorch's
 * trajectory; then config errors, state listing / loading errors, and the
 * packed-store path. */
#include "fixture.h"
#include "trajectory.h"

#include <ltrain/sched.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_cfg *parse_cfg(const char *text)
{
    lt_cfg *c = lt_cfg_parse_yaml(text, strlen(text), "params");
    ck_assert_msg(c != NULL, "%s", lt_last_error());
    return c;
}

static bool recorded(int64_t s) { return s < 3 || (s + 1) % 5 == 0; }

/* A live optimizer (and scheduler) built from the case's configs. */
typedef struct run {
    lt_cfg *cfg, *sched_cfg;
    lt_optimizer *opt;
    lt_scheduler *sched;
} run;

static bool run_open(fx_case *c, lt_params *p, run *r)
{
    r->opt = lt_optimizer_new(fx_param_s(c, "optimizer", ""), p, r->cfg);
    if (!r->opt) return false;
    const char *sched = fx_param_s(c, "sched", NULL);
    if (sched) {
        r->sched = lt_scheduler_new(sched, r->opt, r->sched_cfg, 0);
        ck_assert_msg(r->sched != NULL, "%s", lt_last_error());
    }
    return true;
}

static void run_close(run *r)
{
    lt_scheduler_free(r->sched);
    lt_optimizer_free(r->opt);
    r->sched = NULL;
    r->opt = NULL;
}

/* Checkpoint: saves both states (the scheduler's through YAML text, as a
 * checkpoint file would hold it), rebuilds both from the configs, loads. */
static void run_checkpoint(fx_case *c, lt_params *p, run *r)
{
    lt_named_tensors *st = lt_optimizer_state(r->opt);
    ck_assert_msg(st != NULL, "%s", lt_last_error());
    char *yaml = NULL;
    if (r->sched) {
        lt_cfg *ss = lt_scheduler_state(r->sched);
        ck_assert_msg(ss != NULL, "%s", lt_last_error());
        yaml = lt_cfg_to_yaml(ss);
        lt_cfg_free(ss);
    }
    run_close(r);
    ck_assert(run_open(c, p, r));
    ck_assert_msg(lt_optimizer_load_state(r->opt, st) == 0, "%s", lt_last_error());
    if (yaml) {
        lt_cfg *ss = lt_cfg_parse_yaml(yaml, strlen(yaml), "state");
        ck_assert_msg(ss && lt_scheduler_load_state(r->sched, ss) == 0, "%s", lt_last_error());
        lt_cfg_free(ss);
        free(yaml);
    }
    lt_named_tensors_free(st);
}

/* fx_run_trajectory's callbacks on a run (its configs parsed). */
static bool traj_open(fx_case *c, lt_params *p, void *user)
{
    return run_open(c, p, user);
}

static void traj_before_step(fx_case *c, lt_params *p, int64_t s, void *user)
{
    if (s == fx_param_i(c, "steps", 1) / 2) run_checkpoint(c, p, user);
}

static void traj_step(void *user)
{
    run *r = user;
    ck_assert_msg(lt_optimizer_step(r->opt) == 0, "%s", lt_last_error());
    if (r->sched) ck_assert_msg(lt_scheduler_step(r->sched) == 0, "%s", lt_last_error());
}

static void traj_close(void *user) { run_close(user); }

static lt_tensor *run_optimizer(fx_case *c)
{
    run r = {.cfg = parse_cfg(fx_param_s(c, "cfg", "{}"))};
    const char *sched_cfg = fx_param_s(c, "sched_cfg", NULL);
    if (sched_cfg) r.sched_cfg = parse_cfg(sched_cfg);
    const fx_trajectory t = {.open = traj_open, .before_step = traj_before_step, .step = traj_step,
                             .close = traj_close, .record = recorded, .user = &r};
    lt_tensor *out = fx_run_trajectory(c, &t);
    lt_cfg_free(r.cfg);
    lt_cfg_free(r.sched_cfg);
    return out;
}

static const fx_op adam_ops[] = {{"optimizer", run_optimizer}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("adam", adam_ops, 1);
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- store / optimizer interplay ---------------- */

static lt_optimizer *new_opt(const char *name, lt_params *p, const char *yaml)
{
    lt_cfg *cfg = parse_cfg(yaml);
    lt_optimizer *o = lt_optimizer_new(name, p, cfg);
    ck_assert_msg(o != NULL, "%s", lt_last_error());
    lt_cfg_free(cfg);
    return o;
}

static const struct {
    const char *name, *cfg;
} configs[] = {
    {"Adam", "{lr: 0.01, amsgrad: true, weight_decay: 0.01}"},
    {"AdamW", "{lr: 0.01, betas: [0.8, 0.9]}"},
    {"RMSprop", "{lr: 0.01, momentum: 0.9, centered: true, weight_decay: 0.001}"},
    {"SGD", "{lr: 0.01, momentum: 0.9, nesterov: true}"},
};

/* The threaded flat update over a packed store gives the bits of the
 * per-tensor one (the large tensor crosses LT_PAR_MIN). */
START_TEST(test_packed_matches_unpacked)
{
    for (int k = 0; k < 4; k++) {
        lt_params *p1 = fx_awkward_store(), *p2 = fx_awkward_store();
        ck_assert_int_eq(lt_params_pack(p2), 0);
        lt_optimizer *o1 = new_opt(configs[k].name, p1, configs[k].cfg);
        lt_optimizer *o2 = new_opt(configs[k].name, p2, configs[k].cfg);
        for (int step = 0; step < 4; step++) {
            fx_set_step_grads(p1, step);
            fx_set_step_grads(p2, step);
            ck_assert_int_eq(lt_optimizer_step(o1), 0);
            ck_assert_int_eq(lt_optimizer_step(o2), 0);
        }
        for (size_t i = 0; i < lt_params_count(p1); i++) {
            lt_tensor *t1 = lt_params_at(p1, i), *t2 = lt_params_at(p2, i);
            ck_assert_msg(memcmp(t1->data, t2->data, lt_dtype_size(t1->dtype) * (size_t)t1->numel) == 0, "%s %s",
                          configs[k].name, t1->name);
        }
        ck_assert_uint_eq(lt_params_at(p2, 0)->version, 4);
        ck_assert_uint_eq(lt_params_at(p2, 1)->version, 0); /* the buffer is not touched */
        lt_optimizer_zero_grad(o2);
        ck_assert_float_eq(lt_params_at(p2, 0)->grad[7], 0.0f);
        lt_optimizer_free(o1), lt_optimizer_free(o2);
        lt_params_free(p1), lt_params_free(p2);
    }
}
END_TEST

static int find(const lt_named_tensors *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0) return (int)i;
    return -1;
}

START_TEST(test_state_names)
{
    lt_params *p = fx_awkward_store();
    lt_params_set_trainable(p, "b.", false);
    lt_optimizer *o = new_opt("Adam", p, "{amsgrad: true}");
    lt_named_tensors *st = lt_optimizer_state(o);
    ck_assert_uint_eq(st->n, 0); /* no state before the first step */
    lt_named_tensors_free(st);
    fx_set_step_grads(p, 0);
    ck_assert_int_eq(lt_optimizer_step(o), 0);
    ck_assert_int_eq(lt_optimizer_step(o), 0);
    st = lt_optimizer_state(o);
    ck_assert_uint_eq(st->n, 8); /* a.weight and c.weight: step + 3 buffers; b frozen */
    const int step = find(st, "state.a.weight.step"), m = find(st, "state.c.weight.exp_avg");
    ck_assert_int_ge(step, 0);
    ck_assert_int_ge(m, 0);
    ck_assert_int_ge(find(st, "state.c.weight.max_exp_avg_sq"), 0);
    ck_assert_int_lt(find(st, "state.b.bias.step"), 0);
    ck_assert_int_eq(st->items[step].tensor->dtype, LT_I64);
    ck_assert_int_eq(*(int64_t *)st->items[step].tensor->data, 2);
    ck_assert(lt_same_shape(st->items[m].tensor, lt_params_find(p, "c.weight")));
    lt_named_tensors_free(st);
    lt_optimizer_free(o);

    o = new_opt("RMSprop", p, "{}");
    ck_assert_int_eq(lt_optimizer_step(o), 0);
    st = lt_optimizer_state(o);
    ck_assert_uint_eq(st->n, 4); /* step + square_avg for a and c */
    ck_assert_int_ge(find(st, "state.a.weight.square_avg"), 0);
    lt_named_tensors_free(st);
    lt_optimizer_free(o);

    o = new_opt("SGD", p, "{lr: 0.1}");
    ck_assert_int_eq(lt_optimizer_step(o), 0);
    st = lt_optimizer_state(o);
    ck_assert_uint_eq(st->n, 0); /* no momentum: no buffer (torch: None) */
    lt_named_tensors_free(st);
    lt_optimizer_free(o);
    o = new_opt("SGD", p, "{lr: 0.1, momentum: 0.5}");
    ck_assert_int_eq(lt_optimizer_step(o), 0);
    st = lt_optimizer_state(o);
    ck_assert_uint_eq(st->n, 2);
    ck_assert_int_ge(find(st, "state.c.weight.momentum_buffer"), 0);
    lt_named_tensors_free(st);
    lt_optimizer_free(o);
    lt_params_free(p);
}
END_TEST

/* A bad state is refused with a message naming the entry and leaves the
 * optimizer as it was. */
START_TEST(test_load_state_errors)
{
    lt_params *p = fx_awkward_store();
    lt_optimizer *o = new_opt("Adam", p, "{}");
    fx_set_step_grads(p, 0);
    ck_assert_int_eq(lt_optimizer_step(o), 0);
    lt_named_tensors *st = lt_optimizer_state(o);
    ck_assert_uint_eq(st->n, 9);
    const int m = find(st, "state.b.bias.exp_avg");
    ck_assert_int_ge(m, 0);
    lt_tensor *saved = st->items[m].tensor;

    const int64_t bad_shape[1] = {4};
    st->items[m].tensor = lt_tensor_new(LT_F32, 1, bad_shape);
    ck_assert_int_eq(lt_optimizer_load_state(o, st), -1);
    ck_assert_msg(strstr(lt_last_error(), "Adam: load_state: 'state.b.bias.exp_avg' is float32 [4] but parameter "
                                          "'b.bias' is float32 [3]") != NULL,
                  "%s", lt_last_error());
    lt_tensor_free(st->items[m].tensor);
    st->items[m].tensor = saved;

    char *name = st->items[m].name;
    st->items[m].name = strdup("state.b.bias.exp_avgg");
    ck_assert_int_eq(lt_optimizer_load_state(o, st), -1);
    ck_assert_msg(strstr(lt_last_error(), "Adam: load_state: parameter 'b.bias' has a partial state: "
                                          "'state.b.bias.exp_avg' is missing") != NULL,
                  "%s", lt_last_error());
    free(st->items[m].name);
    st->items[m].name = strdup("state.nope.exp_avg");
    lt_named_tensors *one = &(lt_named_tensors){1, &st->items[m]};
    ck_assert_int_eq(lt_optimizer_load_state(o, one), -1);
    ck_assert_msg(strstr(lt_last_error(), "Adam: load_state: unexpected entry 'state.nope.exp_avg'") != NULL, "%s",
                  lt_last_error());
    free(st->items[m].name);
    st->items[m].name = name;

    const int s = find(st, "state.a.weight.step");
    *(int64_t *)st->items[s].tensor->data = 0;
    ck_assert_int_eq(lt_optimizer_load_state(o, st), -1);
    ck_assert_msg(strstr(lt_last_error(), "'state.a.weight.step' is 0, a step count must be >= 1") != NULL, "%s",
                  lt_last_error());
    *(int64_t *)st->items[s].tensor->data = 1;

    /* Nothing changed: the next step equals the one of an untouched twin. */
    lt_params *p2 = fx_awkward_store();
    lt_optimizer *o2 = new_opt("Adam", p2, "{}");
    fx_set_step_grads(p2, 0);
    ck_assert_int_eq(lt_optimizer_step(o2), 0);
    fx_set_step_grads(p, 1), fx_set_step_grads(p2, 1);
    ck_assert_int_eq(lt_optimizer_step(o), 0);
    ck_assert_int_eq(lt_optimizer_step(o2), 0);
    ck_assert(memcmp(lt_params_at(p, 0)->data, lt_params_at(p2, 0)->data, 4 * 37 * 1001) == 0);

    /* A valid state loads into an optimizer of the same config... */
    ck_assert_int_eq(lt_optimizer_load_state(o2, st), 0);
    /* ...but not into one whose config has other buffers. */
    lt_optimizer *ams = new_opt("Adam", p2, "{amsgrad: true}");
    ck_assert_int_eq(lt_optimizer_load_state(ams, st), -1);
    ck_assert_msg(strstr(lt_last_error(), "'state.a.weight.max_exp_avg_sq' is missing") != NULL, "%s", lt_last_error());
    /* An empty state resets. */
    ck_assert_int_eq(lt_optimizer_load_state(o2, &(lt_named_tensors){0, NULL}), 0);
    lt_named_tensors *empty = lt_optimizer_state(o2);
    ck_assert_uint_eq(empty->n, 0);
    lt_named_tensors_free(empty);
    lt_optimizer_free(ams);
    lt_named_tensors_free(st);
    lt_optimizer_free(o), lt_optimizer_free(o2);
    lt_params_free(p), lt_params_free(p2);
}
END_TEST

START_TEST(test_hyperparameters)
{
    lt_params *p = fx_awkward_store();
    lt_optimizer *o = new_opt("AdamW", p, "{betas: [0.8, 0.9]}");
    ck_assert_str_eq(lt_optimizer_name(o), "AdamW");
    ck_assert(lt_optimizer_get_lr(o) == 1e-3);
    ck_assert(lt_optimizer_get_momentum(o) == 0.8);
    ck_assert(lt_optimizer_has_momentum(o));
    ck_assert_int_eq(lt_optimizer_set_lr(o, 0.5), 0);
    ck_assert(lt_optimizer_get_lr(o) == 0.5);
    ck_assert_int_eq(lt_optimizer_set_lr(o, -1.0), -1);
    ck_assert_msg(strstr(lt_last_error(), "AdamW: invalid learning rate: -1") != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_optimizer_set_momentum(o, NAN), -1);
    lt_optimizer_free(o);
    /* null values mean torch's defaults */
    o = new_opt("RMSprop", p, "{lr: ~, alpha: 0.5}");
    ck_assert(lt_optimizer_get_lr(o) == 1e-2);
    lt_optimizer_free(o);
    lt_optimizer_free(NULL);
    ck_assert_int_eq(lt_optimizer_step(NULL), -1);
    lt_params_free(p);
}
END_TEST

START_TEST(test_config_errors)
{
    lt_params *p = fx_awkward_store();
    const char *yaml = "optimizer:\n  name: Adam\n  params:\n    lr: 0.1\n    betas: [0.9, fast]\n";
    lt_cfg *root = lt_cfg_parse_yaml(yaml, strlen(yaml), "cfg.yaml");
    lt_cfg *params = lt_cfg_get(lt_cfg_get(root, "optimizer"), "params");
    ck_assert_ptr_null(lt_optimizer_new("Adam", p, params));
    ck_assert_msg(strstr(lt_last_error(), "cfg.yaml:5:18: Adam: parameter 'betas' expects a list of 2 numbers, got 'fast'") != NULL,
                  "%s", lt_last_error());
    lt_cfg_free(root);
    ck_assert_ptr_null(lt_optimizer_new(NULL, p, NULL));
    ck_assert_ptr_null(lt_optimizer_new("Adam", NULL, NULL));
    lt_optimizer *o = lt_optimizer_new("Adam", p, NULL); /* all defaults */
    ck_assert_ptr_nonnull(o);
    const int64_t one = 1;
    lt_params_add(p, "d", "weight", LT_F32, 1, &one, true);
    ck_assert_int_eq(lt_optimizer_step(o), -1);
    ck_assert_msg(strstr(lt_last_error(), "Adam: the parameter store changed") != NULL, "%s", lt_last_error());
    lt_optimizer_free(o);
    lt_params_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("adam");
    TCase *tc = tcase_create("optimizers");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_packed_matches_unpacked);
    tcase_add_test(tc, test_state_names);
    tcase_add_test(tc, test_load_state_errors);
    tcase_add_test(tc, test_hyperparameters);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
