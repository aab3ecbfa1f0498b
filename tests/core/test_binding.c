/* Attached-module binding (core/modules.c, core/ffi_bind.c, sdk/plugin/module.c):
 * every argument-binding rule of plugin.h, libffi calls, task and node
 * checks, metric states and results, visualizers, and the example plugins
 * of plugins/examples/. Modules come from real shared objects
 * (tests/plugins/binding/binding_modules.so and the example plugins);
 * nodes are stood in for by hand-made lt_attach_target / lt_task_info, so
 * no model is built. */
#include "fixture.h"

#include <check.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <ltrain/cfg.h>

#include "../../sdk/plugin/module.h" /* lt_metric_result_tensor */
#include "../plugins/binding/probe.h"
#include "modules.h"
#include "registry.h"
#include "tasks.h"

static lt_registry *reg;
static lt_ctx *ctx;
static struct binding_probe *probe;
enum { MAX_PLUGINS = 8 };
static void *handles[MAX_PLUGINS];
static int n_handles;

static const char *const example_plugins[] = {"example_bce_loss", "example_instance_keypoints_loss",
                                              "example_my_metric", "example_bbox_visualizer"};

static void *load_plugin(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(h != NULL, "dlopen %s: %s", path, dlerror());
    lt_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, LT_PLUGIN_ENTRY_SYMBOL);
    ck_assert_msg(entry != NULL, "%s: no %s", path, LT_PLUGIN_ENTRY_SYMBOL);
    const lt_plugin_info *info = entry();
    for (const lt_desc_header *const *d = info->descriptors; *d; d++)
        ck_assert_msg(lt_registry_add(reg, *d, info->name, path) == 0, "%s", lt_last_error());
    handles[n_handles++] = h;
    return h;
}

static void setup(void)
{
    ctx = lt_ctx_new();
    lt_ctx_use(ctx);
    reg = lt_registry_new();
    ck_assert_int_eq(lt_register_builtin_tasks(reg), 0);
    void *h = load_plugin(LT_TEST_PLUGINS_DIR "/binding/binding_modules.so");
    probe = dlsym(h, "binding_probe");
    ck_assert_ptr_nonnull(probe);
    for (size_t i = 0; i < sizeof example_plugins / sizeof example_plugins[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.so", LT_BUILD_PLUGINS_DIR, example_plugins[i]);
        load_plugin(path);
    }
}

static void teardown(void)
{
    lt_registry_free(reg);
    for (int i = 0; i < n_handles; i++) dlclose(handles[i]);
    n_handles = 0;
    lt_ctx_use(NULL);
    lt_ctx_free(ctx);
}

/* ---------------- hand-made nodes ---------------- */

static const lt_task_info seg_task = {
    .name = "segmentation", .main_output = "segmentation", .n_labels = 1, .labels = {LT_LABEL("segmentation")}};
static const lt_task_info cls_task = {
    .name = "classification", .main_output = "classification", .n_labels = 1, .labels = {LT_LABEL("classification")}};
static const lt_task_info bbox_task = {
    .name = "boundingbox", .main_output = "boundingbox", .n_labels = 1, .labels = {LT_LABEL("boundingbox")}};
static const lt_task_info kpt_task = {.name = "keypoints",
                                      .main_output = "keypoints",
                                      .n_labels = 2,
                                      .labels = {LT_LABEL("boundingbox"), LT_LABEL("keypoints")}};
/* The seed's custom DistanceEstimation task. */
static const lt_task_info dist_task = {
    .name = "distance",
    .main_output = "boundingbox",
    .n_labels = 2,
    .labels = {LT_LABEL("boundingbox"), LT_METADATA("distance", LT_META_FLOAT | LT_META_INT)}};
static const lt_task_info emb_task = {.name = "embeddings",
                                      .main_output = "embeddings",
                                      .n_labels = 1,
                                      .labels = {LT_METADATA("id", LT_META_INT | LT_META_CATEGORY)}};

static const char *const class_names[] = {"cat", "dog", "bird"};

static lt_attach_target node(const char *node_name, const lt_task_info *task)
{
    return (lt_attach_target){
        .node_identifier = "head", .node_name = node_name, .task = task, .n_classes = 3, .class_names = class_names};
}

static lt_attached *build_cfg(lt_desc_kind kind, const lt_module_config *cfg, lt_attach_target t)
{
    return lt_attached_build(reg, kind, cfg, &t);
}

static lt_attached *build(lt_desc_kind kind, const char *name, lt_attach_target t)
{
    lt_module_config cfg = {.name = name, .weight = 1.0f};
    return build_cfg(kind, &cfg, t);
}

static lt_attached *build_ok(lt_desc_kind kind, const char *name, lt_attach_target t)
{
    lt_attached *a = build(kind, name, t);
    ck_assert_msg(a != NULL, "building %s: %s", name, lt_last_error());
    return a;
}

/* Asserts that the last error holds every needle (NULL-terminated). */
static void error_has(const char *const *needles)
{
    const char *e = lt_last_error();
    for (int i = 0; needles[i]; i++) ck_assert_msg(strstr(e, needles[i]) != NULL, "'%s' not in: %s", needles[i], e);
}
#define ERROR_HAS(...) error_has((const char *const[]){__VA_ARGS__, NULL})

static void build_fails(lt_desc_kind kind, const char *name, lt_attach_target t)
{
    lt_attached *a = build(kind, name, t);
    ck_assert_msg(a == NULL, "%s built but should have failed", name);
}

static lt_tensor *filled(float v, int ndim, const int64_t *shape) { return lt_full(ndim, shape, v); }

static lt_tensor *scalar(float v) { return lt_scalar(v); }

static lt_packet *packet_of(int n, const char *const *keys, lt_tensor *const *tensors)
{
    lt_packet *p = lt_packet_new();
    for (int i = 0; i < n; i++) ck_assert_int_eq(lt_packet_set(p, keys[i], lt_value_tensor(tensors[i])), 0);
    return p;
}

/* ---------------- predictions, targets, other names ---------------- */

START_TEST(test_predictions_and_single_target)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "ProbeLoss", node("SegHead", &seg_task));
    lt_tensor *pred = scalar(1), *feat = scalar(2), *target = scalar(3);
    lt_packet *p = packet_of(2, (const char *[]){"features", "segmentation"}, (lt_tensor *[]){feat, pred});
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "segmentation", lt_value_tensor(target));
    lt_tensor *loss = lt_attached_loss(a, p, l);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    ck_assert_float_eq(lt_item(loss), 1.0f);
    ck_assert_int_eq(probe->calls, 1);
    ck_assert_ptr_eq(probe->args[0], pred);
    ck_assert_ptr_eq(probe->args[1], target);
    ck_assert_str_eq(probe->module, "ProbeLoss");
    ck_assert_str_eq(probe->node, "head");
    ck_assert_str_eq(probe->task, "segmentation");
    ck_assert_str_eq(lt_attached_identifier(a), "ProbeLoss");
    ck_assert_int_eq(lt_attached_kind(a), LT_DESC_LOSS);
    /* the next call binds the new step's values */
    lt_tensor *pred2 = scalar(5);
    ck_assert_int_eq(lt_packet_set(p, "segmentation", lt_value_tensor(pred2)), 0);
    ck_assert_ptr_nonnull(lt_attached_loss(a, p, l));
    ck_assert_ptr_eq(probe->args[0], pred2);
    lt_attached_free(a);
}
END_TEST

START_TEST(test_prediction_aliases_pred_key_and_targets)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "AliasLoss", node("ClsHead", &cls_task));
    lt_tensor *pred = scalar(1), *aux = scalar(2), *target = scalar(3), *f0 = scalar(4), *f1 = scalar(5);
    lt_packet *p = packet_of(2, (const char *[]){"classification", "aux"}, (lt_tensor *[]){pred, aux});
    ck_assert_int_eq(lt_packet_set(p, "features", lt_value_list(2, (lt_tensor *[]){f0, f1})), 0);
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "classification", lt_value_tensor(target));
    ck_assert_msg(lt_attached_loss(a, p, l) != NULL, "%s", lt_last_error());
    ck_assert_int_eq(probe->n_args, 6);
    ck_assert_ptr_eq(probe->args[0], pred); /* preds */
    ck_assert_ptr_eq(probe->args[1], pred); /* pred */
    ck_assert_ptr_eq(probe->args[2], pred); /* prediction */
    ck_assert_ptr_eq(probe->args[3], aux);  /* pred_aux */
    const lt_tensor_list *features = probe->args[4];
    ck_assert_int_eq(features->n, 2);
    ck_assert_ptr_eq(features->items[0], f0);
    ck_assert_ptr_eq(features->items[1], f1);
    ck_assert_ptr_eq(probe->args[5], target); /* targets */
    lt_attached_free(a);
}
END_TEST

START_TEST(test_target_on_multi_label_task_fails_at_build)
{
    build_fails(LT_DESC_LOSS, "ProbeLoss", node("KptHead", &kpt_task));
    ERROR_HAS("loss 'ProbeLoss' (node 'head')", "argument 'target'", "task 'keypoints'", "more than one label",
              "boundingbox, keypoints", "use 'target_<label>'", "'target_boundingbox'", "'target_keypoints'");
    build_fails(LT_DESC_LOSS, "AliasLoss", node("KptHead", &kpt_task));
    ERROR_HAS("argument 'targets'", "target_<label>");
}
END_TEST

START_TEST(test_target_label_and_metadata)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "MetaLoss", node("DistHead", &dist_task));
    lt_tensor *boxes = scalar(1), *gt = scalar(2);
    lt_packet *p = packet_of(1, (const char *[]){"boundingbox"}, (lt_tensor *[]){boxes});
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "boundingbox", lt_value_tensor(gt));
    lt_metadata meta = {.name = "distance", .type = LT_META_FLOAT, .values = filled(7, 1, (int64_t[]){2})};
    ck_assert_int_eq(lt_labels_set_metadata(l, &meta), 0);
    ck_assert_msg(lt_attached_loss(a, p, l) != NULL, "%s", lt_last_error());
    ck_assert_ptr_eq(probe->args[0], boxes); /* main output of the custom task */
    ck_assert_ptr_eq(probe->args[1], gt);
    ck_assert_ptr_eq(probe->args[2], lt_labels_get_metadata(l, "distance"));
    ck_assert_str_eq(((const lt_metadata *)probe->args[2])->name, "distance");
    lt_attached_free(a);

    /* a metadata label must be declared LT_ARG_METADATA, and metadata never comes from predictions */
    build_fails(LT_DESC_LOSS, "MetaAsTensorLoss", node("DistHead", &dist_task));
    ERROR_HAS("MetaAsTensorLoss", "argument 'target_distance' is declared tensor", "metadata label",
              "LT_ARG_METADATA");
    build_fails(LT_DESC_LOSS, "MetaAsLabelLoss", node("DistHead", &dist_task));
    ERROR_HAS("argument 'target_boundingbox' is declared metadata", "declares 'boundingbox' a label, not metadata");
    build_fails(LT_DESC_LOSS, "MetaFromPacketLoss", node("DistHead", &dist_task));
    ERROR_HAS("argument 'distance' is declared metadata", "reads prediction 'distance'", "target_<name>");
    build_fails(LT_DESC_LOSS, "BareTargetLoss", node("SegHead", &seg_task));
    ERROR_HAS("argument 'target_' names no label");
}
END_TEST

START_TEST(test_target_wildcard_on_metadata_task)
{
    /* `target` on a task whose single label is metadata binds that metadata;
     * ProbeLoss declares it a tensor, so the kind check rejects it. */
    build_fails(LT_DESC_LOSS, "ProbeLoss", node("EmbHead", &emb_task));
    ERROR_HAS("argument 'target' is declared tensor", "metadata label 'id'", "LT_ARG_METADATA");
}
END_TEST

START_TEST(test_other_names_and_eight_arguments)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "ManyArgsLoss", node("AnyHead", NULL));
    const char *keys[] = {"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"};
    lt_tensor *t[8];
    float expected = 0;
    for (int i = 0; i < 8; i++) {
        t[i] = scalar((float)(10 * i + 1));
        expected += (float)(i + 1) * (float)(10 * i + 1);
    }
    /* packet order differs from argument order: binding is by name */
    lt_packet *p = lt_packet_new();
    for (int i = 7; i >= 0; i--) lt_packet_set(p, keys[i], lt_value_tensor(t[i]));
    lt_tensor *loss = lt_attached_loss(a, p, NULL);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    ck_assert_int_eq(probe->n_args, 8);
    for (int i = 0; i < 8; i++) ck_assert_ptr_eq(probe->args[i], t[i]);
    ck_assert_float_eq(lt_item(loss), expected);
    ck_assert_ptr_null(probe->task);
    lt_attached_free(a);
}
END_TEST

START_TEST(test_optional_arguments_get_null)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "OptionalLoss", node("SegHead", &seg_task));
    lt_tensor *pred = scalar(1), *extra = scalar(2), *label_extra = scalar(3);
    lt_packet *p = packet_of(1, (const char *[]){"segmentation"}, (lt_tensor *[]){pred});
    ck_assert_msg(lt_attached_loss(a, p, NULL) != NULL, "%s", lt_last_error());
    ck_assert_ptr_eq(probe->args[0], pred);
    ck_assert_ptr_null(probe->args[1]);
    ck_assert_ptr_null(probe->args[2]);
    /* present: passed */
    lt_packet_set(p, "extra", lt_value_tensor(extra));
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "extra", lt_value_tensor(label_extra));
    ck_assert_ptr_nonnull(lt_attached_loss(a, p, l));
    ck_assert_ptr_eq(probe->args[1], extra);
    ck_assert_ptr_eq(probe->args[2], label_extra);
    lt_attached_free(a);
}
END_TEST

START_TEST(test_missing_required_lists_available_keys)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "ProbeLoss", node("SegHead", &seg_task));
    lt_packet *p = packet_of(2, (const char *[]){"features", "aux"}, (lt_tensor *[]){scalar(1), scalar(2)});
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "segmentation", lt_value_tensor(scalar(3)));
    lt_labels_set(l, "boundingbox", lt_value_tensor(scalar(4)));
    ck_assert_ptr_null(lt_attached_loss(a, p, l));
    ERROR_HAS("loss 'ProbeLoss' (node 'head')", "argument 'predictions'", "requires prediction 'segmentation'",
              "not present in the predictions of node 'head'", "Available predictions: features, aux",
              "available labels: segmentation, boundingbox");
    ck_assert_int_eq(probe->calls, 0);

    /* a missing label, with metadata listed as luxonis-train names it */
    lt_packet_set(p, "segmentation", lt_value_tensor(scalar(5)));
    lt_labels *l2 = lt_labels_new();
    lt_labels_set(l2, "boundingbox", lt_value_tensor(scalar(4)));
    lt_metadata meta = {.name = "distance", .type = LT_META_FLOAT, .values = filled(1, 1, (int64_t[]){2})};
    lt_labels_set_metadata(l2, &meta);
    ck_assert_ptr_null(lt_attached_loss(a, p, l2));
    ERROR_HAS("argument 'target'", "requires label 'segmentation'", "not present in the labels",
              "Available predictions: features, aux, segmentation", "boundingbox, metadata/distance");
    /* no labels at all */
    ck_assert_ptr_null(lt_attached_loss(a, p, NULL));
    ERROR_HAS("requires label 'segmentation'", "available labels: (none)");
    lt_attached_free(a);

    /* a missing metadata label */
    a = build_ok(LT_DESC_LOSS, "MetaLoss", node("DistHead", &dist_task));
    lt_packet *pb = packet_of(1, (const char *[]){"boundingbox"}, (lt_tensor *[]){scalar(1)});
    ck_assert_ptr_null(lt_attached_loss(a, pb, l));
    ERROR_HAS("argument 'target_distance'", "requires metadata label 'distance'");
    lt_attached_free(a);
}
END_TEST

START_TEST(test_kind_mismatch)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "ListLoss", node("AnyHead", NULL));
    lt_packet *p = packet_of(1, (const char *[]){"features"}, (lt_tensor *[]){scalar(1)});
    ck_assert_ptr_null(lt_attached_loss(a, p, NULL));
    ERROR_HAS("loss 'ListLoss'", "argument 'features' must be a list", "prediction 'features' is a tensor");
    lt_packet_set(p, "features", lt_value_list(1, (lt_tensor *[]){scalar(2)}));
    lt_tensor *loss = lt_attached_loss(a, p, NULL);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    ck_assert_float_eq(lt_item(loss), 1.0f);
    lt_attached_free(a);

    a = build_ok(LT_DESC_LOSS, "ProbeLoss", node("SegHead", &seg_task));
    lt_packet *q = lt_packet_new();
    lt_packet_set(q, "segmentation", lt_value_list(1, (lt_tensor *[]){scalar(2)}));
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "segmentation", lt_value_tensor(scalar(3)));
    ck_assert_ptr_null(lt_attached_loss(a, q, l));
    ERROR_HAS("argument 'predictions' must be a tensor", "prediction 'segmentation' is a list");
    /* labels are kind-checked too */
    lt_packet_set(q, "segmentation", lt_value_tensor(scalar(2)));
    lt_labels_set(l, "segmentation", lt_value_list(1, (lt_tensor *[]){scalar(2)}));
    ck_assert_ptr_null(lt_attached_loss(a, q, l));
    ERROR_HAS("argument 'target' must be a tensor", "label 'segmentation' is a list");
    lt_attached_free(a);
}
END_TEST

START_TEST(test_bad_declarations)
{
    build_fails(LT_DESC_LOSS, "DupLoss", node("AnyHead", NULL));
    ERROR_HAS("loss 'DupLoss'", "argument 'features' is declared twice");
    build_fails(LT_DESC_LOSS, "CanvasLoss", node("SegHead", &seg_task));
    ERROR_HAS("argument 'prediction_canvas'", "only to visualizers");
    /* names that need a task on a node without one */
    build_fails(LT_DESC_LOSS, "ProbeLoss", node("Backbone", NULL));
    ERROR_HAS("argument 'predictions' reads the task's main output", "node 'head' has no task");
    /* unknown names get "did you mean" from the registry, with the config location */
    lt_module_config cfg = {.name = "ProbeLos", .weight = 1.0f, .where = "cfg.yaml:3:7: model.nodes[0].losses[0]"};
    ck_assert_ptr_null(build_cfg(LT_DESC_LOSS, &cfg, node("SegHead", &seg_task)));
    ERROR_HAS("cfg.yaml:3:7: model.nodes[0].losses[0]", "unknown loss 'ProbeLos'", "did you mean", "'ProbeLoss'");
    /* build errors carry the config location */
    cfg.name = "ProbeLoss";
    ck_assert_ptr_null(build_cfg(LT_DESC_LOSS, &cfg, node("KptHead", &kpt_task)));
    ERROR_HAS("cfg.yaml:3:7: model.nodes[0].losses[0]: loss 'ProbeLoss' (node 'head'): argument 'target'");
    /* a metric name is not a loss name */
    build_fails(LT_DESC_LOSS, "CountMetric", node("SegHead", &seg_task));
    ERROR_HAS("unknown loss 'CountMetric'");
}
END_TEST

START_TEST(test_raw_hooks_bypass_binding)
{
    lt_attached *a = build_ok(LT_DESC_LOSS, "RawLoss", node("KptHead", &kpt_task));
    lt_packet *p = packet_of(2, (const char *[]){"x", "y"}, (lt_tensor *[]){scalar(1), scalar(2)});
    lt_labels *l = lt_labels_new();
    lt_tensor *loss = lt_attached_loss(a, p, l);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    ck_assert_float_eq(lt_item(loss), 2.0f);
    ck_assert_ptr_eq(probe->args[0], p);
    ck_assert_ptr_eq(probe->args[1], l);
    lt_attached_free(a);

    lt_attached *m = build_ok(LT_DESC_METRIC, "RawMetric", node("KptHead", &kpt_task));
    ck_assert_int_eq(lt_attached_metric_update(m, p, l), 0);
    ck_assert_ptr_eq(probe->args[0], p);
    ck_assert_ptr_eq(probe->args[1], l);
    lt_attached_free(m);
}
END_TEST

/* ---------------- tasks and nodes ---------------- */

START_TEST(test_supported_tasks_and_node)
{
    build_fails(LT_DESC_LOSS, "SegOnlyLoss", node("SegHead", &cls_task));
    ERROR_HAS("loss 'SegOnlyLoss' (node 'head')", "task 'classification' of node 'head' is not supported",
              "supports: segmentation");
    build_fails(LT_DESC_LOSS, "SegOnlyLoss", node("OtherHead", &seg_task));
    ERROR_HAS("loss 'SegOnlyLoss'", "works only with node 'SegHead'", "attached to 'OtherHead'");

    /* a node without a task lends the module its only supported task */
    lt_attached *a = build_ok(LT_DESC_LOSS, "SegOnlyLoss", node("SegHead", NULL));
    lt_tensor *pred = scalar(1), *target = scalar(2);
    lt_packet *p = packet_of(1, (const char *[]){"segmentation"}, (lt_tensor *[]){pred});
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "segmentation", lt_value_tensor(target));
    ck_assert_msg(lt_attached_loss(a, p, l) != NULL, "%s", lt_last_error());
    ck_assert_str_eq(probe->task, "segmentation");
    ck_assert_ptr_eq(probe->args[0], pred);
    ck_assert_ptr_eq(probe->args[1], target);
    lt_attached_free(a);

    /* ...but not one of several */
    build_fails(LT_DESC_LOSS, "TwoTaskLoss", node("Backbone", NULL));
    ERROR_HAS("node 'head' has no task", "supports several tasks (segmentation, classification)");
    a = build_ok(LT_DESC_LOSS, "TwoTaskLoss", node("ClsHead", &cls_task));
    lt_attached_free(a);
}
END_TEST

/* ---------------- losses ---------------- */

START_TEST(test_loss_results)
{
    lt_tensor *pred = filled(1, 2, (int64_t[]){2, 3});
    lt_packet *p = packet_of(1, (const char *[]){"segmentation"}, (lt_tensor *[]){pred});

    lt_attached *a = build_ok(LT_DESC_LOSS, "NonScalarLoss", node("SegHead", &seg_task));
    ck_assert_ptr_null(lt_attached_loss(a, p, NULL));
    ERROR_HAS("loss 'NonScalarLoss'", "float32 tensor of shape [2,3]", "must be a float32 scalar");
    lt_attached_free(a);

    a = build_ok(LT_DESC_LOSS, "FailLoss", node("SegHead", &seg_task));
    ck_assert_ptr_null(lt_attached_loss(a, p, NULL));
    ERROR_HAS("loss 'FailLoss' (node 'head'): forward failed: boom: predictions look wrong");
    lt_attached_free(a);

    lt_module_config cfg = {.name = "SubLoss", .alias = "my_sub", .weight = 0.25f};
    a = build_cfg(LT_DESC_LOSS, &cfg, node("SegHead", &seg_task));
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(lt_attached_identifier(a), "my_sub");
    ck_assert_float_eq(lt_attached_weight(a), 0.25f);
    for (int round = 0; round < 2; round++) {
        lt_tensor *loss = lt_attached_loss(a, p, NULL);
        ck_assert_msg(loss != NULL, "%s", lt_last_error());
        ck_assert_float_eq(lt_item(loss), 3.0f);
        ck_assert_int_eq(lt_attached_n_sublosses(a), 2); /* not accumulated across calls */
        ck_assert_str_eq(lt_attached_subloss_name(a, 0), "a");
        ck_assert_str_eq(lt_attached_subloss_name(a, 1), "b");
        ck_assert_float_eq(lt_item(lt_attached_subloss(a, 0)), 1.0f);
        ck_assert_float_eq(lt_item(lt_attached_subloss(a, 1)), 2.0f);
        ck_assert_ptr_null(lt_attached_subloss_name(a, 2));
    }
    ck_assert_str_eq(probe->module, "my_sub");
    lt_attached_free(a);
}
END_TEST

static lt_cfg *params_map(int n, const char *const *keys, const char *const *values)
{
    lt_cfg *map = lt_cfg_new(LT_CFG_MAP);
    for (int i = 0; i < n; i++) lt_cfg_set(map, keys[i], lt_cfg_new_scalar(values[i], false));
    return map;
}

START_TEST(test_params_and_init)
{
    lt_cfg *params = params_map(4, (const char *[]){"n", "f", "b", "s"}, (const char *[]){"7", "0.5", "true", "hi"});
    lt_cfg *fs = lt_cfg_new(LT_CFG_LIST);
    lt_cfg_append(fs, lt_cfg_new_scalar("1.5", false));
    lt_cfg_append(fs, lt_cfg_new_scalar("2", false));
    lt_cfg_set(params, "fs", fs);
    lt_module_config cfg = {.name = "ParamLoss", .params = params, .weight = 1.0f};
    lt_attached *a = build_cfg(LT_DESC_LOSS, &cfg, node("SegHead", &seg_task));
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    ck_assert_int_eq(probe->p_int, 7);
    ck_assert_double_eq(probe->p_float, 0.5);
    ck_assert(probe->p_bool);
    ck_assert_str_eq(probe->p_str, "hi");
    ck_assert_int_eq(probe->n_floats, 2);
    ck_assert_double_eq(probe->p_floats[0], 1.5);
    ck_assert_double_eq(probe->p_floats[1], 2.0);
    lt_attached_free(a);

    /* defaults when absent */
    cfg.params = NULL;
    a = build_cfg(LT_DESC_LOSS, &cfg, node("SegHead", &seg_task));
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(probe->p_int, -1);
    ck_assert_str_eq(probe->p_str, "default");
    ck_assert_int_eq(probe->n_floats, -1);
    lt_attached_free(a);

    /* a present param of the wrong type fails the build, naming module and key */
    lt_cfg_set(params, "n", lt_cfg_new_scalar("ten", false));
    cfg.params = params;
    ck_assert_ptr_null(build_cfg(LT_DESC_LOSS, &cfg, node("SegHead", &seg_task)));
    ERROR_HAS("loss 'ParamLoss' (node 'head') params.n", "expected an integer", "ten");
    lt_cfg_free(params);

    build_fails(LT_DESC_LOSS, "FailInitLoss", node("SegHead", &seg_task));
    ERROR_HAS("loss 'FailInitLoss' (node 'head'): init failed: params.alpha is required");
}
END_TEST

/* ---------------- metrics ---------------- */

START_TEST(test_metric_states_update_compute_reset)
{
    lt_module_config cfg = {.name = "CountMetric", .is_main_metric = true};
    lt_attached *a = build_cfg(LT_DESC_METRIC, &cfg, node("SegHead", &seg_task));
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    ck_assert(lt_attached_is_main_metric(a));

    /* specs resolved: default reduces, -1 = n_classes */
    ck_assert_int_eq(lt_attached_n_states(a), 3);
    const lt_state_spec *total = lt_attached_state_spec(a, 0), *per_class = lt_attached_state_spec(a, 1);
    const lt_state_spec *seen = lt_attached_state_spec(a, 2);
    ck_assert_str_eq(total->name, "total");
    ck_assert_int_eq(total->reduce, LT_REDUCE_SUM);
    ck_assert_int_eq(per_class->ndim, 1);
    ck_assert_int_eq(per_class->shape[0], 3);
    ck_assert_int_eq(per_class->reduce, LT_REDUCE_MAX);
    ck_assert_int_eq(seen->kind, LT_STATE_LIST);
    ck_assert_int_eq(seen->reduce, LT_REDUCE_CAT);
    ck_assert_ptr_null(lt_attached_state_spec(a, 3));

    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "segmentation", lt_value_tensor(scalar(0)));
    for (int step = 0; step < 2; step++) {
        lt_tensor *pred = filled((float)(step + 10), 2, (int64_t[]){2, 2});
        lt_packet *p = packet_of(1, (const char *[]){"segmentation"}, (lt_tensor *[]){pred});
        ck_assert_msg(lt_attached_metric_update(a, p, l) == 0, "%s", lt_last_error());
        lt_ctx_reset(ctx); /* list states own copies: they survive the step */
        l = lt_labels_new();
        lt_labels_set(l, "segmentation", lt_value_tensor(scalar(0)));
    }
    const lt_metric_result *r = NULL;
    ck_assert_msg(lt_attached_metric_compute(a, &r) == 0, "%s", lt_last_error());
    ck_assert(lt_metric_result_has_main(r));
    ck_assert_float_eq(lt_metric_result_main(r), 8.0f);
    ck_assert_int_eq(lt_metric_result_count(r), 3);
    ck_assert_str_eq(lt_metric_result_name(r, 0), "n_seen");
    ck_assert_float_eq(lt_metric_result_value(r, 0), 2.0f);
    ck_assert_str_eq(lt_metric_result_name(r, 1), "first_seen");
    ck_assert_float_eq(lt_metric_result_value(r, 1), 10.0f);
    ck_assert_str_eq(lt_metric_result_name(r, 2), "per_class");
    ck_assert(isnan(lt_metric_result_value(r, 2))); /* a matrix, not a scalar */
    const lt_tensor *pc = lt_metric_result_tensor(r, 2);
    ck_assert_ptr_nonnull(pc);
    ck_assert_int_eq(pc->numel, 3);
    for (int i = 0; i < 3; i++) ck_assert_float_eq(lt_f32(pc)[i], 3.0f); /* default 1 + two updates */
    ck_assert_ptr_null(lt_metric_result_name(r, 3));

    lt_attached_metric_reset(a);
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), 0);
    ck_assert_float_eq(lt_metric_result_main(r), 0.0f);
    ck_assert_float_eq(lt_metric_result_value(r, 0), 0.0f);
    ck_assert_float_eq(lt_metric_result_value(r, 1), -1.0f);
    for (int i = 0; i < 3; i++) ck_assert_float_eq(lt_f32(lt_metric_result_tensor(r, 2))[i], 1.0f);
    lt_attached_free(a);
}
END_TEST

START_TEST(test_metric_state_errors)
{
    lt_attach_target t = node("SegHead", &seg_task);
    t.n_classes = 0;
    build_fails(LT_DESC_METRIC, "CountMetric", t);
    ERROR_HAS("metric 'CountMetric' (node 'head')", "state 'per_class'", "-1 (n_classes)", "no classes");
    /* the state accessors name the module, the state and what to use instead */
    lt_attached *a = build_ok(LT_DESC_METRIC, "MisuseMetric", node("SegHead", &seg_task));
    lt_packet *p = packet_of(1, (const char *[]){"segmentation"}, (lt_tensor *[]){scalar(1)});
    ck_assert_int_eq(lt_attached_metric_update(a, p, NULL), -1);
    ERROR_HAS("metric 'MisuseMetric' (node 'head'): update failed: lt_metric_state:", "state 'seen' is a list state",
              "use lt_metric_state_list");
    const lt_metric_result *r;
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), -1);
    ERROR_HAS("compute failed: lt_metric_state_list:", "has no state 'totl' (states: total, seen)");
    lt_attached_free(a);
    build_fails(LT_DESC_METRIC, "BadStateMetric", node("SegHead", &seg_task));
    ERROR_HAS("metric 'BadStateMetric'", "list state 'boxes'", "reduced by cat");
}
END_TEST

START_TEST(test_dict_only_metric_cannot_be_main)
{
    lt_packet *p = packet_of(1, (const char *[]){"segmentation"}, (lt_tensor *[]){scalar(1)});
    lt_attached *a = build_ok(LT_DESC_METRIC, "DictMetric", node("SegHead", &seg_task));
    ck_assert_int_eq(lt_attached_metric_update(a, p, NULL), 0);
    const lt_metric_result *r = NULL;
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), 0);
    ck_assert(!lt_metric_result_has_main(r));
    ck_assert(isnan(lt_metric_result_main(r)));
    ck_assert_int_eq(lt_metric_result_count(r), 2);
    ck_assert_float_eq(lt_metric_result_value(r, 1), 2.0f);
    lt_attached_free(a);

    lt_module_config cfg = {.name = "DictMetric", .alias = "dict", .is_main_metric = true};
    a = build_cfg(LT_DESC_METRIC, &cfg, node("SegHead", &seg_task));
    ck_assert_ptr_nonnull(a); /* known only at the first compute */
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), -1);
    ERROR_HAS("metric 'dict' (node 'head')", "is the main metric", "only sub-metrics (a, b)",
              "cannot be the main metric");
    lt_attached_free(a);

    a = build_ok(LT_DESC_METRIC, "EmptyMetric", node("SegHead", &seg_task));
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), -1);
    ERROR_HAS("metric 'EmptyMetric'", "compute set no value");
    lt_attached_free(a);

    a = build_ok(LT_DESC_METRIC, "FailingMetric", node("SegHead", &seg_task));
    ck_assert_int_eq(lt_attached_metric_update(a, p, NULL), -1);
    ERROR_HAS("metric 'FailingMetric' (node 'head'): update failed: update saw NaN");
    lt_attached_free(a);
}
END_TEST

/* ---------------- visualizers ---------------- */

static lt_tensor *canvas(int64_t b, int64_t h, int64_t w) { return lt_zeros(LT_U8, 4, (int64_t[]){b, 3, h, w}); }

START_TEST(test_visualizer_single_and_pair)
{
    lt_attached *a = build_ok(LT_DESC_VISUALIZER, "ProbeVisualizer", node("BoxHead", &bbox_task));
    lt_tensor *pc = canvas(1, 4, 4), *tc = canvas(1, 4, 4), *pred = scalar(1), *target = scalar(2);
    lt_packet *p = packet_of(1, (const char *[]){"boundingbox"}, (lt_tensor *[]){pred});
    ck_assert_int_eq(lt_attached_visualize(a, pc, tc, p, NULL), LT_VIS_PREDICTION);
    ck_assert_ptr_eq(probe->args[0], pc);
    ck_assert_ptr_eq(probe->args[1], tc);
    ck_assert_ptr_eq(probe->args[2], pred);
    ck_assert_ptr_null(probe->args[3]);
    ck_assert_int_eq(lt_u8(pc)[0], 255);
    ck_assert_int_eq(lt_u8(tc)[0], 0);

    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "boundingbox", lt_value_tensor(target));
    ck_assert_int_eq(lt_attached_visualize(a, pc, tc, p, l), LT_VIS_PAIR);
    ck_assert_ptr_eq(probe->args[3], target);
    ck_assert_int_eq(lt_u8(tc)[0], 128);

    /* canvases are checked */
    ck_assert_int_eq(lt_attached_visualize(a, filled(0, 4, (int64_t[]){1, 3, 4, 4}), tc, p, l), LT_VIS_ERROR);
    ERROR_HAS("visualizer 'ProbeVisualizer'", "prediction_canvas must be uint8 [B,3,H,W]", "float32 [1,3,4,4]");
    ck_assert_int_eq(lt_attached_visualize(a, pc, canvas(1, 4, 5), p, l), LT_VIS_ERROR);
    ERROR_HAS("differ in shape");
    lt_attached_free(a);

    a = build_ok(LT_DESC_VISUALIZER, "BadVisualizer", node("BoxHead", &bbox_task));
    ck_assert_int_eq(lt_attached_visualize(a, pc, tc, p, NULL), LT_VIS_ERROR);
    ERROR_HAS("visualizer 'BadVisualizer'", "returned 7", "LT_VIS_PREDICTION (1)", "LT_VIS_PAIR (2)");
    lt_attached_free(a);

    /* a canvas named in args is bound to the canvas */
    a = build_ok(LT_DESC_VISUALIZER, "CanvasVisualizer", node("BoxHead", &bbox_task));
    ck_assert_int_eq(lt_attached_visualize(a, pc, tc, p, NULL), LT_VIS_PREDICTION);
    ck_assert_ptr_eq(probe->args[2], pc);
    ck_assert_ptr_eq(probe->args[3], pred);
    lt_attached_free(a);

    /* kinds are separate namespaces: a loss API call on a visualizer fails */
    a = build_ok(LT_DESC_VISUALIZER, "ProbeVisualizer", node("BoxHead", &bbox_task));
    ck_assert_ptr_null(lt_attached_loss(a, p, NULL));
    ERROR_HAS("is not a loss");
    lt_attached_free(a);
}
END_TEST

/* ---------------- example plugins ---------------- */

START_TEST(test_example_bce_loss)
{
    lt_tensor *x = lt_tensor_new(LT_F32, 4, (int64_t[]){2, 3, 4, 5});
    lt_tensor *y = lt_tensor_new(LT_F32, 4, (int64_t[]){2, 3, 4, 5});
    fx_fill_uniform(x, 1, -3, 3);
    fx_fill_uniform(y, 2, 0, 1);
    lt_packet *p = packet_of(1, (const char *[]){"segmentation"}, (lt_tensor *[]){x});
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "segmentation", lt_value_tensor(y));

    lt_attached *a = build_ok(LT_DESC_LOSS, "ExampleBCEWithLogitsLoss", node("SegHead", &seg_task));
    lt_tensor *loss = lt_attached_loss(a, p, l);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    ck_assert_float_eq(lt_item(loss), lt_item(lt_bce_with_logits(x, y, NULL, NULL, LT_REDUCTION_MEAN)));
    lt_attached_free(a);

    /* params: sum reduction and pos_weight broadcast along the last dimension, as PyTorch */
    lt_cfg *params = params_map(1, (const char *[]){"reduction"}, (const char *[]){"sum"});
    lt_cfg *pw = lt_cfg_new(LT_CFG_LIST);
    const float pos_weight[5] = {0.5f, 1, 2, 3, 4};
    const char *pw_text[5] = {"0.5", "1", "2", "3", "4"};
    for (int i = 0; i < 5; i++) lt_cfg_append(pw, lt_cfg_new_scalar(pw_text[i], false));
    lt_cfg_set(params, "pos_weight", pw);
    lt_module_config cfg = {.name = "ExampleBCEWithLogitsLoss", .params = params, .weight = 1.0f};
    a = build_cfg(LT_DESC_LOSS, &cfg, node("ClsHead", &cls_task));
    ck_assert_msg(a != NULL, "%s", lt_last_error());
    lt_packet *pc = packet_of(1, (const char *[]){"classification"}, (lt_tensor *[]){x});
    lt_labels *lc = lt_labels_new();
    lt_labels_set(lc, "classification", lt_value_tensor(y));
    loss = lt_attached_loss(a, pc, lc);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    lt_tensor *want = lt_bce_with_logits(x, y, NULL, lt_from_data(LT_F32, 1, (int64_t[]){5}, pos_weight),
                                         LT_REDUCTION_SUM);
    ck_assert_float_eq(lt_item(loss), lt_item(want));
    lt_attached_free(a);

    /* "none" is no scalar; bounding boxes are not its task */
    lt_cfg_set(params, "reduction", lt_cfg_new_scalar("none", false));
    ck_assert_ptr_null(build_cfg(LT_DESC_LOSS, &cfg, node("SegHead", &seg_task)));
    ERROR_HAS("loss 'ExampleBCEWithLogitsLoss'", "init failed", "params.reduction must be 'mean' or 'sum'");
    lt_cfg_free(params);
    build_fails(LT_DESC_LOSS, "ExampleBCEWithLogitsLoss", node("BoxHead", &bbox_task));
    ERROR_HAS("task 'boundingbox'", "supports: segmentation, classification");

    /* shape errors come from the SDK op, behind the module's name */
    a = build_ok(LT_DESC_LOSS, "ExampleBCEWithLogitsLoss", node("SegHead", &seg_task));
    lt_labels_set(l, "segmentation", lt_value_tensor(filled(0, 2, (int64_t[]){2, 3})));
    ck_assert_ptr_null(lt_attached_loss(a, p, l));
    ERROR_HAS("loss 'ExampleBCEWithLogitsLoss' (node 'head'): forward failed", "[2,3,4,5]", "[2,3]");
    lt_attached_free(a);
    lt_tensor_free(x);
    lt_tensor_free(y);
}
END_TEST

/* The example InstanceKeypointsLoss on two feature levels (4x4 and 2x2:
 * 20 anchors), 2 classes, 1 keypoint, 2 images with one object each. */
typedef struct ikl_case {
    lt_attached *loss;
    lt_tensor *features[2];
    lt_tensor *boxes, *kpts;
} ikl_case;

static lt_tensor *ikl_call(lt_tensor **in, void *user)
{
    ikl_case *c = user;
    lt_packet *p = packet_of(3, (const char *[]){"class_scores", "distributions", "keypoints_raw"}, in);
    lt_packet_set(p, "features", lt_value_list(2, c->features));
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "boundingbox", lt_value_tensor(c->boxes));
    lt_labels_set(l, "keypoints", lt_value_tensor(c->kpts));
    lt_tensor *loss = lt_attached_loss(c->loss, p, l);
    ck_assert_msg(loss != NULL, "%s", lt_last_error());
    return loss;
}

static double bce_ref(double x, double t) { return fmax(x, 0) - x * t + log1p(exp(-fabs(x))); }

START_TEST(test_example_instance_keypoints_loss)
{
    build_fails(LT_DESC_LOSS, "InstanceKeypointsLoss", node("SegHead", &kpt_task));
    ERROR_HAS("works only with node 'EfficientKeypointBBoxHead'");
    build_fails(LT_DESC_LOSS, "InstanceKeypointsLoss", node("EfficientKeypointBBoxHead", &seg_task));
    ERROR_HAS("supports: keypoints");

    lt_attach_target head = node("EfficientKeypointBBoxHead", &kpt_task);
    ikl_case c = {.loss = build_ok(LT_DESC_LOSS, "InstanceKeypointsLoss", head)};
    c.features[0] = lt_zeros(LT_F32, 4, (int64_t[]){2, 1, 4, 4});
    c.features[1] = lt_zeros(LT_F32, 4, (int64_t[]){2, 1, 2, 2});
    const float boxes[2][6] = {{0, 1, 0.1f, 0.1f, 0.2f, 0.2f}, {1, 0, 0.5f, 0.25f, 0.4f, 0.5f}};
    const float kpts[2][4] = {{0, 0.2f, 0.15f, 2}, {1, 0.6f, 0.55f, 0}};
    c.boxes = lt_from_data(LT_F32, 2, (int64_t[]){2, 6}, boxes);
    c.kpts = lt_from_data(LT_F32, 2, (int64_t[]){2, 4}, kpts);
    lt_tensor *in[3] = {lt_tensor_new(LT_F32, 3, (int64_t[]){2, 20, 2}),
                        lt_tensor_new(LT_F32, 3, (int64_t[]){2, 20, 4}),
                        lt_tensor_new(LT_F32, 3, (int64_t[]){2, 20, 3})};
    for (int i = 0; i < 3; i++) fx_fill_uniform(in[i], 10 + (uint64_t)i, -1, 1);
    lt_tensor *loss = ikl_call(in, &c);

    /* reference, by hand: positives are (image, anchor, class, anchor centre) */
    const struct { int b, a, cls; double ax, ay; int box; } pos[4] = {
        {0, 0, 1, 0.125, 0.125, 0}, {0, 16, 1, 0.25, 0.25, 0}, {1, 10, 0, 0.625, 0.625, 1}, {1, 19, 0, 0.75, 0.75, 1}};
    const float *cs = lt_f32(in[0]), *ds = lt_f32(in[1]), *ks = lt_f32(in[2]);
    double cls = 0, bbox = 0, regr = 0, vis = 0;
    for (int b = 0; b < 2; b++)
        for (int a = 0; a < 20; a++)
            for (int k = 0; k < 2; k++) {
                bool positive = false;
                for (int i = 0; i < 4; i++) positive |= pos[i].b == b && pos[i].a == a && pos[i].cls == k;
                cls += bce_ref(cs[(b * 20 + a) * 2 + k], positive);
            }
    cls /= 4;
    for (int i = 0; i < 4; i++) {
        const float *bx = boxes[pos[i].box], *kp = kpts[pos[i].box];
        const float *d = ds + (pos[i].b * 20 + pos[i].a) * 4, *k = ks + (pos[i].b * 20 + pos[i].a) * 3;
        double t[4] = {bx[2] + bx[4] / 2 - pos[i].ax, bx[3] + bx[5] / 2 - pos[i].ay, bx[4], bx[5]};
        for (int j = 0; j < 4; j++) bbox += fabs(d[j] - t[j]) / 16;
        bool visible = kp[3] > 0;
        if (visible) regr += (fabs(k[0] - (kp[1] - pos[i].ax)) + fabs(k[1] - (kp[2] - pos[i].ay))) / 4;
        vis += bce_ref(k[2], visible) / 4;
    }
    const double want[4] = {cls, bbox, regr, vis};
    const char *names[4] = {"class", "bbox", "regression", "visibility"};
    ck_assert_int_eq(lt_attached_n_sublosses(c.loss), 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(lt_attached_subloss_name(c.loss, i), names[i]);
        ck_assert_msg(fabs(lt_item(lt_attached_subloss(c.loss, i)) - want[i]) <= 1e-5 * (1 + fabs(want[i])),
                      "%s: %g vs %g", names[i], (double)lt_item(lt_attached_subloss(c.loss, i)), want[i]);
    }
    double total = cls + bbox + regr + vis;
    ck_assert_msg(fabs(lt_item(loss) - total) <= 1e-5 * (1 + total), "%g vs %g", (double)lt_item(loss), total);

    /* differentiable with respect to all three prediction tensors */
    for (int i = 0; i < 3; i++) lt_tensor_set_requires_grad(in[i], true);
    fx_gradcheck("InstanceKeypointsLoss", ikl_call, &c, in, 3, 1e-3f, 2e-2f, 40);

    /* bad shapes name the argument and both layouts */
    lt_tensor *bad[3] = {in[0], lt_zeros(LT_F32, 3, (int64_t[]){2, 19, 4}), in[2]};
    lt_packet *p = packet_of(3, (const char *[]){"class_scores", "distributions", "keypoints_raw"}, bad);
    lt_packet_set(p, "features", lt_value_list(2, c.features));
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "boundingbox", lt_value_tensor(c.boxes));
    lt_labels_set(l, "keypoints", lt_value_tensor(c.kpts));
    ck_assert_ptr_null(lt_attached_loss(c.loss, p, l));
    ERROR_HAS("loss 'InstanceKeypointsLoss'", "distributions is [2,19,4]", "[B,A,4] = [2,20,4]");
    lt_attached_free(c.loss);
    for (int i = 0; i < 3; i++) lt_tensor_free(in[i]);
}
END_TEST

START_TEST(test_example_my_metric)
{
    lt_attached *a = build_ok(LT_DESC_METRIC, "MyMetric", node("ClsHead", &cls_task));
    ck_assert_int_eq(lt_attached_n_states(a), 3);
    /* logits > 0 are positive (threshold 0.5); targets > 0.5 */
    const float x1[6] = {2, -1, 3, -2, 1, 0.5f}, y1[6] = {1, 0, 0, 1, 1, 0};   /* tp 2, fp 2, pos 3 */
    const float x2[6] = {-3, -1, 4, 2, -2, -1}, y2[6] = {1, 0, 1, 1, 0, 0};    /* tp 2, fp 0, pos 3 */
    const float *xs[2] = {x1, x2}, *ys[2] = {y1, y2};
    for (int s = 0; s < 2; s++) {
        lt_tensor *x = lt_from_data(LT_F32, 2, (int64_t[]){2, 3}, xs[s]);
        lt_tensor *y = lt_from_data(LT_F32, 2, (int64_t[]){2, 3}, ys[s]);
        lt_packet *p = packet_of(1, (const char *[]){"classification"}, (lt_tensor *[]){x});
        lt_labels *l = lt_labels_new();
        lt_labels_set(l, "classification", lt_value_tensor(y));
        ck_assert_msg(lt_attached_metric_update(a, p, l) == 0, "%s", lt_last_error());
    }
    const lt_metric_result *r;
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), 0);
    const float precision = 4.0f / 6.0f, recall = 4.0f / 6.0f;
    ck_assert_float_eq_tol(lt_metric_result_main(r), 2 * precision * recall / (precision + recall), 1e-6);
    ck_assert_str_eq(lt_metric_result_name(r, 0), "precision");
    ck_assert_float_eq_tol(lt_metric_result_value(r, 0), precision, 1e-6);
    ck_assert_str_eq(lt_metric_result_name(r, 1), "recall");
    ck_assert_float_eq_tol(lt_metric_result_value(r, 1), recall, 1e-6);
    lt_attached_metric_reset(a);
    ck_assert_int_eq(lt_attached_metric_compute(a, &r), 0);
    ck_assert_float_eq(lt_metric_result_main(r), 0.0f); /* zero_division = 0 */
    lt_attached_free(a);
}
END_TEST

static const uint8_t *pixel(const lt_tensor *c, int64_t b, int64_t y, int64_t x, uint8_t out[3])
{
    const int64_t H = c->shape[2], W = c->shape[3];
    for (int ch = 0; ch < 3; ch++) out[ch] = lt_u8(c)[((b * 3 + ch) * H + y) * W + x];
    return out;
}

START_TEST(test_example_bbox_visualizer)
{
    lt_attached *a = build_ok(LT_DESC_VISUALIZER, "BBoxVisualizer", node("BoxHead", &bbox_task));
    lt_tensor *pc = canvas(2, 10, 10), *tc = canvas(2, 10, 10);
    const float det0[6] = {1, 2, 5, 6, 0.9f, 0};
    lt_tensor *preds[2] = {lt_from_data(LT_F32, 2, (int64_t[]){1, 6}, det0), lt_zeros(LT_F32, 2, (int64_t[]){0, 6})};
    lt_packet *p = lt_packet_new();
    lt_packet_set(p, "boundingbox", lt_value_list(2, preds));
    ck_assert_msg(lt_attached_visualize(a, pc, tc, p, NULL) == LT_VIS_PREDICTION, "%s", lt_last_error());
    uint8_t px[3];
    ck_assert_int_eq(pixel(pc, 0, 2, 1, px)[0], 255); /* corner, class 0 colour (255,56,56) */
    ck_assert_int_eq(px[1], 56);
    ck_assert_int_eq(pixel(pc, 0, 6, 5, px)[0], 255);
    ck_assert_int_eq(pixel(pc, 0, 4, 3, px)[0], 0); /* inside: untouched */
    ck_assert_int_eq(pixel(pc, 1, 2, 1, px)[0], 0); /* image 1 has no boxes */
    for (int64_t i = 0; i < tc->numel; i++) ck_assert_int_eq(lt_u8(tc)[i], 0);

    /* with a target: both canvases (target box on image 1, class 1: green) */
    const float gt[6] = {1, 1, 0.2f, 0.3f, 0.5f, 0.4f};
    lt_labels *l = lt_labels_new();
    lt_labels_set(l, "boundingbox", lt_value_tensor(lt_from_data(LT_F32, 2, (int64_t[]){1, 6}, gt)));
    ck_assert_msg(lt_attached_visualize(a, pc, tc, p, l) == LT_VIS_PAIR, "%s", lt_last_error());
    ck_assert_int_eq(pixel(tc, 1, 3, 2, px)[1], 255);
    ck_assert_int_eq(px[0], 56);
    ck_assert_int_eq(pixel(tc, 1, 6, 6, px)[1], 255); /* x 2..6, y 3..6 */
    ck_assert_int_eq(pixel(tc, 1, 4, 4, px)[1], 0);
    ck_assert_int_eq(pixel(tc, 0, 3, 2, px)[1], 0);

    /* a list of the wrong length is the plugin's error, behind the module's name */
    lt_packet_set(p, "boundingbox", lt_value_list(1, preds));
    ck_assert_int_eq(lt_attached_visualize(a, pc, tc, p, NULL), LT_VIS_ERROR);
    ERROR_HAS("visualizer 'BBoxVisualizer'", "predictions holds boxes for 1 images but the canvas has 2");
    lt_attached_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("binding");
    TCase *tc = tcase_create("binding");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_predictions_and_single_target);
    tcase_add_test(tc, test_prediction_aliases_pred_key_and_targets);
    tcase_add_test(tc, test_target_on_multi_label_task_fails_at_build);
    tcase_add_test(tc, test_target_label_and_metadata);
    tcase_add_test(tc, test_target_wildcard_on_metadata_task);
    tcase_add_test(tc, test_other_names_and_eight_arguments);
    tcase_add_test(tc, test_optional_arguments_get_null);
    tcase_add_test(tc, test_missing_required_lists_available_keys);
    tcase_add_test(tc, test_kind_mismatch);
    tcase_add_test(tc, test_bad_declarations);
    tcase_add_test(tc, test_raw_hooks_bypass_binding);
    tcase_add_test(tc, test_supported_tasks_and_node);
    tcase_add_test(tc, test_loss_results);
    tcase_add_test(tc, test_params_and_init);
    tcase_add_test(tc, test_metric_states_update_compute_reset);
    tcase_add_test(tc, test_metric_state_errors);
    tcase_add_test(tc, test_dict_only_metric_cannot_be_main);
    tcase_add_test(tc, test_visualizer_single_and_pair);
    tcase_add_test(tc, test_example_bce_loss);
    tcase_add_test(tc, test_example_instance_keypoints_loss);
    tcase_add_test(tc, test_example_my_metric);
    tcase_add_test(tc, test_example_bbox_visualizer);
    suite_add_tcase(s, tc);
    return fx_run_suite(s);
}
