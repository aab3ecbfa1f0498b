/* The benchmark model plugins (plugins/examples/small_cnn.c, mlp.c, unet.c)
 * against PyTorch 1.13 modules written as shared/bench/torch_train_bench.py
 * builds them (tests/fixtures/bench_models.json, from
 * tests/reference/bench_models_reference.py):
 *
 *  - state_dict names and shapes, in order, at the benchmark's sizes, and
 *    PyTorch's default initialisation (conv / linear weights and biases
 *    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), batch norm weight 1, bias 0);
 *  - one training step of a small model with formula weights and input:
 *    logits, CrossEntropyLoss, every parameter's gradient (sum, absolute
 *    sum, sampled elements) and the batch norms' running statistics;
 *  - bad input (an odd UNet size, a zero MLP width) fails the build naming
 *    the node. */
#include "fixture.h"

#include <ltrain/cfg.h>
#include <ltrain/plugin.h>

#include "loader.h"
#include "model.h"
#include "registry.h"
#include "tasks.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef LT_BUILD_PLUGINS_DIR
#error "LT_BUILD_PLUGINS_DIR must be defined by the build"
#endif

static lt_registry *reg;
static lt_loader *loader;
static json_t *fixture;

static void setup(void)
{
    reg = lt_registry_new();
    ck_assert_ptr_nonnull(reg);
    ck_assert_int_eq(lt_register_builtin_tasks(reg), 0);
    loader = lt_loader_new();
    ck_assert_ptr_nonnull(loader);
    static const char *const plugins[] = {"example_small_cnn", "example_mlp", "example_unet",
                                          "ltrain_cross_entropy_loss"};
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.so", LT_BUILD_PLUGINS_DIR, plugins[i]);
        lt_load_report rep = {0};
        ck_assert_msg(lt_loader_load_file(loader, reg, path, &rep) == 0, "loading %s: %s", path, lt_last_error());
        lt_load_report_free(&rep);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/bench_models.json", LT_SOURCE_ROOT);
    json_error_t err;
    fixture = json_load_file(path, 0, &err);
    ck_assert_msg(fixture != NULL, "%s: %s", path, err.text);
}

static void teardown(void)
{
    json_decref(fixture);
    lt_registry_free(reg);
    lt_loader_free(loader);
}

static json_t *model_fixture(const char *name)
{
    json_t *m = json_object_get(json_object_get(fixture, "models"), name);
    ck_assert_msg(m != NULL, "bench_models.json has no model %s", name);
    return m;
}

/* A one-node model "model" of plugin `name` with CrossEntropyLoss, or NULL
 * with the build's error. params: YAML or NULL. */
static lt_model *build(const char *name, const char *params, int n_classes, const int64_t shape[4])
{
    lt_cfg *cfg = params ? lt_cfg_parse_yaml(params, strlen(params), "test.yaml") : NULL;
    const lt_module_config losses[] = {{.name = "CrossEntropyLoss", .weight = 1.0f}};
    const lt_node_config node = {.name = name, .alias = "model", .params = cfg, .losses = losses, .n_losses = 1};
    lt_dataset_info ds = {.n_classes = n_classes};
    memcpy(ds.input_shape, shape, sizeof ds.input_shape);
    lt_model *m = lt_model_build(reg, &node, 1, &ds, 3);
    lt_cfg_free(cfg);
    return m;
}

/* ---------------- state_dict names and shapes ---------------- */

/* The parameter named <name without its last part>.<leaf>, or NULL. */
static const lt_tensor *sibling(lt_params *params, const char *name, const char *leaf)
{
    char other[300];
    const char *dot = strrchr(name, '.');
    snprintf(other, sizeof other, "%.*s.%s", (int)(dot - name), name, leaf);
    return lt_params_find(params, other);
}

/* PyTorch's reset_parameters(): kaiming_uniform(a=sqrt(5)) weights and
 * biases share the bound 1/sqrt(fan_in); batch norm starts at 1 and 0. */
static void check_default_init(lt_params *params, const lt_tensor *t)
{
    const size_t len = strlen(t->name);
    const bool is_bias = len > 5 && !strcmp(t->name + len - 5, ".bias");
    const bool is_weight = len > 7 && !strcmp(t->name + len - 7, ".weight");
    if (!is_bias && !is_weight) return; /* running statistics: checked by the training step */
    const bool batch_norm = sibling(params, t->name, "running_mean") != NULL;
    if (batch_norm) {
        for (int64_t j = 0; j < t->numel; j++)
            ck_assert_msg(lt_f32(t)[j] == (is_weight ? 1.0f : 0.0f), "%s[%lld] = %g", t->name, (long long)j,
                          lt_f32(t)[j]);
        return;
    }
    const lt_tensor *w = is_weight ? t : sibling(params, t->name, "weight");
    ck_assert_ptr_nonnull(w);
    const double bound = 1.0 / sqrt((double)lt_fan_in(w));
    double max_abs = 0;
    for (int64_t j = 0; j < t->numel; j++) max_abs = fmax(max_abs, fabs(lt_f32(t)[j]));
    ck_assert_msg(max_abs <= bound * (1 + 1e-6), "%s: |value| %g above PyTorch's bound %g", t->name, max_abs, bound);
    if (t->numel >= 64) /* a uniform draw of that many reaches near its bound */
        ck_assert_msg(max_abs >= 0.8 * bound, "%s: |value| at most %g, PyTorch's bound is %g", t->name, max_abs, bound);
}

static void check_state_dict(const char *name, int n_classes, const int64_t shape[4])
{
    json_t *want = json_object_get(model_fixture(name), "state_dict");
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_model *m = build(name, NULL, n_classes, shape);
    ck_assert_msg(m != NULL, "build %s: %s", name, lt_last_error());
    lt_params *params = lt_model_params(m);
    ck_assert_int_eq((int)lt_params_count(params), (int)json_array_size(want));
    for (size_t i = 0; i < lt_params_count(params); i++) {
        const lt_tensor *t = lt_params_at(params, i);
        json_t *entry = json_array_get(want, i);
        const char *torch_name = json_string_value(json_array_get(entry, 0));
        ck_assert_msg(!strncmp(t->name, "model.", 6) && !strcmp(t->name + 6, torch_name), "%s entry %zu: %s vs %s",
                      name, i, t->name, torch_name);
        json_t *dims = json_array_get(entry, 1);
        ck_assert_msg((size_t)t->ndim == json_array_size(dims), "%s: rank %d", t->name, t->ndim);
        for (int d = 0; d < t->ndim; d++)
            ck_assert_msg(t->shape[d] == json_integer_value(json_array_get(dims, (size_t)d)), "%s: dim %d is %lld",
                          t->name, d, (long long)t->shape[d]);
        check_default_init(params, t);
    }
    lt_model_free(m);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

START_TEST(test_state_dict_small_cnn) { check_state_dict("SmallCNN", 10, (const int64_t[]){1, 1, 28, 28}); }
END_TEST

START_TEST(test_state_dict_mlp) { check_state_dict("MLP", 10, (const int64_t[]){1, 1, 28, 28}); }
END_TEST

START_TEST(test_state_dict_unet) { check_state_dict("UNet", 3, (const int64_t[]){1, 3, 128, 128}); }
END_TEST

/* ---------------- one training step against PyTorch ---------------- */

/* The class formula of bench_models_reference.py's target_class(). */
static int target_class(int64_t i, int n_classes) { return (int)((3 * i + i / 5 + 1) % n_classes); }

/* One-hot labels of the model's task: [B, C] or [B, C, H, W]. */
static lt_labels *formula_labels(const lt_tensor *logits, int n_classes, const char *task)
{
    lt_tensor *one_hot = lt_zeros(LT_F32, logits->ndim, logits->shape);
    const int64_t b = logits->shape[0], hw = logits->numel / (b * n_classes);
    for (int64_t n = 0; n < b; n++)
        for (int64_t p = 0; p < hw; p++)
            lt_f32(one_hot)[(n * n_classes + target_class(n * hw + p, n_classes)) * hw + p] = 1.0f;
    lt_labels *labels = lt_labels_new();
    ck_assert_int_eq(lt_labels_set(labels, task, lt_value_tensor(one_hot)), 0);
    return labels;
}

static void check_close(const char *what, double got, double want, double tol)
{
    ck_assert_msg(fabs(got - want) <= tol, "%s: %.7g vs torch %.7g (tolerance %.3g)", what, got, want, tol);
}

/* Sampled elements of t against {"index": [...], "value": [...]}. */
static void check_samples(const char *what, const lt_tensor *t, const float *data, json_t *want, double tol)
{
    json_t *index = json_object_get(want, "index"), *value = json_object_get(want, "value");
    for (size_t k = 0; k < json_array_size(index); k++) {
        const int64_t j = json_integer_value(json_array_get(index, k));
        ck_assert_int_lt(j, t->numel);
        const double w = json_number_value(json_array_get(value, k));
        char at[320];
        snprintf(at, sizeof at, "%s[%lld]", what, (long long)j);
        check_close(at, data[j], w, tol + 1e-4 * fabs(w));
    }
}

static void check_grads(lt_params *params, json_t *grads)
{
    const char *torch_name;
    json_t *g;
    json_object_foreach(grads, torch_name, g) {
        char name[300];
        snprintf(name, sizeof name, "model.%s", torch_name);
        const lt_tensor *t = lt_params_find(params, name);
        ck_assert_msg(t && t->grad, "%s: no such parameter or no gradient", name);
        double sum = 0, abs_sum = 0;
        for (int64_t j = 0; j < t->numel; j++) sum += t->grad[j], abs_sum += fabs(t->grad[j]);
        const double want_abs = json_number_value(json_object_get(g, "abs_sum"));
        const double mean_abs = want_abs / (double)t->numel;
        char what[320];
        snprintf(what, sizeof what, "%s grad sum", name);
        check_close(what, sum, json_number_value(json_object_get(g, "sum")), 1e-4 * want_abs + 1e-7);
        snprintf(what, sizeof what, "%s grad abs sum", name);
        check_close(what, abs_sum, want_abs, 1e-4 * want_abs + 1e-7);
        snprintf(what, sizeof what, "%s grad", name);
        check_samples(what, t, t->grad, g, 1e-3 * mean_abs + 1e-7);
    }
}

static void check_step(const char *name, const char *task)
{
    json_t *c = json_object_get(model_fixture(name), "case");
    int64_t shape[4];
    for (int d = 0; d < 4; d++) shape[d] = json_integer_value(json_array_get(json_object_get(c, "input_shape"), (size_t)d));
    const int n_classes = (int)json_integer_value(json_object_get(c, "n_classes"));
    json_t *hidden = json_object_get(json_object_get(c, "params"), "hidden");
    char params[64];
    snprintf(params, sizeof params, "hidden: %lld", (long long)json_integer_value(hidden));

    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    lt_model *m = build(name, hidden ? params : NULL, n_classes, shape);
    ck_assert_msg(m != NULL, "build %s: %s", name, lt_last_error());
    lt_params *ps = lt_model_params(m);
    fx_formula_weights(ps);
    lt_tensor *x = lt_empty(LT_F32, 4, shape);
    fx_formula_input(x);
    ck_assert_msg(lt_model_forward(m, x, LT_MODE_TRAIN) == 0, "forward: %s", lt_last_error());

    const lt_value *out = lt_packet_get(lt_model_packet(m, lt_model_find_node(m, "model")), task);
    ck_assert_msg(out && out->kind == LT_VALUE_TENSOR, "%s: no '%s' output", name, task);
    const lt_tensor *logits = out->tensor;
    json_t *want_shape = json_object_get(c, "logits_shape"), *want = json_object_get(c, "logits");
    ck_assert_int_eq(logits->ndim, (int)json_array_size(want_shape));
    for (int d = 0; d < logits->ndim; d++)
        ck_assert_int_eq(logits->shape[d], json_integer_value(json_array_get(want_shape, (size_t)d)));
    double scale = 0;
    for (size_t i = 0; i < json_array_size(want); i++) scale = fmax(scale, fabs(json_number_value(json_array_get(want, i))));
    for (int64_t i = 0; i < logits->numel; i++) {
        char what[64];
        snprintf(what, sizeof what, "%s logit %lld", name, (long long)i);
        check_close(what, lt_f32(logits)[i], json_number_value(json_array_get(want, (size_t)i)), 1e-4 * (1 + scale));
    }

    lt_tensor *loss = lt_model_loss(m, formula_labels(logits, n_classes, task));
    ck_assert_msg(loss != NULL, "loss: %s", lt_last_error());
    check_close("loss", lt_item(loss), json_number_value(json_object_get(c, "loss")), 1e-5);
    lt_params_zero_grad(ps);
    ck_assert_msg(lt_backward(loss) == 0, "backward: %s", lt_last_error());
    check_grads(ps, json_object_get(c, "grads"));

    const char *stat_name;
    json_t *stat;
    json_object_foreach(json_object_get(c, "running_stats"), stat_name, stat) {
        char full[300];
        snprintf(full, sizeof full, "model.%s", stat_name);
        const lt_tensor *t = lt_params_find(ps, full);
        ck_assert_msg(t != NULL, "%s: missing", full);
        check_samples(full, t, lt_f32(t), stat, 1e-5);
    }
    lt_model_free(m);
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

START_TEST(test_step_small_cnn) { check_step("SmallCNN", "classification"); }
END_TEST

START_TEST(test_step_mlp) { check_step("MLP", "classification"); }
END_TEST

START_TEST(test_step_unet) { check_step("UNet", "segmentation"); }
END_TEST

/* ---------------- bad input ---------------- */

static void expect_build_error(const char *name, const char *params, const int64_t shape[4], const char *needle)
{
    lt_ctx *ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    ck_assert_ptr_null(build(name, params, 3, shape));
    ck_assert_msg(strstr(lt_last_error(), needle) != NULL, "error lacks '%s': %s", needle, lt_last_error());
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

START_TEST(test_bad_input)
{
    expect_build_error("UNet", NULL, (const int64_t[]){1, 3, 20, 20}, "multiples of 8");
    expect_build_error("MLP", "hidden: 0", (const int64_t[]){1, 1, 8, 8}, "params.hidden >= 1");
    expect_build_error("SmallCNN", NULL, (const int64_t[]){1, 1, 2, 2}, "at least 4x4");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_models");
    TCase *tc = tcase_create("bench_models");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_state_dict_small_cnn);
    tcase_add_test(tc, test_state_dict_mlp);
    tcase_add_test(tc, test_state_dict_unet);
    tcase_add_test(tc, test_step_small_cnn);
    tcase_add_test(tc, test_step_mlp);
    tcase_add_test(tc, test_step_unet);
    tcase_add_test(tc, test_bad_input);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
