/* Learning-rate schedulers: lr and momentum sequences against
 * torch.optim.lr_scheduler 1.13 (the doubles themselves, not only their
 * float32 images), each run checkpointed halfway through the state
 * functions (YAML text round trip, optimizer and scheduler rebuilt from the
 * config); then stepping and state errors. */
#include "fixture.h"

#include <ltrain/sched.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lt_cfg *parse_cfg(const char *text)
{
    lt_cfg *c = lt_cfg_parse_yaml(text, strlen(text), "params");
    ck_assert_msg(c != NULL, "%s", lt_last_error());
    return c;
}

/* Space-separated doubles (Python reprs) into out (max n); returns count. */
static int parse_doubles(const char *s, double *out, int n)
{
    int k = 0;
    char *end;
    while (s && k < n) {
        const double v = strtod(s, &end);
        if (end == s) break;
        out[k++] = v;
        s = end;
    }
    return k;
}

typedef struct run {
    lt_params *p;
    lt_cfg *cfg, *sched_cfg;
    lt_optimizer *opt;
    lt_scheduler *sched;
} run;

static bool run_open(fx_case *c, run *r)
{
    r->opt = lt_optimizer_new(fx_param_s(c, "optimizer", ""), r->p, r->cfg);
    ck_assert_msg(r->opt != NULL, "%s", lt_last_error());
    r->sched = lt_scheduler_new(fx_param_s(c, "sched", ""), r->opt, r->sched_cfg, fx_param_i(c, "epochs", 0));
    return r->sched != NULL;
}

static void run_close(run *r)
{
    lt_scheduler_free(r->sched);
    lt_optimizer_free(r->opt);
    r->sched = NULL;
    r->opt = NULL;
}

/* Saves the scheduler state as YAML text, rebuilds, reloads. */
static void run_checkpoint(fx_case *c, run *r)
{
    lt_cfg *st = lt_scheduler_state(r->sched);
    ck_assert_msg(st != NULL, "%s", lt_last_error());
    char *yaml = lt_cfg_to_yaml(st);
    lt_cfg_free(st);
    run_close(r);
    ck_assert(run_open(c, r));
    st = lt_cfg_parse_yaml(yaml, strlen(yaml), "state.yaml");
    ck_assert_msg(st && lt_scheduler_load_state(r->sched, st) == 0, "%s", lt_last_error());
    lt_cfg_free(st);
    free(yaml);
}

enum { MAX_STEPS = 512 };

static void check_double(fx_case *c, const char *what, int i, double got, double want)
{
    /* Exact: the same Python float expressions in the same order, with the
     * same libm, give the same doubles. Exactness is what tells the
     * chainable form from the closed form (they differ by an ulp or two). */
    ck_assert_msg(got == want, "%s: %s[%d] = %.17g, torch %.17g",
                  fx_param_s(c, "sched", ""), what, i, got, want);
}

static lt_tensor *run_scheduler(fx_case *c)
{
    run r = {.p = lt_params_new()};
    const int64_t shape[1] = {2};
    lt_params_add(r.p, NULL, "w", LT_F32, 1, shape, true);
    r.cfg = parse_cfg(fx_param_s(c, "cfg", "{}"));
    r.sched_cfg = parse_cfg(fx_param_s(c, "sched_cfg", "{}"));
    if (!run_open(c, &r)) {
        lt_optimizer_free(r.opt);
        lt_cfg_free(r.cfg);
        lt_cfg_free(r.sched_cfg);
        lt_params_free(r.p);
        return NULL;
    }
    const int steps = (int)fx_param_i(c, "steps", 0);
    ck_assert_int_lt(steps, MAX_STEPS);
    static double lrs[MAX_STEPS], moms[MAX_STEPS], metrics[MAX_STEPS];
    ck_assert_int_eq(parse_doubles(fx_param_s(c, "lrs", ""), lrs, MAX_STEPS), steps + 1);
    ck_assert_int_eq(parse_doubles(fx_param_s(c, "moms", ""), moms, MAX_STEPS), steps + 1);
    const bool with_metric = parse_doubles(fx_param_s(c, "metrics", NULL), metrics, MAX_STEPS) == steps;
    ck_assert(with_metric == lt_scheduler_needs_metric(r.sched));
    const int64_t n = steps + 1;
    lt_tensor *out = lt_empty(LT_F32, 1, &n), *mom = lt_empty(LT_F32, 1, &n);
    for (int s = 0; s <= steps; s++) {
        if (s > 0) {
            if (s == steps / 2) run_checkpoint(c, &r);
            const int rc = with_metric ? lt_scheduler_step_metric(r.sched, metrics[s - 1]) : lt_scheduler_step(r.sched);
            ck_assert_msg(rc == 0, "%s", lt_last_error());
        }
        const double lr = lt_optimizer_get_lr(r.opt), m = lt_optimizer_get_momentum(r.opt);
        check_double(c, "lr", s, lr, lrs[s]);
        check_double(c, "momentum", s, m, moms[s]);
        ck_assert(lt_scheduler_last_lr(r.sched) == lr);
        lt_f32(out)[s] = (float)lr;
        lt_f32(mom)[s] = (float)m;
    }
    run_close(&r);
    lt_cfg_free(r.cfg);
    lt_cfg_free(r.sched_cfg);
    lt_params_free(r.p);
    fx_out(c, "mom", mom);
    return out;
}

/* Two param groups ("a.w" default, "b.w" its own lr, frozen before step
 * `unfreeze`, then rebased to new_lr), fixed gradients, one optimizer and
 * one scheduler step per iteration: both groups' lr sequences exactly, and
 * the final parameters (out). */
static lt_tensor *run_groups(fx_case *c)
{
    lt_params *p = lt_params_new();
    const lt_tensor *a0 = fx_in(c, "a0"), *b0 = fx_in(c, "b0"), *ga = fx_in(c, "ga"), *gb = fx_in(c, "gb");
    lt_tensor *a = lt_params_add(p, "a", "w", LT_F32, 1, a0->shape, true);
    lt_tensor *b = lt_params_add(p, "b", "w", LT_F32, 1, b0->shape, true);
    memcpy(a->data, a0->data, sizeof(float) * (size_t)a->numel);
    memcpy(b->data, b0->data, sizeof(float) * (size_t)b->numel);
    lt_cfg *cfg = parse_cfg(fx_param_s(c, "cfg", "{}")), *sched_cfg = parse_cfg(fx_param_s(c, "sched_cfg", "{}"));
    lt_optimizer *opt = lt_optimizer_new(fx_param_s(c, "optimizer", ""), p, cfg);
    ck_assert_msg(opt != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_optimizer_add_group(opt, "b.", fx_param_f(c, "group_lr", 0)), 1);
    ck_assert_int_eq(lt_optimizer_n_groups(opt), 2);
    lt_scheduler *sched = lt_scheduler_new(fx_param_s(c, "sched", ""), opt, sched_cfg, fx_param_i(c, "epochs", 0));
    ck_assert_msg(sched != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_optimizer_add_group(opt, "a.", 0.1), -1); /* fixed once scheduled */
    const int steps = (int)fx_param_i(c, "steps", 0), unfreeze = (int)fx_param_i(c, "unfreeze", 0);
    static double lrs[MAX_STEPS], lrs1[MAX_STEPS];
    ck_assert_int_eq(parse_doubles(fx_param_s(c, "lrs", ""), lrs, MAX_STEPS), steps + 1);
    ck_assert_int_eq(parse_doubles(fx_param_s(c, "lrs1", ""), lrs1, MAX_STEPS), steps + 1);
    for (int s = 0; s <= steps; s++) {
        if (s > 0) {
            const int i = s - 1;
            if (s == steps / 2) { /* the groups' rates survive a state round trip */
                lt_cfg *st = lt_scheduler_state(sched);
                char *yaml = lt_cfg_to_yaml(st);
                lt_cfg_free(st);
                lt_scheduler_free(sched);
                sched = lt_scheduler_new(fx_param_s(c, "sched", ""), opt, sched_cfg, fx_param_i(c, "epochs", 0));
                st = lt_cfg_parse_yaml(yaml, strlen(yaml), "state.yaml");
                ck_assert_msg(sched && st && lt_scheduler_load_state(sched, st) == 0, "%s", lt_last_error());
                lt_cfg_free(st);
                free(yaml);
            }
            if (i == unfreeze) ck_assert_int_eq(lt_scheduler_rebase_lr(sched, 1, fx_param_f(c, "new_lr", 0)), 0);
            lt_params_set_trainable(p, "b.", i >= unfreeze);
            memcpy(a->grad, lt_f32(ga) + i * a->numel, sizeof(float) * (size_t)a->numel);
            memcpy(b->grad, lt_f32(gb) + i * b->numel, sizeof(float) * (size_t)b->numel);
            ck_assert_msg(lt_optimizer_step(opt) == 0 && lt_scheduler_step(sched) == 0, "%s", lt_last_error());
        }
        check_double(c, "lr", s, lt_optimizer_group_lr(opt, 0), lrs[s]);
        check_double(c, "group 1 lr", s, lt_optimizer_group_lr(opt, 1), lrs1[s]);
        ck_assert(lt_scheduler_group_last_lr(sched, 1) == lrs1[s]);
    }
    const int64_t n = a->numel + b->numel;
    lt_tensor *out = lt_empty(LT_F32, 1, &n);
    memcpy(lt_f32(out), a->data, sizeof(float) * (size_t)a->numel);
    memcpy(lt_f32(out) + a->numel, b->data, sizeof(float) * (size_t)b->numel);
    lt_scheduler_free(sched);
    lt_optimizer_free(opt);
    lt_cfg_free(cfg);
    lt_cfg_free(sched_cfg);
    lt_params_free(p);
    return out;
}

static const fx_op sched_ops[] = {{"scheduler", run_scheduler}, {"groups", run_groups}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("sched", sched_ops, (int)(sizeof sched_ops / sizeof *sched_ops));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- stepping and state errors ---------------- */

typedef struct setup {
    lt_params *p;
    lt_optimizer *opt;
} setup;

static setup make(const char *opt_cfg)
{
    setup s = {lt_params_new(), NULL};
    const int64_t shape[1] = {3};
    lt_params_add(s.p, NULL, "w", LT_F32, 1, shape, true);
    lt_cfg *cfg = parse_cfg(opt_cfg);
    s.opt = lt_optimizer_new("SGD", s.p, cfg);
    ck_assert_ptr_nonnull(s.opt);
    lt_cfg_free(cfg);
    return s;
}

static void unmake(setup *s)
{
    lt_optimizer_free(s->opt);
    lt_params_free(s->p);
}

static lt_scheduler *new_sched(lt_optimizer *o, const char *name, const char *yaml, int64_t epochs)
{
    lt_cfg *cfg = parse_cfg(yaml);
    lt_scheduler *s = lt_scheduler_new(name, o, cfg, epochs);
    lt_cfg_free(cfg);
    return s;
}

START_TEST(test_step_kinds)
{
    setup st = make("{lr: 0.1}");
    lt_scheduler *p = new_sched(st.opt, "ReduceLROnPlateau", "{}", 0);
    ck_assert(lt_scheduler_needs_metric(p));
    ck_assert(!lt_scheduler_per_step(p));
    ck_assert_int_eq(lt_scheduler_step(p), -1);
    ck_assert_msg(strstr(lt_last_error(), "ReduceLROnPlateau: step needs the monitored metric") != NULL, "%s",
                  lt_last_error());
    lt_scheduler *c = new_sched(st.opt, "ExponentialLR", "{gamma: 0.5}", 0);
    ck_assert_int_eq(lt_scheduler_step_metric(c, 1.0), -1);
    ck_assert_msg(strstr(lt_last_error(), "ExponentialLR: step_metric is only for ReduceLROnPlateau") != NULL, "%s",
                  lt_last_error());
    ck_assert_str_eq(lt_scheduler_name(c), "ExponentialLR");
    lt_scheduler_free(c);
    lt_scheduler_free(p);

    lt_scheduler *oc = new_sched(st.opt, "OneCycleLR", "{max_lr: 1.0, total_steps: 3}", 0);
    ck_assert(lt_scheduler_per_step(oc));
    for (int i = 0; i < 3; i++) ck_assert_int_eq(lt_scheduler_step(oc), 0);
    ck_assert_int_eq(lt_scheduler_step(oc), -1);
    ck_assert_msg(strstr(lt_last_error(), "OneCycleLR: tried to step 5 times; the specified number of total steps is 3") !=
                      NULL,
                  "%s", lt_last_error());
    lt_scheduler_free(oc);
    ck_assert_ptr_null(lt_scheduler_new(NULL, st.opt, NULL, 0));
    ck_assert_ptr_null(lt_scheduler_new("StepLR", NULL, NULL, 0));
    ck_assert_int_eq(lt_scheduler_step(NULL), -1);
    lt_scheduler_free(NULL);
    unmake(&st);
}
END_TEST

START_TEST(test_state_errors)
{
    setup st = make("{lr: 0.1, momentum: 0.9}");
    lt_scheduler *a = new_sched(st.opt, "StepLR", "{step_size: 2}", 0);
    ck_assert_int_eq(lt_scheduler_step(a), 0);
    ck_assert_int_eq(lt_scheduler_step(a), 0);
    lt_cfg *state = lt_scheduler_state(a);
    lt_scheduler *b = new_sched(st.opt, "ExponentialLR", "{gamma: 0.5}", 0);
    ck_assert_int_eq(lt_scheduler_load_state(b, state), -1);
    ck_assert_msg(strstr(lt_last_error(), "ExponentialLR: load_state: the state is of a StepLR, not of a ExponentialLR") !=
                      NULL,
                  "%s", lt_last_error());
    const double lr = lt_optimizer_get_lr(st.opt);
    lt_cfg_set(state, "last_epoch", lt_cfg_new_scalar("two", false));
    ck_assert_int_eq(lt_scheduler_load_state(a, state), -1);
    ck_assert_msg(strstr(lt_last_error(), "StepLR: load_state: 'last_epoch' must be an integer, got 'two'") != NULL, "%s",
                  lt_last_error());
    lt_cfg_remove(state, "last_epoch");
    ck_assert_int_eq(lt_scheduler_load_state(a, state), -1);
    ck_assert_msg(strstr(lt_last_error(), "StepLR: load_state: missing key 'last_epoch'") != NULL, "%s",
                  lt_last_error());
    ck_assert(lt_optimizer_get_lr(st.opt) == lr); /* unchanged */
    ck_assert_int_eq(lt_scheduler_load_state(a, NULL), -1);
    lt_cfg_free(state);

    /* SequentialLR: a child's bad state refuses the whole load. */
    lt_scheduler *q = new_sched(st.opt, "SequentialLR",
                                "{schedulers: [{name: ConstantLR}, {name: StepLR, params: {step_size: 3}}], "
                                "milestones: [4]}",
                                0);
    ck_assert_ptr_nonnull(q);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(lt_scheduler_step(q), 0);
    state = lt_scheduler_state(q);
    lt_cfg *kids = lt_cfg_peek(state, "schedulers");
    ck_assert_int_eq(kids->n, 2);
    lt_cfg_set(kids->items[1], "name", lt_cfg_new_scalar("LinearLR", true));
    ck_assert_int_eq(lt_scheduler_load_state(q, state), -1);
    ck_assert_msg(strstr(lt_last_error(), "StepLR: load_state: the state is of a LinearLR") != NULL, "%s",
                  lt_last_error());
    lt_cfg_free(state);

    /* Plateau: best = inf survives the YAML round trip. */
    lt_scheduler *pl = new_sched(st.opt, "ReduceLROnPlateau", "{mode: max}", 0);
    state = lt_scheduler_state(pl);
    char *yaml = lt_cfg_to_yaml(state);
    lt_cfg *back = lt_cfg_parse_yaml(yaml, strlen(yaml), "s");
    ck_assert_msg(lt_scheduler_load_state(pl, back) == 0, "%s", lt_last_error());
    ck_assert_int_eq(lt_scheduler_step_metric(pl, -1e300), 0); /* better than -inf: no bad epoch */
    free(yaml);
    lt_cfg_free(back);
    lt_cfg_free(state);
    lt_scheduler_free(pl);
    lt_scheduler_free(q);
    lt_scheduler_free(a);
    lt_scheduler_free(b);
    unmake(&st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("schedulers");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_fixtures);
    tcase_add_test(tc, test_step_kinds);
    tcase_add_test(tc, test_state_errors);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
