/* The op-kind profiler (profile.h): FLOPs of conv/linear layers of known
 * shape, a kind recorded for every op run (forward and backward), nested
 * scopes charged once, the optimizer's kind, and nothing while disabled. */
#include "fixture.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static lt_ctx *ctx;

static void setup(void)
{
    ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_profile_enable(false);
    lt_profile_reset();
}

static void teardown(void)
{
    lt_profile_enable(false);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

static lt_tensor *param(lt_params *p, const char *name, int ndim, const int64_t *shape)
{
    lt_tensor *t = lt_params_add(p, NULL, name, LT_F32, ndim, shape, true);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < t->numel; i++) lt_f32(t)[i] = 0.01f * (float)(i % 7) - 0.02f;
    return t;
}

static lt_tensor *input(int ndim, const int64_t *shape)
{
    lt_tensor *t = lt_empty(LT_F32, ndim, shape);
    ck_assert_ptr_nonnull(t);
    for (int64_t i = 0; i < t->numel; i++) lt_f32(t)[i] = 0.1f * (float)(i % 11) - 0.5f;
    return t;
}

/* A small net touching every op kind: conv (+ transpose), batch norm, relu,
 * max pool, linear, cross entropy; returns the loss. */
static lt_tensor *small_net(lt_params *p)
{
    lt_tensor *x = input(4, (const int64_t[]){2, 3, 8, 8});
    lt_tensor *w = param(p, "conv.weight", 4, (const int64_t[]){4, 3, 3, 3});
    lt_tensor *wt = param(p, "up.weight", 4, (const int64_t[]){4, 2, 2, 2});   /* [C_in, C_out/groups, kh, kw] */
    lt_tensor *gamma = param(p, "bn.weight", 1, (const int64_t[]){2});
    lt_tensor *fc = param(p, "fc.weight", 2, (const int64_t[]){5, 2 * 8 * 8});
    lt_tensor *y = lt_conv2d(x, w, NULL, &(lt_conv2d_params){.stride = {2, 2}, .padding = {1, 1}}); /* [2,4,4,4] */
    y = lt_conv_transpose2d(y, wt, NULL, &(lt_conv_transpose2d_params){.stride = {2, 2}});      /* [2,2,8,8] */
    y = lt_relu(lt_batch_norm(y, NULL, NULL, gamma, NULL, true, 0.1f, 1e-5f));
    y = lt_max_pool2d(y, &(lt_pool2d_params){.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}});
    y = lt_linear(lt_flatten(y, 1, -1), fc, NULL); /* [2,5] */
    lt_tensor *target = lt_zeros(LT_I32, 1, (const int64_t[]){2});
    ck_assert_ptr_nonnull(target);
    lt_tensor *loss = lt_cross_entropy(y, target, &LT_CROSS_ENTROPY_DEFAULTS);
    ck_assert_msg(loss, "%s", lt_last_error());
    return loss;
}

START_TEST(test_flops_of_known_shapes)
{
    lt_params *p = lt_params_new();
    lt_profile_enable(true);
    small_net(p);
    lt_profile_stats s;
    lt_profile_read(&s);
    /* conv: 2 * numel(out) * C_in/groups * kh * kw; transpose: 2 * numel(in) *
     * C_out/groups * kh * kw; linear: 2 * numel(out) * in_features. */
    const double conv = 2.0 * (2 * 4 * 4 * 4) * 3 * 3 * 3;
    const double convt = 2.0 * (2 * 4 * 4 * 4) * 2 * 2 * 2;
    const double linear = 2.0 * (2 * 5) * (2 * 8 * 8);
    ck_assert_double_eq(s.fwd_flops, conv + convt + linear);
    lt_params_free(p);
}
END_TEST

START_TEST(test_kinds_forward_backward_optimizer)
{
    lt_params *p = lt_params_new();
    lt_profile_enable(true);
    lt_tensor *loss = small_net(p);
    lt_profile_stats fwd;
    lt_profile_read(&fwd);
    const lt_profile_kind ran[] = {LT_PROFILE_CONV, LT_PROFILE_GEMM, LT_PROFILE_BATCH_NORM, LT_PROFILE_ELEMENTWISE,
                                   LT_PROFILE_POOLING, LT_PROFILE_LOSS};
    ck_assert_int_eq(fwd.calls[LT_PROFILE_CONV], 2);
    ck_assert_int_eq(fwd.calls[LT_PROFILE_GEMM], 1);
    ck_assert_int_eq(fwd.calls[LT_PROFILE_BATCH_NORM], 1);
    ck_assert_int_eq(fwd.calls[LT_PROFILE_ELEMENTWISE], 1);
    ck_assert_int_eq(fwd.calls[LT_PROFILE_POOLING], 1);
    ck_assert_int_eq(fwd.calls[LT_PROFILE_LOSS], 1); /* its inner log_softmax is not counted again */
    for (size_t i = 0; i < sizeof ran / sizeof ran[0]; i++) ck_assert(fwd.seconds[ran[i]] > 0.0);
    ck_assert_int_eq(fwd.calls[LT_PROFILE_OPTIMIZER], 0);

    ck_assert_int_eq(lt_backward(loss), 0);
    lt_profile_stats bwd;
    lt_profile_read(&bwd);
    for (size_t i = 0; i < sizeof ran / sizeof ran[0]; i++)
        ck_assert_msg(bwd.calls[ran[i]] > fwd.calls[ran[i]] && bwd.seconds[ran[i]] > fwd.seconds[ran[i]],
                      "backward of %s not recorded", lt_profile_kind_name(ran[i]));
    ck_assert_double_eq(bwd.fwd_flops, fwd.fwd_flops); /* backward adds no forward FLOPs */

    lt_cfg *sgd = lt_cfg_parse_yaml("lr: 0.1", 7, "test");
    lt_optimizer *opt = lt_optimizer_new("SGD", p, sgd);
    ck_assert_msg(opt, "%s", lt_last_error());
    ck_assert_int_eq(lt_optimizer_step(opt), 0);
    lt_optimizer_zero_grad(opt);
    lt_profile_stats all;
    lt_profile_read(&all);
    ck_assert_int_eq(all.calls[LT_PROFILE_OPTIMIZER], 2);
    ck_assert(all.seconds[LT_PROFILE_OPTIMIZER] > 0.0);

    lt_profile_reset();
    lt_profile_read(&all);
    for (int k = 0; k < LT_PROFILE_KIND_COUNT; k++) ck_assert(all.calls[k] == 0 && all.seconds[k] == 0.0);
    ck_assert_double_eq(all.fwd_flops, 0.0);
    lt_optimizer_free(opt);
    lt_cfg_free(sgd);
    lt_params_free(p);
}
END_TEST

/* A caller's scope claims the ops inside it; FLOPs still count. */
START_TEST(test_nested_scopes_count_once)
{
    lt_profile_enable(true);
    lt_params *p = lt_params_new();
    lt_tensor *w = param(p, "w", 2, (const int64_t[]){3, 4});
    lt_profile_scope outer = lt_profile_begin(LT_PROFILE_DATA);
    lt_tensor *y = lt_relu(lt_linear(input(2, (const int64_t[]){2, 4}), w, NULL));
    lt_profile_end(outer);
    ck_assert_ptr_nonnull(y);
    lt_profile_stats s;
    lt_profile_read(&s);
    ck_assert_int_eq(s.calls[LT_PROFILE_DATA], 1);
    ck_assert(s.seconds[LT_PROFILE_DATA] > 0.0);
    ck_assert_int_eq(s.calls[LT_PROFILE_GEMM] + s.calls[LT_PROFILE_ELEMENTWISE], 0);
    ck_assert_double_eq(s.fwd_flops, 2.0 * 2 * 3 * 4);
    /* Unpaired ends of scopes begun while disabled change nothing. */
    lt_profile_enable(false);
    lt_profile_scope off = lt_profile_begin(LT_PROFILE_CONV);
    lt_profile_enable(true);
    lt_profile_end(off);
    lt_relu(y);
    lt_profile_read(&s);
    ck_assert_int_eq(s.calls[LT_PROFILE_CONV], 0);
    ck_assert_int_eq(s.calls[LT_PROFILE_ELEMENTWISE], 1);
    lt_params_free(p);
}
END_TEST

START_TEST(test_disabled_records_nothing)
{
    lt_params *p = lt_params_new();
    ck_assert(!lt_profile_enabled());
    ck_assert_int_eq(lt_backward(small_net(p)), 0);
    lt_profile_scope s = lt_profile_begin(LT_PROFILE_DATA);
    lt_profile_end(s);
    lt_profile_stats st;
    lt_profile_read(&st);
    for (int k = 0; k < LT_PROFILE_KIND_COUNT; k++) ck_assert(st.calls[k] == 0 && st.seconds[k] == 0.0);
    ck_assert_double_eq(st.fwd_flops, 0.0);
    ck_assert(!lt_profile_enable(true));
    ck_assert(lt_profile_enable(false));
    lt_params_free(p);
}
END_TEST

START_TEST(test_kind_names)
{
    ck_assert_str_eq(lt_profile_kind_name(LT_PROFILE_BATCH_NORM), "batch_norm");
    ck_assert_str_eq(lt_profile_kind_name(LT_PROFILE_OTHER), "other");
    ck_assert_str_eq(lt_profile_kind_name(LT_PROFILE_KIND_COUNT), "?");
    ck_assert_int_eq(lt_profile_kind_of(LT_OP_CONV_TRANSPOSE2D), LT_PROFILE_CONV);
    ck_assert_int_eq(lt_profile_kind_of(LT_OP_MATMUL), LT_PROFILE_GEMM);
    ck_assert_int_eq(lt_profile_kind_of(LT_OP_LAYER_NORM), LT_PROFILE_BATCH_NORM);
    ck_assert_int_eq(lt_profile_kind_of(LT_OP_ADAPTIVE_AVG_POOL2D), LT_PROFILE_POOLING);
    ck_assert_int_eq(lt_profile_kind_of(LT_OP_SMOOTH_L1_LOSS), LT_PROFILE_LOSS);
    ck_assert_int_eq(lt_profile_kind_of(LT_OP_SIGMOID), LT_PROFILE_ELEMENTWISE);
    ck_assert_int_eq(lt_profile_kind_of(LT_OP_CONCAT), LT_PROFILE_OTHER);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("profile");
    TCase *tc = tcase_create("profile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_flops_of_known_shapes);
    tcase_add_test(tc, test_kinds_forward_backward_optimizer);
    tcase_add_test(tc, test_nested_scopes_count_once);
    tcase_add_test(tc, test_disabled_records_nothing);
    tcase_add_test(tc, test_kind_names);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
