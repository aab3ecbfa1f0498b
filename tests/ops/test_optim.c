/* SGD: trajectories against torch.optim.SGD fed the same per-step gradients,
 * and the store/optimizer interplay (packing, freezing, state, errors). */
#include "fixture.h"
#include "trajectory.h"

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

/* The lt_sgd of a case, for fx_run_trajectory. */
static bool sgd_open(fx_case *c, lt_params *p, void *user)
{
    const lt_sgd_options o = options_of(c);
    return (*(lt_sgd **)user = lt_sgd_new(p, &o)) != NULL;
}

static void sgd_before_step(fx_case *c, lt_params *p, int64_t s, void *user)
{
    (void)p;
    apply_lr_schedule(c, *(lt_sgd **)user, s);
}

static void sgd_step(void *user) { ck_assert_int_eq(lt_sgd_step(*(lt_sgd **)user), 0); }

static void sgd_close(void *user) { lt_sgd_free(*(lt_sgd **)user); }

/* Runs the case's steps; the parameters after every step are the outputs. */
static lt_tensor *run_sgd(fx_case *c)
{
    lt_sgd *opt = NULL;
    const fx_trajectory t = {.open = sgd_open, .before_step = sgd_before_step, .step = sgd_step,
                             .close = sgd_close, .user = &opt};
    return fx_run_trajectory(c, &t);
}

static const fx_op optim_ops[] = {{"sgd", run_sgd}};

START_TEST(test_fixtures)
{
    int n = fx_run_group("optim", optim_ops, 1);
    ck_assert_int_gt(n, 0);
}
END_TEST

/* ---------------- store / optimizer interplay ---------------- */

/* The flat update over a packed store gives the bits of the per-tensor one. */
START_TEST(test_packed_matches_unpacked)
{
    const lt_sgd_options o = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 1e-3f, .nesterov = true};
    lt_params *p1 = fx_awkward_store(), *p2 = fx_awkward_store();
    ck_assert_int_eq(lt_params_pack(p2), 0);
    lt_sgd *s1 = lt_sgd_new(p1, &o), *s2 = lt_sgd_new(p2, &o);
    for (int step = 0; step < 5; step++) {
        fx_set_step_grads(p1, step);
        fx_set_step_grads(p2, step);
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
    lt_params *p = fx_awkward_store();
    lt_sgd *s = lt_sgd_new(p, &o);
    fx_set_step_grads(p, 1);
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
    lt_params *p = fx_awkward_store();
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
