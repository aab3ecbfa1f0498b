/* Parameter store, initialisation and blocks (nn.h).
 *
 * TCase "params": the store (names, order, packing, freezing) and the
 * initialisers; needs no op. TCase "blocks": block forward against
 * torch.nn modules (tests/fixtures/nn.json) and training behaviour. */
#include "fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static bool shape_is(const lt_tensor *t, int ndim, const int64_t *shape)
{
    if (!t || t->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return false;
    return true;
}

/* ================= params ================= */

START_TEST(test_names_and_order)
{
    lt_params *p = lt_params_new();
    const int64_t s2[2] = {2, 3}, s1 = 3;
    lt_tensor *a = lt_params_add(p, "layer1.0.conv1", "weight", LT_F32, 2, s2, true);
    lt_tensor *b = lt_params_add(p, NULL, "scale", LT_F32, 1, &s1, true);
    lt_tensor *c = lt_params_add(p, "", "steps", LT_I64, 0, NULL, false);
    lt_tensor *d = lt_params_add(p, "bn1", "running_mean", LT_F32, 1, &s1, false);
    ck_assert(a && b && c && d);
    ck_assert_str_eq(a->name, "layer1.0.conv1.weight");
    ck_assert_str_eq(b->name, "scale");
    ck_assert_str_eq(c->name, "steps");
    ck_assert_uint_eq(lt_params_count(p), 4);
    ck_assert_ptr_eq(lt_params_at(p, 0), a);
    ck_assert_ptr_eq(lt_params_at(p, 3), d);
    ck_assert_ptr_null(lt_params_at(p, 4));
    ck_assert_ptr_eq(lt_params_find(p, "bn1.running_mean"), d);
    ck_assert_ptr_null(lt_params_find(p, "bn1"));
    /* Parameters require grad and have a zeroed gradient; buffers neither. */
    ck_assert(lt_requires_grad(a) && a->grad && a->grad[5] == 0.0f && (a->flags & LT_PARAMETER));
    ck_assert(!lt_requires_grad(d) && !d->grad && (d->flags & LT_BUFFER));
    ck_assert(c->dtype == LT_I64 && c->ndim == 0 && c->numel == 1 && ((int64_t *)c->data)[0] == 0);
    ck_assert_int_eq(lt_params_numel(p, true), 9);
    /* Errors: duplicate, non-float parameter, bad shape. */
    ck_assert_ptr_null(lt_params_add(p, "layer1.0.conv1", "weight", LT_F32, 1, &s1, true));
    ck_assert_msg(strstr(lt_last_error(), "duplicate name 'layer1.0.conv1.weight'"), "%s", lt_last_error());
    ck_assert_ptr_null(lt_params_add(p, "x", "idx", LT_I32, 1, &s1, true));
    ck_assert_msg(strstr(lt_last_error(), "'x.idx' must be float32"), "%s", lt_last_error());
    const int64_t neg = -1;
    ck_assert_ptr_null(lt_params_add(p, "x", "bad", LT_F32, 1, &neg, true));
    ck_assert_msg(strstr(lt_last_error(), "'x.bad'"), "%s", lt_last_error());
    ck_assert_uint_eq(lt_params_count(p), 4);
    lt_params_free(p);
    lt_params_free(NULL);
}
END_TEST

START_TEST(test_pack)
{
    lt_params *p = lt_params_new();
    const int64_t s_a[2] = {3, 5}, s_b = 7, s_c[4] = {2, 1, 3, 3};
    lt_tensor *a = lt_params_add(p, "a", "weight", LT_F32, 2, s_a, true);
    lt_tensor *buf = lt_params_add(p, "a", "running_var", LT_F32, 1, &s_b, false);
    lt_tensor *b = lt_params_add(p, "b", "bias", LT_F32, 1, &s_b, true);
    for (int64_t i = 0; i < a->numel; i++) lt_f32(a)[i] = (float)i, a->grad[i] = (float)-i;
    for (int64_t i = 0; i < b->numel; i++) lt_f32(b)[i] = 100.0f + (float)i, b->grad[i] = 1.0f;
    lt_f32(buf)[2] = 42.0f;
    void *buf_data = buf->data;
    ck_assert_int_eq(lt_params_pack(p), 0);
    /* Values kept; parameters now adjacent (64-byte aligned) in one block each. */
    ck_assert_float_eq(lt_f32(a)[14], 14.0f);
    ck_assert_float_eq(a->grad[3], -3.0f);
    ck_assert_float_eq(lt_f32(b)[6], 106.0f);
    ck_assert_ptr_eq(lt_f32(b), lt_f32(a) + 16);
    ck_assert_ptr_eq(b->grad, a->grad + 16);
    ck_assert_uint_eq((uintptr_t)a->data % 64, 0);
    ck_assert_ptr_eq(buf->data, buf_data); /* buffers stay where they are */
    ck_assert_float_eq(lt_f32(buf)[2], 42.0f);
    /* Idempotent. */
    float *data = lt_f32(a);
    ck_assert_int_eq(lt_params_pack(p), 0);
    ck_assert_ptr_eq(lt_f32(a), data);
    /* zero_grad clears every gradient. */
    lt_params_zero_grad(p);
    ck_assert_float_eq(a->grad[3], 0.0f);
    ck_assert_float_eq(b->grad[6], 0.0f);
    /* Registering more un-packs; packing again moves everything, values kept. */
    lt_tensor *c = lt_params_add(p, "c", "weight", LT_F32, 4, s_c, true);
    lt_f32(c)[17] = 5.0f;
    c->grad[0] = 2.0f;
    b->grad[1] = 3.0f;
    lt_params_zero_grad(p); /* unpacked path */
    ck_assert_float_eq(c->grad[0], 0.0f);
    ck_assert_float_eq(b->grad[1], 0.0f);
    ck_assert_int_eq(lt_params_pack(p), 0);
    ck_assert_ptr_eq(lt_f32(c), lt_f32(a) + 32);
    ck_assert_float_eq(lt_f32(c)[17], 5.0f);
    ck_assert_float_eq(lt_f32(b)[6], 106.0f);
    ck_assert_int_eq(lt_params_numel(p, false), 15 + 7 + 18);
    lt_params_free(p);
}
END_TEST

START_TEST(test_freeze_by_prefix)
{
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 1);
    lt_conv2d_block conv;
    lt_batch_norm2d_block bn;
    lt_linear_block fc;
    const lt_conv2d_options o = {.kernel = {3, 3}};
    ck_assert_int_eq(lt_conv2d_block_init(&conv, p, "backbone.conv", 3, 4, &o, &rng), 0);
    ck_assert_int_eq(lt_batch_norm2d_block_init(&bn, p, "backbone.bn", 4), 0);
    ck_assert_int_eq(lt_linear_block_init(&fc, p, "head.fc", 4, 2, true, &rng), 0);
    const int64_t all = 4 * 3 * 9 + 4 + 4 + 4 + 8 + 2;
    ck_assert_int_eq(lt_params_numel(p, true), all);
    lt_params_set_trainable(p, "backbone", false);
    ck_assert(!lt_requires_grad(conv.weight) && !lt_requires_grad(conv.bias) && !lt_requires_grad(bn.weight));
    ck_assert(lt_requires_grad(fc.weight) && lt_requires_grad(fc.bias));
    ck_assert(!lt_requires_grad(bn.running_mean)); /* buffers are never trainable */
    ck_assert_int_eq(lt_params_numel(p, true), 10);
    ck_assert_int_eq(lt_params_numel(p, false), all);
    lt_params_set_trainable(p, "backbone.bn", true);
    ck_assert(lt_requires_grad(bn.weight) && !lt_requires_grad(conv.weight));
    ck_assert(!lt_requires_grad(bn.running_var));
    lt_params_set_trainable(p, NULL, true);
    ck_assert_int_eq(lt_params_numel(p, true), all);
    lt_params_free(p);
}
END_TEST

/* state_dict names, shapes and order of an equivalent torch module (printed
 * from PyTorch 1.13: Conv2d(3,8,3,2,1,bias=False), BatchNorm2d(8),
 * ConvTranspose2d(8,4,2,2,groups=2), LayerNorm([4,6]), Linear(6,5)). */
START_TEST(test_state_dict_names)
{
    static const struct {
        const char *name;
        int ndim;
        int64_t shape[4];
        lt_dtype dtype;
    } want[] = {
        {"stem.conv.weight", 4, {8, 3, 3, 3}, LT_F32},  {"stem.bn.weight", 1, {8}, LT_F32},
        {"stem.bn.bias", 1, {8}, LT_F32},               {"stem.bn.running_mean", 1, {8}, LT_F32},
        {"stem.bn.running_var", 1, {8}, LT_F32},        {"stem.bn.num_batches_tracked", 0, {0}, LT_I64},
        {"up.weight", 4, {8, 2, 2, 2}, LT_F32},         {"up.bias", 1, {4}, LT_F32},
        {"norm.weight", 2, {4, 6}, LT_F32},             {"norm.bias", 2, {4, 6}, LT_F32},
        {"fc.weight", 2, {5, 6}, LT_F32},               {"fc.bias", 1, {5}, LT_F32},
    };
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 2);
    lt_conv2d_block conv;
    lt_batch_norm2d_block bn;
    lt_conv_transpose2d_block up;
    lt_layer_norm_block norm;
    lt_linear_block fc;
    const lt_conv2d_options co = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .no_bias = true};
    const lt_conv_transpose2d_options uo = {.kernel = {2, 2}, .stride = {2, 2}, .groups = 2};
    const int64_t ln_shape[2] = {4, 6};
    ck_assert_int_eq(lt_conv2d_block_init(&conv, p, "stem.conv", 3, 8, &co, &rng), 0);
    ck_assert_int_eq(lt_batch_norm2d_block_init(&bn, p, "stem.bn", 8), 0);
    ck_assert_int_eq(lt_conv_transpose2d_block_init(&up, p, "up", 8, 4, &uo, &rng), 0);
    ck_assert_int_eq(lt_layer_norm_block_init(&norm, p, "norm", 2, ln_shape), 0);
    ck_assert_int_eq(lt_linear_block_init(&fc, p, "fc", 6, 5, true, &rng), 0);
    ck_assert_uint_eq(lt_params_count(p), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        lt_tensor *t = lt_params_at(p, i);
        ck_assert_str_eq(t->name, want[i].name);
        ck_assert_msg(shape_is(t, want[i].ndim, want[i].shape), "%s has the wrong shape", t->name);
        ck_assert_int_eq(t->dtype, want[i].dtype);
    }
    ck_assert_ptr_null(conv.bias);
    ck_assert_int_eq(conv.params.stride[1], 2);
    ck_assert_int_eq(conv.params.padding[0], 1);
    ck_assert_int_eq(up.params.groups, 2);
    lt_params_free(p);
}
END_TEST

/* |values| <= bound, and mean / variance of U(-bound, bound) within 5 sigma. */
static void check_uniform(const lt_tensor *t, double bound)
{
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        const double v = lt_f32(t)[i];
        ck_assert_msg(fabs(v) <= bound * (1 + 1e-6), "%s[%lld] = %g outside +-%g", t->name, (long long)i, v, bound);
        sum += v, sq += v * v;
    }
    const double n = (double)t->numel, var = bound * bound / 3;
    ck_assert_msg(fabs(sum / n) < 5 * sqrt(var / n), "%s: mean %g", t->name, sum / n);
    /* Var(v^2) for U(-b, b) is 4 b^4 / 45. */
    ck_assert_msg(fabs(sq / n - var) < 5 * sqrt(4 * pow(bound, 4) / 45 / n), "%s: variance %g, expected %g", t->name,
                  sq / n, var);
}

START_TEST(test_default_init)
{
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 3);
    lt_conv2d_block conv;
    lt_conv_transpose2d_block up;
    lt_linear_block fc;
    lt_batch_norm2d_block bn;
    lt_layer_norm_block ln;
    const lt_conv2d_options co = {.kernel = {3, 5}, .groups = 2};
    const lt_conv_transpose2d_options uo = {.kernel = {4, 4}, .groups = 3};
    ck_assert_int_eq(lt_conv2d_block_init(&conv, p, "conv", 64, 128, &co, &rng), 0);
    ck_assert_int_eq(lt_conv_transpose2d_block_init(&up, p, "up", 96, 48, &uo, &rng), 0);
    ck_assert_int_eq(lt_linear_block_init(&fc, p, "fc", 300, 200, true, &rng), 0);
    /* fan_in: conv (in/groups)*kh*kw; conv-transpose weight.size(1)*kh*kw = (out/groups)*k*k; linear in. */
    ck_assert_int_eq(lt_fan_in(conv.weight), 32 * 15);
    ck_assert_int_eq(lt_fan_in(up.weight), 16 * 16);
    ck_assert_int_eq(lt_fan_in(fc.weight), 300);
    check_uniform(conv.weight, 1 / sqrt(480.0));
    check_uniform(conv.bias, 1 / sqrt(480.0));
    check_uniform(up.weight, 1 / sqrt(256.0));
    check_uniform(up.bias, 1 / sqrt(256.0));
    check_uniform(fc.weight, 1 / sqrt(300.0));
    check_uniform(fc.bias, 1 / sqrt(300.0));

    ck_assert_int_eq(lt_batch_norm2d_block_init(&bn, p, "bn", 6), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_float_eq(lt_f32(bn.weight)[i], 1.0f);
        ck_assert_float_eq(lt_f32(bn.bias)[i], 0.0f);
        ck_assert_float_eq(lt_f32(bn.running_mean)[i], 0.0f);
        ck_assert_float_eq(lt_f32(bn.running_var)[i], 1.0f);
    }
    ck_assert_float_eq(bn.eps, 1e-5f);
    ck_assert_float_eq(bn.momentum, 0.1f);
    const int64_t ln_shape[2] = {3, 4};
    ck_assert_int_eq(lt_layer_norm_block_init(&ln, p, "ln", 2, ln_shape), 0);
    ck_assert_float_eq(lt_f32(ln.weight)[11], 1.0f);
    ck_assert_float_eq(lt_f32(ln.bias)[11], 0.0f);
    ck_assert_float_eq(ln.eps, 1e-5f);

    /* Same seed, same values. */
    lt_params *q = lt_params_new();
    lt_rng_seed(&rng, 3);
    lt_conv2d_block conv2;
    ck_assert_int_eq(lt_conv2d_block_init(&conv2, q, "conv", 64, 128, &co, &rng), 0);
    ck_assert(memcmp(conv.weight->data, conv2.weight->data, sizeof(float) * (size_t)conv.weight->numel) == 0);
    lt_params_free(q);
    lt_params_free(p);
}
END_TEST

START_TEST(test_init_functions)
{
    const int64_t shape[4] = {64, 32, 3, 3};
    lt_tensor *t = lt_tensor_new(LT_F32, 4, shape);
    lt_rng rng;
    lt_rng_seed(&rng, 4);
    /* kaiming_normal(relu): std = sqrt(2 / fan). */
    for (int fan_out = 0; fan_out < 2; fan_out++) {
        lt_init_kaiming_normal_relu(t, &rng, fan_out);
        const double fan = fan_out ? 64 * 9 : 32 * 9, want = 2.0 / fan;
        double sq = 0;
        for (int64_t i = 0; i < t->numel; i++) sq += (double)lt_f32(t)[i] * lt_f32(t)[i];
        ck_assert_msg(fabs(sq / (double)t->numel / want - 1) < 0.03, "fan_out %d: variance %g, expected %g", fan_out,
                      sq / (double)t->numel, want);
    }
    /* kaiming_uniform(a=0): bound sqrt(6 / fan_in). */
    lt_init_kaiming_uniform(t, &rng, 0.0f);
    t->name = "t";
    check_uniform(t, sqrt(6.0 / 288.0));
    lt_init_normal(t, &rng, 3.0f, 0.5f);
    double sum = 0;
    for (int64_t i = 0; i < t->numel; i++) sum += lt_f32(t)[i];
    ck_assert(fabs(sum / (double)t->numel - 3.0) < 0.01);
    lt_init_uniform(t, &rng, 2.0f, 2.5f);
    for (int64_t i = 0; i < t->numel; i++) ck_assert(lt_f32(t)[i] >= 2.0f && lt_f32(t)[i] < 2.5f);
    lt_init_constant(t, -1.5f);
    ck_assert_float_eq(lt_f32(t)[100], -1.5f);
    lt_tensor_free(t);

    /* Fewer than 2 dimensions: no fan, a clear error, the tensor untouched. */
    const int64_t n = 5;
    lt_tensor *v = lt_tensor_new(LT_F32, 1, &n);
    ck_assert_int_eq(lt_fan_in(v), 0);
    ck_assert_msg(strstr(lt_last_error(), "fewer than 2 dimensions"), "%s", lt_last_error());
    lt_init_kaiming_uniform(v, &rng, sqrtf(5.0f));
    ck_assert_float_eq(lt_f32(v)[0], 0.0f);
    lt_tensor *iv = lt_tensor_new(LT_I32, 1, &n);
    lt_init_uniform(iv, &rng, 0, 1);
    ck_assert_msg(strstr(lt_last_error(), "must be float32"), "%s", lt_last_error());
    lt_init_constant(iv, 7.0f);
    ck_assert_int_eq(lt_i32(iv)[4], 7);
    lt_tensor_free(v);
    lt_tensor_free(iv);
}
END_TEST

START_TEST(test_block_init_errors)
{
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 5);
    lt_conv2d_block conv;
    lt_conv_transpose2d_block up;
    lt_batch_norm2d_block bn;
    lt_layer_norm_block ln;
    const lt_conv2d_options bad_groups = {.kernel = {3, 3}, .groups = 3};
    const lt_conv2d_options no_kernel = {.kernel = {0, 3}};
    ck_assert_int_eq(lt_conv2d_block_init(&conv, p, "c", 4, 6, &bad_groups, &rng), -1);
    ck_assert_msg(strstr(lt_last_error(), "'c': in_channels 4 and out_channels 6 must be divisible by groups 3"), "%s",
                  lt_last_error());
    ck_assert_int_eq(lt_conv2d_block_init(&conv, p, "c", 4, 6, &no_kernel, &rng), -1);
    ck_assert_msg(strstr(lt_last_error(), "kernel must be positive, got (0, 3)"), "%s", lt_last_error());
    const lt_conv_transpose2d_options uo = {.kernel = {2, 2}, .groups = 4};
    ck_assert_int_eq(lt_conv_transpose2d_block_init(&up, p, "u", 8, 6, &uo, &rng), -1);
    ck_assert_int_eq(lt_batch_norm2d_block_init(&bn, p, "bn", 0), -1);
    ck_assert_int_eq(lt_layer_norm_block_init(&ln, p, "ln", 0, NULL), -1);
    ck_assert_uint_eq(lt_params_count(p), 0);
    /* A duplicate prefix fails at registration. */
    ck_assert_int_eq(lt_batch_norm2d_block_init(&bn, p, "bn", 3), 0);
    ck_assert_int_eq(lt_batch_norm2d_block_init(&bn, p, "bn", 3), -1);
    ck_assert_msg(strstr(lt_last_error(), "duplicate name 'bn.weight'"), "%s", lt_last_error());
    lt_params_free(p);
}
END_TEST

/* ================= blocks ================= */

static lt_tensor *opt_in(fx_case *c, const char *name) { return fx_has(c, name) ? fx_in(c, name) : NULL; }

/* Checks the block registered the module's weight shape, then points the block
 * at the fixture's leaves so that gradients reach them. */
static void adopt(fx_case *c, lt_tensor **weight, lt_tensor **bias)
{
    lt_tensor *w = fx_in(c, "weight"), *b = opt_in(c, "bias");
    ck_assert_msg(shape_is(*weight, w->ndim, w->shape), "case: block weight has the wrong shape");
    ck_assert_msg((*bias != NULL) == (b != NULL), "case: block bias presence differs from the module's");
    if (b) ck_assert(shape_is(*bias, b->ndim, b->shape));
    *weight = w;
    *bias = b;
}

static void get_pair(fx_case *c, const char *key, int dst[2])
{
    int64_t v[2] = {0, 0};
    fx_param_ints(c, key, v, 2);
    dst[0] = (int)v[0];
    dst[1] = (int)v[1];
}

static lt_tensor *run_bn_block(fx_case *c)
{
    static const char *const xs[] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"};
    const char *modes = fx_param_s(c, "modes", "t");
    lt_params *p = lt_params_new();
    lt_batch_norm2d_block m;
    ck_assert_int_eq(lt_batch_norm2d_block_init(&m, p, "bn", fx_in(c, "weight")->numel), 0);
    m.momentum = (float)fx_param_f(c, "momentum", m.momentum);
    m.eps = (float)fx_param_f(c, "eps", m.eps);
    adopt(c, &m.weight, &m.bias);
    lt_tensor *out = NULL;
    for (size_t i = 0; modes[i] && i < 8; i++) {
        lt_set_training(modes[i] == 't');
        out = lt_batch_norm2d_block_forward(&m, fx_in(c, xs[i]));
        if (!out) break;
    }
    if (out) {
        fx_out(c, "running_mean", lt_copy(m.running_mean));
        fx_out(c, "running_var", lt_copy(m.running_var));
        lt_tensor *count = lt_empty(LT_I32, 0, NULL);
        lt_i32(count)[0] = (int32_t)((int64_t *)m.num_batches_tracked->data)[0];
        fx_out(c, "num_batches_tracked", count);
    }
    lt_params_free(p); /* the graph holds only the fixture's tensors */
    return out;
}

static lt_tensor *run_conv_block(fx_case *c)
{
    lt_tensor *x = fx_in(c, "x");
    lt_conv2d_options o = {.groups = (int)fx_param_i(c, "groups", 1), .no_bias = !fx_param_b(c, "bias", true)};
    get_pair(c, "kernel", o.kernel);
    get_pair(c, "stride", o.stride);
    get_pair(c, "padding", o.padding);
    get_pair(c, "dilation", o.dilation);
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 6);
    lt_conv2d_block m;
    lt_tensor *out = NULL;
    if (lt_conv2d_block_init(&m, p, "conv", fx_param_i(c, "in_channels", x->shape[1]),
                             fx_param_i(c, "out_channels", 1), &o, &rng) == 0) {
        adopt(c, &m.weight, &m.bias);
        out = lt_conv2d_block_forward(&m, x);
    }
    lt_params_free(p);
    return out;
}

static lt_tensor *run_conv_t_block(fx_case *c)
{
    lt_tensor *x = fx_in(c, "x");
    lt_conv_transpose2d_options o = {.groups = (int)fx_param_i(c, "groups", 1),
                                     .no_bias = !fx_param_b(c, "bias", true)};
    get_pair(c, "kernel", o.kernel);
    get_pair(c, "stride", o.stride);
    get_pair(c, "padding", o.padding);
    get_pair(c, "output_padding", o.output_padding);
    get_pair(c, "dilation", o.dilation);
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 7);
    lt_conv_transpose2d_block m;
    lt_tensor *out = NULL;
    if (lt_conv_transpose2d_block_init(&m, p, "up", x->shape[1], fx_param_i(c, "out_channels", 1), &o, &rng) == 0) {
        adopt(c, &m.weight, &m.bias);
        out = lt_conv_transpose2d_block_forward(&m, x);
    }
    lt_params_free(p);
    return out;
}

static lt_tensor *run_linear_block(fx_case *c)
{
    lt_tensor *x = fx_in(c, "x");
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 8);
    lt_linear_block m;
    ck_assert_int_eq(lt_linear_block_init(&m, p, "fc", x->shape[x->ndim - 1], fx_param_i(c, "out_features", 1),
                                          fx_param_b(c, "bias", true), &rng),
                     0);
    adopt(c, &m.weight, &m.bias);
    lt_tensor *out = lt_linear_block_forward(&m, x);
    lt_params_free(p);
    return out;
}

static lt_tensor *run_ln_block(fx_case *c)
{
    int64_t shape[LT_MAX_DIMS];
    const int k = fx_param_ints(c, "normalized_shape", shape, LT_MAX_DIMS);
    lt_params *p = lt_params_new();
    lt_layer_norm_block m;
    ck_assert_int_eq(lt_layer_norm_block_init(&m, p, "norm", k, shape), 0);
    adopt(c, &m.weight, &m.bias);
    lt_tensor *out = lt_layer_norm_block_forward(&m, fx_in(c, "x"));
    lt_params_free(p);
    return out;
}

static const fx_op nn_ops[] = {
    {"batch_norm2d_block", run_bn_block}, {"conv2d_block", run_conv_block},
    {"conv_transpose2d_block", run_conv_t_block}, {"linear_block", run_linear_block},
    {"layer_norm_block", run_ln_block},
};

START_TEST(test_block_fixtures)
{
    int n = fx_run_group("nn", nn_ops, (int)(sizeof nn_ops / sizeof nn_ops[0]));
    ck_assert_int_gt(n, 0);
}
END_TEST

/* A small training step through packed parameters: gradients land in the
 * packed block, frozen parameters get none, zero_grad clears them, and
 * num_batches_tracked counts training forwards only (also under no-grad). */
START_TEST(test_training_through_blocks)
{
    lt_params *p = lt_params_new();
    lt_rng rng;
    lt_rng_seed(&rng, 9);
    lt_conv2d_block conv;
    lt_batch_norm2d_block bn;
    lt_linear_block fc;
    const lt_conv2d_options co = {.kernel = {3, 3}, .padding = {1, 1}};
    ck_assert_int_eq(lt_conv2d_block_init(&conv, p, "conv", 2, 4, &co, &rng), 0);
    ck_assert_int_eq(lt_batch_norm2d_block_init(&bn, p, "bn", 4), 0);
    ck_assert_int_eq(lt_linear_block_init(&fc, p, "fc", 5, 3, true, &rng), 0);
    ck_assert_int_eq(lt_params_pack(p), 0);
    lt_params_set_trainable(p, "conv", false);
    int64_t *tracked = bn.num_batches_tracked->data;

    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    const int64_t xs[4] = {2, 2, 3, 5};
    lt_tensor *x = lt_empty(LT_F32, 4, xs);
    for (int64_t i = 0; i < x->numel; i++) lt_f32(x)[i] = (float)((i * 37) % 11) - 5.0f;
    lt_tensor *h = lt_linear_block_forward(&fc, lt_batch_norm2d_block_forward(&bn, lt_conv2d_block_forward(&conv, x)));
    ck_assert_msg(h != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_backward_with_grad(h, lt_full(h->ndim, h->shape, 1.0f)), 0);
    ck_assert_int_eq(*tracked, 1);
    double gsum = 0;
    for (int64_t i = 0; i < fc.weight->numel; i++) gsum += fabs(fc.weight->grad[i]);
    ck_assert(gsum > 0);
    for (int64_t i = 0; i < bn.weight->numel; i++) gsum += fabs(bn.weight->grad[i]);
    for (int64_t i = 0; i < conv.weight->numel; i++) ck_assert_float_eq(conv.weight->grad[i], 0.0f);
    lt_params_zero_grad(p);
    for (int64_t i = 0; i < fc.weight->numel; i++) ck_assert_float_eq(fc.weight->grad[i], 0.0f);
    lt_ctx_reset(ctx);
    x = lt_empty(LT_F32, 4, xs);
    for (int64_t i = 0; i < x->numel; i++) lt_f32(x)[i] = (float)((i * 37) % 11) - 5.0f;

    /* Training under no-grad still counts and updates; eval does neither. */
    lt_set_grad_enabled(false);
    const float rm = lt_f32(bn.running_mean)[1];
    ck_assert_ptr_nonnull(lt_batch_norm2d_block_forward(&bn, lt_conv2d_block_forward(&conv, x)));
    ck_assert_int_eq(*tracked, 2);
    ck_assert(lt_f32(bn.running_mean)[1] != rm);
    lt_set_training(false);
    const float rm2 = lt_f32(bn.running_mean)[1];
    ck_assert_ptr_nonnull(lt_batch_norm2d_block_forward(&bn, lt_conv2d_block_forward(&conv, x)));
    ck_assert_int_eq(*tracked, 2);
    ck_assert_float_eq(lt_f32(bn.running_mean)[1], rm2);
    /* A failed forward does not count. */
    lt_set_training(true);
    ck_assert_ptr_null(lt_batch_norm2d_block_forward(&bn, x));
    ck_assert_int_eq(*tracked, 2);

    lt_ctx_free(ctx);
    lt_params_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *params = tcase_create("params");
    tcase_set_timeout(params, 600);
    tcase_add_test(params, test_names_and_order);
    tcase_add_test(params, test_pack);
    tcase_add_test(params, test_freeze_by_prefix);
    tcase_add_test(params, test_state_dict_names);
    tcase_add_test(params, test_default_init);
    tcase_add_test(params, test_init_functions);
    tcase_add_test(params, test_block_init_errors);
    suite_add_tcase(s, params);
    TCase *blocks = tcase_create("blocks");
    tcase_set_timeout(blocks, 600);
    tcase_add_test(blocks, test_block_fixtures);
    tcase_add_test(blocks, test_training_through_blocks);
    suite_add_tcase(s, blocks);
    return fx_run_suite(s);
}
