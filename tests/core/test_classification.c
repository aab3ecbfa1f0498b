/* The built-in classification plugins (plugins/builtin/): ResNet,
 * ClassificationHead, CrossEntropyLoss, BCEWithLogitsLoss, Accuracy /
 * Precision / Recall / F1Score and ConfusionMatrix, loaded as plugins and
 * built into models by the core.
 *
 *  - ResNet-18/34/50 + ClassificationHead state_dict names and shapes equal
 *    torchvision's (tests/fixtures/resnet_reference.json);
 *  - logits of ResNet-18 + ClassificationHead with every weight set by a
 *    formula equal torchvision's resnet18 with the same weights (1e-4);
 *  - a training step: forward, CrossEntropyLoss, backward, SGD steps that
 *    lower the loss, metrics updated from the model's packets;
 *  - the losses' target conventions (one-hot, class indices, one channel);
 *  - metric values against scikit-learn for every task / average / top_k
 *    and the confusion matrix with its MCC
 *    (tests/fixtures/classification_metrics.json). */
#include "fixture.h"

#include <ltrain/cfg.h>
#include <ltrain/plugin.h>

#include "../../sdk/plugin/module.h"
#include "loader.h"
#include "model.h"
#include "modules.h"
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

/* ---------------- environment ---------------- */

static lt_registry *reg;
static lt_loader *loader;

static void load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.so", LT_BUILD_PLUGINS_DIR, name);
    lt_load_report rep = {0};
    const int rc = lt_loader_load_file(loader, reg, path, &rep);
    ck_assert_msg(rc == 0, "loading %s: %s", path, lt_last_error());
    lt_load_report_free(&rep);
}

static void setup(void)
{
    reg = lt_registry_new();
    ck_assert_ptr_nonnull(reg);
    ck_assert_int_eq(lt_register_builtin_tasks(reg), 0);
    loader = lt_loader_new();
    ck_assert_ptr_nonnull(loader);
    static const char *const plugins[] = {"ltrain_resnet", "ltrain_classification_head", "ltrain_cross_entropy_loss",
                                          "ltrain_bce_with_logits_loss", "ltrain_classification_metrics",
                                          "ltrain_confusion_matrix"};
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++) load(plugins[i]);
}

static void teardown(void)
{
    lt_registry_free(reg);
    lt_loader_free(loader);
}

static lt_ctx *ctx_begin(void)
{
    lt_ctx *ctx = lt_ctx_new();
    ck_assert_ptr_nonnull(ctx);
    lt_ctx_use(ctx);
    return ctx;
}

static void ctx_end(lt_ctx *ctx)
{
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

static json_t *load_json(const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", LT_SOURCE_ROOT, file);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    ck_assert_msg(root != NULL, "%s: %s", path, err.text);
    return root;
}

/* ---------------- models ---------------- */

typedef struct model_spec {
    const char *variant;
    int n_classes;
    int64_t input_shape[4];
    const char *head_params; /* YAML or NULL */
    const lt_module_config *losses;
    int n_losses;
    const lt_module_config *metrics;
    int n_metrics;
} model_spec;

/* backbone (ResNet) -> head (ClassificationHead). */
static lt_model *build_classifier(const model_spec *s)
{
    static const char *const head_inputs[] = {"backbone"};
    lt_cfg *head_params = NULL;
    if (s->head_params) {
        head_params = lt_cfg_parse_yaml(s->head_params, strlen(s->head_params), "test.yaml");
        ck_assert_msg(head_params != NULL, "yaml: %s", lt_last_error());
    }
    const lt_node_config nodes[] = {
        {.name = "ResNet", .alias = "backbone", .variant = s->variant},
        {.name = "ClassificationHead",
         .alias = "head",
         .inputs = head_inputs,
         .n_inputs = 1,
         .params = head_params,
         .losses = s->losses,
         .n_losses = s->n_losses,
         .metrics = s->metrics,
         .n_metrics = s->n_metrics},
    };
    lt_dataset_info ds = {.n_classes = s->n_classes};
    memcpy(ds.input_shape, s->input_shape, sizeof ds.input_shape);
    lt_model *m = lt_model_build(reg, nodes, 2, &ds, 7);
    ck_assert_msg(m != NULL, "build: %s", lt_last_error());
    lt_cfg_free(head_params);
    return m;
}

static lt_tensor *head_logits(const lt_model *m)
{
    const lt_packet *p = lt_model_packet(m, lt_model_find_node(m, "head"));
    ck_assert_ptr_nonnull(p);
    const lt_value *v = lt_packet_get(p, "classification");
    ck_assert_msg(v && v->kind == LT_VALUE_TENSOR, "head packet lacks 'classification' (keys: %s)",
                  lt_packet_keys_str(p));
    return v->tensor;
}

/* torchvision's name of one of our parameters: "fc.*" is the head's head.3. */
static void torchvision_name(const char *ours, char *out, size_t size)
{
    if (!strncmp(ours, "head.head.3.", 12))
        snprintf(out, size, "fc.%s", ours + 12);
    else if (!strncmp(ours, "backbone.", 9))
        snprintf(out, size, "%s", ours + 9);
    else
        snprintf(out, size, "?%s", ours);
}

/* ---------------- state_dict names and shapes ---------------- */

static void check_state_dict(const char *variant)
{
    json_t *root = load_json("resnet_reference.json");
    json_t *want = json_object_get(json_object_get(root, "state_dicts"), variant);
    ck_assert_ptr_nonnull(want);
    lt_ctx *ctx = ctx_begin();
    lt_model *m = build_classifier(&(model_spec){.variant = variant, .n_classes = 10, .input_shape = {1, 3, 32, 32}});
    lt_params *params = lt_model_params(m);
    ck_assert_int_eq((int)lt_params_count(params), (int)json_array_size(want));
    for (size_t i = 0; i < lt_params_count(params); i++) {
        const lt_tensor *t = lt_params_at(params, i);
        json_t *entry = json_array_get(want, i);
        char name[256];
        torchvision_name(t->name, name, sizeof name);
        ck_assert_msg(!strcmp(name, json_string_value(json_array_get(entry, 0))), "ResNet-%s entry %zu: %s vs %s",
                      variant, i, t->name, json_string_value(json_array_get(entry, 0)));
        json_t *shape = json_array_get(entry, 1);
        ck_assert_msg((size_t)t->ndim == json_array_size(shape), "%s: rank %d vs %zu", t->name, t->ndim,
                      json_array_size(shape));
        for (int d = 0; d < t->ndim; d++)
            ck_assert_msg(t->shape[d] == json_integer_value(json_array_get(shape, (size_t)d)), "%s: dim %d: %lld",
                          t->name, d, (long long)t->shape[d]);
    }
    lt_model_free(m);
    ctx_end(ctx);
    json_decref(root);
}

START_TEST(test_state_dict_resnet18) { check_state_dict("18"); }
END_TEST

START_TEST(test_state_dict_resnet34) { check_state_dict("34"); }
END_TEST

START_TEST(test_state_dict_resnet50) { check_state_dict("50"); }
END_TEST

/* ---------------- logits against torchvision ---------------- */

START_TEST(test_logits_match_torchvision)
{
    json_t *root = load_json("resnet_reference.json");
    json_t *ref = json_object_get(root, "logits");
    const int n_classes = (int)json_integer_value(json_object_get(ref, "n_classes"));
    json_t *shape = json_object_get(ref, "input_shape");
    int64_t in_shape[4];
    for (int d = 0; d < 4; d++) in_shape[d] = json_integer_value(json_array_get(shape, (size_t)d));

    lt_ctx *ctx = ctx_begin();
    lt_model *m = build_classifier(&(model_spec){.variant = "18", .n_classes = n_classes,
                                                 .input_shape = {in_shape[0], in_shape[1], in_shape[2], in_shape[3]}});
    fx_formula_weights(lt_model_params(m));
    lt_tensor *x = lt_empty(LT_F32, 4, in_shape);
    fx_formula_input(x);
    ck_assert_msg(lt_model_forward(m, x, LT_MODE_EVAL) == 0, "forward: %s", lt_last_error());
    const lt_tensor *logits = head_logits(m);
    json_t *want = json_object_get(ref, "logits");
    ck_assert_int_eq(logits->ndim, 2);
    ck_assert_int_eq(logits->shape[0], in_shape[0]);
    ck_assert_int_eq(logits->shape[1], n_classes);
    ck_assert_int_eq((int)logits->numel, (int)json_array_size(want));
    for (int64_t i = 0; i < logits->numel; i++) {
        const double w = json_number_value(json_array_get(want, (size_t)i));
        ck_assert_msg(fabs(lt_f32(logits)[i] - w) <= 1e-4 * (1.0 + fabs(w)), "logit %lld: %.7g vs torchvision %.7g",
                      (long long)i, lt_f32(logits)[i], w);
    }
    /* Eval mode is deterministic: dropout is off. */
    lt_tensor *first = lt_copy(logits);
    ck_assert_int_eq(lt_model_forward(m, x, LT_MODE_EVAL), 0);
    ck_assert_int_eq(memcmp(first->data, head_logits(m)->data, (size_t)first->numel * sizeof(float)), 0);
    lt_model_free(m);
    ctx_end(ctx);
    json_decref(root);
}
END_TEST

/* ---------------- training step ---------------- */

enum { TRAIN_B = 4, TRAIN_C = 3 };

static lt_labels *one_hot_labels(const int *classes, int b, int c)
{
    lt_tensor *t = lt_zeros(LT_F32, 2, (const int64_t[]){b, c});
    for (int i = 0; i < b; i++) lt_f32(t)[i * c + classes[i]] = 1.0f;
    lt_labels *labels = lt_labels_new();
    ck_assert_int_eq(lt_labels_set(labels, "classification", lt_value_tensor(t)), 0);
    return labels;
}

static float train_loss(lt_model *m, const lt_tensor *images, const int *classes, bool step, float lr)
{
    ck_assert_msg(lt_model_forward(m, (lt_tensor *)images, LT_MODE_TRAIN) == 0, "forward: %s", lt_last_error());
    lt_tensor *loss = lt_model_loss(m, one_hot_labels(classes, TRAIN_B, TRAIN_C));
    ck_assert_msg(loss != NULL, "loss: %s", lt_last_error());
    const float value = lt_item(loss);
    if (step) {
        lt_params *params = lt_model_params(m);
        lt_params_zero_grad(params);
        ck_assert_msg(lt_backward(loss) == 0, "backward: %s", lt_last_error());
        for (size_t i = 0; i < lt_params_count(params); i++) {
            lt_tensor *t = lt_params_at(params, i);
            if (!t->grad || !lt_requires_grad(t)) continue;
            for (int64_t j = 0; j < t->numel; j++) lt_f32(t)[j] -= lr * t->grad[j];
        }
    }
    return value;
}

START_TEST(test_training_step)
{
    const lt_module_config losses[] = {{.name = "CrossEntropyLoss", .weight = 1.0f}};
    const lt_module_config metrics[] = {{.name = "Accuracy"}, {.name = "F1Score", .is_main_metric = true},
                                        {.name = "Recall"}, {.name = "ConfusionMatrix"}};
    lt_ctx *ctx = ctx_begin();
    lt_model *m = build_classifier(&(model_spec){.variant = "18", .n_classes = TRAIN_C, .input_shape = {TRAIN_B, 3, 32, 32},
                                                 .head_params = "dropout_rate: 0.0", .losses = losses, .n_losses = 1,
                                                 .metrics = metrics, .n_metrics = 4});
    lt_tensor *images = lt_tensor_new(LT_F32, 4, (const int64_t[]){TRAIN_B, 3, 32, 32});
    fx_fill_uniform(images, 3, -1, 1);
    static const int classes[TRAIN_B] = {0, 2, 1, 2};

    /* Gradients reach the first convolution and the classifier. */
    const float first = train_loss(m, images, classes, true, 0.05f);
    ck_assert_msg(isfinite(first) && first > 0.0f, "loss %g", first);
    const lt_tensor *conv1 = lt_params_find(lt_model_params(m), "backbone.conv1.weight");
    const lt_tensor *fc = lt_params_find(lt_model_params(m), "head.head.3.weight");
    ck_assert_ptr_nonnull(conv1);
    ck_assert_ptr_nonnull(fc);
    double g_conv = 0.0, g_fc = 0.0;
    for (int64_t j = 0; j < conv1->numel; j++) g_conv += fabs(conv1->grad[j]);
    for (int64_t j = 0; j < fc->numel; j++) g_fc += fabs(fc->grad[j]);
    ck_assert_msg(g_conv > 0.0 && g_fc > 0.0, "gradients: conv1 %g, fc %g", g_conv, g_fc);
    lt_ctx_reset(ctx);

    /* A few SGD steps on the same batch lower the loss. */
    float last = first;
    for (int s = 0; s < 4; s++) {
        last = train_loss(m, images, classes, true, 0.05f);
        lt_ctx_reset(ctx);
    }
    last = train_loss(m, images, classes, false, 0.0f);
    ck_assert_msg(last < first, "loss did not decrease: %g -> %g", first, last);

    /* Metrics from the head's packet in eval mode. */
    ck_assert_int_eq(lt_model_forward(m, images, LT_MODE_EVAL), 0);
    const int head = lt_model_find_node(m, "head");
    ck_assert_int_eq(lt_model_n_attached(m, head, LT_DESC_METRIC), 4);
    lt_labels *labels = one_hot_labels(classes, TRAIN_B, TRAIN_C);
    for (int k = 0; k < 4; k++) {
        struct lt_attached *a = lt_model_attached(m, head, LT_DESC_METRIC, k);
        ck_assert_msg(lt_attached_metric_update(a, lt_model_packet(m, head), labels) == 0, "update %s: %s",
                      lt_attached_identifier(a), lt_last_error());
        const lt_metric_result *r = NULL;
        ck_assert_msg(lt_attached_metric_compute(a, &r) == 0, "compute: %s", lt_last_error());
        if (k < 3) {
            ck_assert(lt_metric_result_has_main(r));
            const float v = lt_metric_result_main(r);
            ck_assert_msg(v >= 0.0f && v <= 1.0f, "%s = %g", lt_attached_identifier(a), v);
        } else {
            ck_assert(!lt_metric_result_has_main(r)); /* a dict only: mcc and the matrix */
            ck_assert_int_eq(lt_metric_result_count(r), 2);
            ck_assert_str_eq(lt_metric_result_name(r, 0), "mcc");
            ck_assert_str_eq(lt_metric_result_name(r, 1), "confusion_matrix");
            const lt_tensor *cm = lt_metric_result_tensor(r, 1);
            ck_assert_ptr_nonnull(cm);
            ck_assert_int_eq(cm->shape[0], TRAIN_C);
            ck_assert_int_eq(cm->shape[1], TRAIN_C);
            float total = 0.0f;
            for (int64_t j = 0; j < cm->numel; j++) total += lt_f32(cm)[j];
            ck_assert_float_eq(total, (float)TRAIN_B);
        }
    }
    lt_tensor_free(images);
    lt_model_free(m);
    ctx_end(ctx);
}
END_TEST

START_TEST(test_head_config_and_dropout)
{
    lt_ctx *ctx = ctx_begin();
    lt_model *m = build_classifier(&(model_spec){.variant = "18", .n_classes = 2, .input_shape = {2, 3, 32, 32},
                                                 .head_params = "dropout_rate: 0.5"});
    const int head = lt_model_find_node(m, "head");
    ck_assert_str_eq(lt_model_node_head_config(m, head), "{\"is_softmax\": false}");
    ck_assert_str_eq(lt_model_node_desc(m, head)->parser, "ClassificationParser");
    ck_assert_str_eq(lt_model_node_variant(m, lt_model_find_node(m, "backbone")), "18");
    lt_tensor *x = lt_empty(LT_F32, 4, (const int64_t[]){2, 3, 32, 32});
    fx_fill_uniform(x, 5, -1, 1);
    /* Training mode drops (two calls differ); eval does not (two calls agree). */
    ck_assert_int_eq(lt_model_forward(m, x, LT_MODE_TRAIN), 0);
    lt_tensor *a = lt_copy(head_logits(m));
    ck_assert_int_eq(lt_model_forward(m, x, LT_MODE_TRAIN), 0);
    ck_assert_int_ne(memcmp(a->data, head_logits(m)->data, (size_t)a->numel * sizeof(float)), 0);
    lt_model_free(m);
    ctx_end(ctx);
}
END_TEST

/* Bad params fail model build with the node, the key and the rule. */
START_TEST(test_bad_params)
{
    static const char *const head_inputs[] = {"backbone"};
    static const struct {
        const char *variant, *bb_params, *head_params, *needle;
    } cases[] = {
        {"77", NULL, NULL, "variant"},
        {"18", "groups: 2", NULL, "Bottleneck"},
        {"18", "download_weights: true", NULL, "download_weights"},
        {"50", "replace_stride_with_dilation: [0, 1]", NULL, "replace_stride_with_dilation"},
        {"18", NULL, "dropout_rate: 1.5", "dropout_rate"},
    };
    lt_ctx *ctx = ctx_begin();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lt_cfg *bp = cases[i].bb_params ? lt_cfg_parse_yaml(cases[i].bb_params, strlen(cases[i].bb_params), "t.yaml")
                                        : NULL;
        lt_cfg *hp = cases[i].head_params
                         ? lt_cfg_parse_yaml(cases[i].head_params, strlen(cases[i].head_params), "t.yaml")
                         : NULL;
        const lt_node_config nodes[] = {
            {.name = "ResNet", .alias = "backbone", .variant = cases[i].variant, .params = bp},
            {.name = "ClassificationHead", .alias = "head", .inputs = head_inputs, .n_inputs = 1, .params = hp},
        };
        const lt_dataset_info ds = {.n_classes = 3, .input_shape = {1, 3, 32, 32}};
        lt_model *m = lt_model_build(reg, nodes, 2, &ds, 1);
        ck_assert_msg(m == NULL, "case %zu built", i);
        ck_assert_msg(strstr(lt_last_error(), cases[i].needle) != NULL, "case %zu: error \"%s\" lacks \"%s\"", i,
                      lt_last_error(), cases[i].needle);
        lt_cfg_free(bp);
        lt_cfg_free(hp);
    }
    ctx_end(ctx);
}
END_TEST

/* ResNet-50's Bottleneck with dilation keeps the stride-8 resolution. */
START_TEST(test_resnet50_dilation_features)
{
    static const char *const head_inputs[] = {"backbone"};
    lt_ctx *ctx = ctx_begin();
    const char *yaml = "replace_stride_with_dilation: [0, 1, 1]";
    lt_cfg *bp = lt_cfg_parse_yaml(yaml, strlen(yaml), "t.yaml");
    const lt_node_config nodes[] = {
        {.name = "ResNet", .alias = "backbone", .variant = "50", .params = bp},
        {.name = "ClassificationHead", .alias = "head", .inputs = head_inputs, .n_inputs = 1},
    };
    const lt_dataset_info ds = {.n_classes = 3, .input_shape = {1, 3, 64, 64}};
    lt_model *m = lt_model_build(reg, nodes, 2, &ds, 1);
    ck_assert_msg(m != NULL, "build: %s", lt_last_error());
    lt_tensor *x = lt_zeros(LT_F32, 4, (const int64_t[]){1, 3, 64, 64});
    ck_assert_int_eq(lt_model_forward(m, x, LT_MODE_EVAL), 0);
    const lt_value *f = lt_packet_get(lt_model_packet(m, lt_model_find_node(m, "backbone")), "features");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->list.n, 4);
    static const int64_t channels[4] = {256, 512, 1024, 2048}, sizes[4] = {16, 8, 8, 8};
    for (int l = 0; l < 4; l++) {
        ck_assert_int_eq(f->list.items[l]->shape[1], channels[l]);
        ck_assert_int_eq(f->list.items[l]->shape[2], sizes[l]);
    }
    ck_assert_int_eq(head_logits(m)->shape[1], 3);
    lt_model_free(m);
    lt_cfg_free(bp);
    ctx_end(ctx);
}
END_TEST

/* ---------------- losses ---------------- */

static lt_tensor *run_loss(const char *name, const char *params_yaml, lt_tensor *predictions, lt_tensor *target)
{
    lt_cfg *params = params_yaml ? lt_cfg_parse_yaml(params_yaml, strlen(params_yaml), "t.yaml") : NULL;
    lt_task_info task;
    ck_assert_int_eq(lt_task_resolve(reg, "classification", &task), 0);
    const lt_module_config cfg = {.name = name, .params = params, .weight = 1.0f};
    const lt_attach_target on = {.node_identifier = "head", .node_name = "ClassificationHead", .task = &task,
                                 .n_classes = (int)predictions->shape[1]};
    lt_attached *a = lt_attached_build(reg, LT_DESC_LOSS, &cfg, &on);
    ck_assert_msg(a != NULL, "build %s: %s", name, lt_last_error());
    lt_packet *p = lt_packet_new();
    lt_labels *l = lt_labels_new();
    ck_assert_int_eq(lt_packet_set(p, "classification", lt_value_tensor(predictions)), 0);
    ck_assert_int_eq(lt_labels_set(l, "classification", lt_value_tensor(target)), 0);
    lt_tensor *loss = lt_attached_loss(a, p, l);
    lt_attached_free(a);
    lt_cfg_free(params);
    return loss;
}

static lt_tensor *tensor2(int64_t b, int64_t c, const float *v)
{
    return lt_from_data(LT_F32, 2, (const int64_t[]){b, c}, v);
}

START_TEST(test_cross_entropy_targets)
{
    lt_ctx *ctx = ctx_begin();
    static const float logits[] = {0.2f, -1.0f, 0.7f, 1.5f, 0.1f, -0.3f, -0.4f, 0.9f, 0.0f};
    static const float one_hot[] = {0, 0, 1, 1, 0, 0, 0, 1, 0};
    static const int32_t idx[] = {2, 0, 1};
    lt_tensor *x = tensor2(3, 3, logits);
    lt_tensor *indices = lt_from_data(LT_I32, 1, (const int64_t[]){3}, idx);
    const char *params = "weight: [1.0, 2.0, 0.5]\nlabel_smoothing: 0.1";
    /* One-hot targets are argmaxed: the same loss as the indices, and as
     * lt_cross_entropy with the params. */
    const float dense = lt_item(run_loss("CrossEntropyLoss", params, x, tensor2(3, 3, one_hot)));
    const float sparse = lt_item(run_loss("CrossEntropyLoss", params, x, indices));
    lt_cross_entropy_params p = LT_CROSS_ENTROPY_DEFAULTS;
    p.weight = lt_from_data(LT_F32, 1, (const int64_t[]){3}, (const float[]){1.0f, 2.0f, 0.5f});
    p.label_smoothing = 0.1f;
    const float direct = lt_item(lt_cross_entropy(x, indices, &p));
    ck_assert_float_eq(dense, direct);
    ck_assert_float_eq(sparse, direct);
    /* reduction sum. */
    const float sum = lt_item(run_loss("CrossEntropyLoss", "reduction: sum", x, indices));
    p = LT_CROSS_ENTROPY_DEFAULTS;
    p.reduction = LT_REDUCTION_SUM;
    ck_assert_float_eq(sum, lt_item(lt_cross_entropy(x, indices, &p)));
    /* One channel: a zero logit is prepended and t becomes [1 - t, t]. */
    const float single = lt_item(run_loss("CrossEntropyLoss", NULL, tensor2(2, 1, (const float[]){0.3f, -1.2f}),
                                          tensor2(2, 1, (const float[]){1.0f, 0.0f})));
    const double l1 = log(1.0 + exp(0.3)) - 0.3, l2 = log(1.0 + exp(-1.2));
    ck_assert_msg(fabs(single - (l1 + l2) / 2.0) < 1e-6, "single channel: %g vs %g", single, (l1 + l2) / 2.0);
    /* Errors name the module and the shapes. */
    ck_assert_ptr_null(run_loss("CrossEntropyLoss", NULL, x, lt_zeros(LT_I32, 2, (const int64_t[]){3, 1})));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "CrossEntropyLoss"));
    ctx_end(ctx);
}
END_TEST

START_TEST(test_bce_targets)
{
    lt_ctx *ctx = ctx_begin();
    static const float logits[] = {0.2f, -1.0f, 0.7f, 1.5f, 0.1f, -0.3f};
    static const float one_hot[] = {0, 0, 1, 1, 0, 0};
    lt_tensor *x = tensor2(2, 3, logits);
    const char *params = "pos_weight: [2.0, 1.0, 0.5]";
    const float dense = lt_item(run_loss("BCEWithLogitsLoss", params, x, tensor2(2, 3, one_hot)));
    /* Class indices are one-hot encoded first. */
    const float sparse = lt_item(
        run_loss("BCEWithLogitsLoss", params, x, lt_from_data(LT_I32, 1, (const int64_t[]){2}, (const int32_t[]){2, 0})));
    lt_tensor *pw = lt_from_data(LT_F32, 1, (const int64_t[]){3}, (const float[]){2.0f, 1.0f, 0.5f});
    const float direct = lt_item(lt_bce_with_logits(x, tensor2(2, 3, one_hot), NULL, pw, LT_REDUCTION_MEAN));
    ck_assert_float_eq(dense, direct);
    ck_assert_float_eq(sparse, direct);
    /* uint8 multi-hot targets are converted. */
    lt_tensor *u8 = lt_from_data(LT_U8, 2, (const int64_t[]){2, 3}, (const uint8_t[]){0, 0, 1, 1, 0, 0});
    ck_assert_float_eq(lt_item(run_loss("BCEWithLogitsLoss", params, x, u8)), direct);
    /* Segmentation-shaped: indices [B,H,W] become one-hot [B,C,H,W]. */
    lt_tensor *seg = lt_empty(LT_F32, 4, (const int64_t[]){2, 3, 2, 2});
    lt_tensor *seg_idx = lt_empty(LT_I32, 3, (const int64_t[]){2, 2, 2});
    lt_tensor *seg_dense = lt_zeros(LT_F32, 4, seg->shape);
    for (int64_t i = 0; i < seg->numel; i++) lt_f32(seg)[i] = (float)sin(0.7 * (double)i);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t k = 0; k < 4; k++) {
            const int32_t cls = (int32_t)((b + k) % 3);
            lt_i32(seg_idx)[b * 4 + k] = cls;
            lt_f32(seg_dense)[(b * 3 + cls) * 4 + k] = 1.0f;
        }
    ck_assert_float_eq(lt_item(run_loss("BCEWithLogitsLoss", NULL, seg, seg_idx)),
                       lt_item(lt_bce_with_logits(seg, seg_dense, NULL, NULL, LT_REDUCTION_MEAN)));
    /* and CrossEntropyLoss argmaxes the one-hot map to the same indices. */
    ck_assert_float_eq(lt_item(run_loss("CrossEntropyLoss", NULL, seg, seg_dense)),
                       lt_item(lt_cross_entropy(seg, seg_idx, NULL)));
    /* Mismatched shapes fail as in luxonis-train. */
    ck_assert_ptr_null(run_loss("BCEWithLogitsLoss", NULL, x, tensor2(3, 2, one_hot)));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "should have the same shape"));
    ck_assert_ptr_null(run_loss("BCEWithLogitsLoss", NULL, x,
                                lt_from_data(LT_I32, 1, (const int64_t[]){2}, (const int32_t[]){3, 0})));
    ck_assert_ptr_nonnull(strstr(lt_last_error(), "outside [0, 3)"));
    ctx_end(ctx);
}
END_TEST

/* ---------------- metrics against scikit-learn ---------------- */

static lt_attached *fixture_metric(fx_case *c, const char *name)
{
    lt_cfg *params = lt_cfg_new(LT_CFG_MAP);
    static const char *const str_keys[] = {"task", "average"};
    for (int i = 0; i < 2; i++) {
        const char *v = fx_param_s(c, str_keys[i], NULL);
        if (v) lt_cfg_set(params, str_keys[i], lt_cfg_new_scalar(v, true));
    }
    char num[64];
    if (fx_param_i(c, "top_k", 0)) {
        snprintf(num, sizeof num, "%lld", (long long)fx_param_i(c, "top_k", 1));
        lt_cfg_set(params, "top_k", lt_cfg_new_scalar(num, false));
    }
    if (fx_param_f(c, "threshold", -1.0) >= 0.0) {
        snprintf(num, sizeof num, "%.9g", fx_param_f(c, "threshold", 0.5));
        lt_cfg_set(params, "threshold", lt_cfg_new_scalar(num, false));
    }
    lt_task_info task;
    ck_assert_int_eq(lt_task_resolve(reg, "classification", &task), 0);
    const lt_module_config cfg = {.name = name, .params = params};
    const lt_attach_target on = {.node_identifier = "head", .node_name = "ClassificationHead", .task = &task,
                                 .n_classes = (int)fx_param_i(c, "n_classes", 1)};
    lt_attached *a = lt_attached_build(reg, LT_DESC_METRIC, &cfg, &on);
    lt_cfg_free(params); /* the module copies what it keeps at init */
    return a;
}

/* Updates with the case's inputs in two halves (states accumulate), computes. */
static const lt_metric_result *fixture_compute(fx_case *c, lt_attached *a)
{
    lt_tensor *x = fx_in(c, "predictions"), *t = fx_in(c, "target");
    const int64_t half = x->shape[0] / 2;
    for (int part = 0; part < 2; part++) {
        const int64_t lo = part ? half : 0, hi = part ? x->shape[0] : half;
        lt_packet *p = lt_packet_new();
        lt_labels *l = lt_labels_new();
        lt_packet_set(p, "classification", lt_value_tensor(lt_slice(x, 0, lo, hi, 1)));
        lt_labels_set(l, "classification", lt_value_tensor(lt_slice(t, 0, lo, hi, 1)));
        if (lt_attached_metric_update(a, p, l)) return NULL;
    }
    const lt_metric_result *r = NULL;
    return lt_attached_metric_compute(a, &r) ? NULL : r;
}

static lt_tensor *run_metric(fx_case *c)
{
    lt_attached *a = fixture_metric(c, fx_param_s(c, "name", "?"));
    if (!a) return NULL;
    const lt_metric_result *r = fixture_compute(c, a);
    lt_tensor *out = NULL;
    if (r) {
        ck_assert(lt_metric_result_has_main(r));
        out = lt_scalar(lt_metric_result_main(r));
        const int n = lt_metric_result_count(r);
        if (n > 0) { /* average none: one sub-metric per class */
            lt_tensor *per_class = lt_empty(LT_F32, 1, (const int64_t[]){n});
            for (int i = 0; i < n; i++) lt_f32(per_class)[i] = lt_metric_result_value(r, i);
            fx_out(c, "per_class", per_class);
            char want[64];
            snprintf(want, sizeof want, "_%d", n - 1);
            const char *last = lt_metric_result_name(r, n - 1);
            ck_assert_msg(strlen(last) > strlen(want) && !strcmp(last + strlen(last) - strlen(want), want),
                          "sub-metric name %s", last);
        }
    }
    lt_attached_free(a);
    return out;
}

static lt_tensor *run_confusion(fx_case *c)
{
    lt_attached *a = fixture_metric(c, "ConfusionMatrix");
    if (!a) return NULL;
    const lt_metric_result *r = fixture_compute(c, a);
    lt_tensor *out = NULL;
    if (r) {
        ck_assert(!lt_metric_result_has_main(r));
        ck_assert_str_eq(lt_metric_result_name(r, 0), "mcc");
        fx_out(c, "mcc", lt_scalar(lt_metric_result_value(r, 0)));
        out = lt_copy(lt_metric_result_tensor(r, 1));
    }
    lt_attached_free(a);
    return out;
}

START_TEST(test_metrics_against_sklearn)
{
    static const fx_op ops[] = {{"metric", run_metric}, {"confusion_matrix", run_confusion}};
    ck_assert_int_gt(fx_run_group("classification_metrics", ops, 2), 0);
}
END_TEST

/* Per-class sub-metrics are named "<TorchName>_<class name>". */
START_TEST(test_per_class_names)
{
    lt_ctx *ctx = ctx_begin();
    static const char *const names[] = {"cat", "dog", "bird"};
    lt_task_info task;
    ck_assert_int_eq(lt_task_resolve(reg, "classification", &task), 0);
    const char *yaml = "average: none";
    lt_cfg *params = lt_cfg_parse_yaml(yaml, strlen(yaml), "t.yaml");
    const lt_module_config cfg = {.name = "F1Score", .params = params};
    const lt_attach_target on = {.node_identifier = "head", .node_name = "ClassificationHead", .task = &task,
                                 .n_classes = 3, .class_names = names};
    lt_attached *a = lt_attached_build(reg, LT_DESC_METRIC, &cfg, &on);
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    ck_assert_int_eq(lt_attached_n_states(a), 4);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(lt_attached_state_spec(a, i)->reduce, LT_REDUCE_SUM);
    lt_packet *p = lt_packet_new();
    lt_labels *l = lt_labels_new();
    lt_packet_set(p, "classification", lt_value_tensor(tensor2(2, 3, (const float[]){1, 0, 0, 0, 0, 1})));
    lt_labels_set(l, "classification", lt_value_tensor(tensor2(2, 3, (const float[]){1, 0, 0, 0, 1, 0})));
    ck_assert_int_eq(lt_attached_metric_update(a, p, l), 0);
    const lt_metric_result *r = NULL;
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), 0);
    ck_assert_int_eq(lt_metric_result_count(r), 3);
    ck_assert_str_eq(lt_metric_result_name(r, 0), "MulticlassF1Score_cat");
    ck_assert_str_eq(lt_metric_result_name(r, 2), "MulticlassF1Score_bird");
    ck_assert_float_eq(lt_metric_result_value(r, 0), 1.0f);
    ck_assert_float_eq(lt_metric_result_value(r, 1), 0.0f);
    ck_assert_float_eq(lt_metric_result_main(r), 1.0f / 3.0f);
    /* Reset clears the counts. */
    lt_attached_metric_reset(a);
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), 0);
    ck_assert_float_eq(lt_metric_result_main(r), 0.0f);
    lt_attached_free(a);
    lt_cfg_free(params);
    ctx_end(ctx);
}
END_TEST

static Suite *classification_suite(void)
{
    Suite *s = suite_create("classification");
    TCase *tc = tcase_create("builtin");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_state_dict_resnet18);
    tcase_add_test(tc, test_state_dict_resnet34);
    tcase_add_test(tc, test_state_dict_resnet50);
    tcase_add_test(tc, test_logits_match_torchvision);
    tcase_add_test(tc, test_training_step);
    tcase_add_test(tc, test_head_config_and_dropout);
    tcase_add_test(tc, test_bad_params);
    tcase_add_test(tc, test_resnet50_dilation_features);
    tcase_add_test(tc, test_cross_entropy_targets);
    tcase_add_test(tc, test_bce_targets);
    tcase_add_test(tc, test_metrics_against_sklearn);
    tcase_add_test(tc, test_per_class_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return fx_run_suite(classification_suite()); }
