/* Test modules for the argument binding (tests/core/test_binding.c). Each
 * records the arguments it received in `binding_probe`, which the test
 * reads with dlsym. */
#include <ltrain/plugin.h>

#include <string.h>

#include "probe.h"

__attribute__((visibility("default"))) struct binding_probe binding_probe;

static void record(lt_module *m, const void *const *args, int n)
{
    binding_probe.calls++;
    binding_probe.n_args = n;
    for (int i = 0; i < n && i < PROBE_MAX_ARGS; i++) binding_probe.args[i] = args[i];
    binding_probe.module = lt_module_name(m);
    binding_probe.node = lt_module_node_name(m);
    binding_probe.task = lt_module_task(m);
}

#define RECORD(m, ...) \
    record(m, (const void *const[]){__VA_ARGS__}, (int)(sizeof((const void *[]){__VA_ARGS__}) / sizeof(void *)))

#define T(NAME) {NAME, LT_ARG_TENSOR, 0}
#define OPT(NAME) {NAME, LT_ARG_TENSOR, LT_ARG_OPTIONAL}
#define LIST(NAME) {NAME, LT_ARG_LIST, 0}
#define META(NAME) {NAME, LT_ARG_METADATA, 0}

#define LOSS(VAR, NAME, FN, ...)                                      \
    static const lt_loss_desc VAR = {                                 \
        .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, NAME),   \
        .args = (const lt_arg_spec[]){__VA_ARGS__, {0}},              \
        .forward = LT_FN(FN),                                         \
    }

/* ---------------- losses ---------------- */

static lt_tensor *probe_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    RECORD(m, predictions, target);
    return lt_scalar(1.0f);
}
LOSS(probe_loss, "ProbeLoss", probe_forward, T("predictions"), T("target"));

static lt_tensor *alias_forward(lt_module *m, lt_tensor *preds, lt_tensor *pred, lt_tensor *prediction,
                                lt_tensor *pred_aux, const lt_tensor_list *features, lt_tensor *targets)
{
    RECORD(m, preds, pred, prediction, pred_aux, features, targets);
    return lt_scalar(0.0f);
}
LOSS(alias_loss, "AliasLoss", alias_forward, T("preds"), T("pred"), T("prediction"), T("pred_aux"),
     LIST("features"), T("targets"));

/* Eight arguments: the result weights each by its position, so a swapped
 * pair changes it. */
static lt_tensor *many_forward(lt_module *m, lt_tensor *a1, lt_tensor *a2, lt_tensor *a3, lt_tensor *a4,
                               lt_tensor *a5, lt_tensor *a6, lt_tensor *a7, lt_tensor *a8)
{
    RECORD(m, a1, a2, a3, a4, a5, a6, a7, a8);
    lt_tensor *args[] = {a1, a2, a3, a4, a5, a6, a7, a8};
    float sum = 0.0f;
    for (int i = 0; i < 8; i++) sum += (float)(i + 1) * lt_item(args[i]);
    return lt_scalar(sum);
}
LOSS(many_loss, "ManyArgsLoss", many_forward, T("a1"), T("a2"), T("a3"), T("a4"), T("a5"), T("a6"), T("a7"),
     T("a8"));

static lt_tensor *optional_forward(lt_module *m, lt_tensor *predictions, lt_tensor *extra, lt_tensor *target_extra)
{
    RECORD(m, predictions, extra, target_extra);
    return lt_scalar(0.0f);
}
LOSS(optional_loss, "OptionalLoss", optional_forward, T("predictions"), OPT("extra"), OPT("target_extra"));

static lt_tensor *meta_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target_boundingbox,
                               const lt_metadata *target_distance)
{
    RECORD(m, predictions, target_boundingbox, target_distance);
    return lt_scalar(0.0f);
}
LOSS(meta_loss, "MetaLoss", meta_forward, T("predictions"), T("target_boundingbox"), META("target_distance"));
/* The same with the metadata label declared a tensor: rejected at build. */
LOSS(meta_as_tensor_loss, "MetaAsTensorLoss", meta_forward, T("predictions"), T("target_boundingbox"),
     T("target_distance"));
/* A label declared metadata: rejected at build. */
LOSS(meta_as_label_loss, "MetaAsLabelLoss", meta_forward, T("predictions"), META("target_boundingbox"),
     META("target_distance"));
/* A metadata argument that would read a prediction: rejected at build. */
LOSS(meta_from_packet_loss, "MetaFromPacketLoss", meta_forward, T("predictions"), T("target_boundingbox"),
     META("distance"));

static lt_tensor *list_forward(lt_module *m, const lt_tensor_list *features)
{
    RECORD(m, features);
    return lt_scalar((float)features->n);
}
LOSS(list_loss, "ListLoss", list_forward, LIST("features"));

static lt_tensor *non_scalar_forward(lt_module *m, lt_tensor *predictions)
{
    RECORD(m, predictions);
    return predictions;
}
LOSS(non_scalar_loss, "NonScalarLoss", non_scalar_forward, T("predictions"));

static lt_tensor *fail_forward(lt_module *m, lt_tensor *predictions)
{
    RECORD(m, predictions);
    lt_set_error("boom: predictions look wrong");
    return NULL;
}
LOSS(fail_loss, "FailLoss", fail_forward, T("predictions"));

static lt_tensor *sub_forward(lt_module *m, lt_tensor *predictions)
{
    RECORD(m, predictions);
    if (lt_module_log_loss(m, "a", lt_scalar(1.0f)) || lt_module_log_loss(m, "b", lt_scalar(2.0f))) return NULL;
    return lt_scalar(3.0f);
}
LOSS(sub_loss, "SubLoss", sub_forward, T("predictions"));

static lt_tensor *dup_forward(lt_module *m, lt_tensor *a, lt_tensor *b)
{
    RECORD(m, a, b);
    return lt_scalar(0.0f);
}
LOSS(dup_loss, "DupLoss", dup_forward, T("features"), T("features"));
LOSS(canvas_loss, "CanvasLoss", dup_forward, T("predictions"), {"prediction_canvas", LT_ARG_CANVAS, 0});
LOSS(bare_target_label_loss, "BareTargetLoss", dup_forward, T("predictions"), T("target_"));

static const lt_loss_desc seg_only_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "SegOnlyLoss"),
    .supported_tasks = (const char *const[]){"segmentation", NULL},
    .node = "SegHead",
    .args = (const lt_arg_spec[]){T("predictions"), T("target"), {0}},
    .forward = LT_FN(probe_forward),
};

static const lt_loss_desc two_task_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "TwoTaskLoss"),
    .supported_tasks = (const char *const[]){"segmentation", "classification", NULL},
    .args = (const lt_arg_spec[]){T("predictions"), T("target"), {0}},
    .forward = LT_FN(probe_forward),
};

static lt_tensor *raw_run(lt_module *m, const lt_packet *packet, const lt_labels *labels)
{
    RECORD(m, packet, labels);
    return lt_scalar((float)lt_packet_count(packet));
}

static const lt_loss_desc raw_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "RawLoss"),
    /* names that could never bind: the raw hook bypasses binding */
    .args = (const lt_arg_spec[]){T("target"), T("no_such_key"), {0}},
    .run = raw_run,
};

/* Params read at init into the probe. */
static int param_init(lt_module *m)
{
    binding_probe.p_int = lt_module_param_int(m, "n", -1);
    binding_probe.p_float = lt_module_param_float(m, "f", -1.0);
    binding_probe.p_bool = lt_module_param_bool(m, "b", false);
    binding_probe.p_str = lt_module_param_str(m, "s", "default");
    binding_probe.n_floats = lt_module_param_floats(m, "fs", binding_probe.p_floats, 4);
    return 0;
}

static const lt_loss_desc param_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "ParamLoss"),
    .init = param_init,
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .forward = LT_FN(non_scalar_forward),
};

static int fail_init(lt_module *m)
{
    (void)m;
    return lt_set_error("params.alpha is required");
}

static const lt_loss_desc fail_init_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "FailInitLoss"),
    .init = fail_init,
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .forward = LT_FN(non_scalar_forward),
};

/* ---------------- metrics ---------------- */

/* total: elements seen; per_class: [n_classes] starting at 1, +1 per call
 * (reduce max); seen: the predictions of every call. */
static int count_update(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    RECORD(m, predictions, target);
    lt_tensor *total = lt_metric_state(m, "total"), *per_class = lt_metric_state(m, "per_class");
    if (!total || !per_class) return -1;
    lt_f32(total)[0] += (float)predictions->numel;
    for (int64_t i = 0; i < per_class->numel; i++) lt_f32(per_class)[i] += 1.0f;
    return lt_metric_state_append(m, "seen", predictions);
}

static int count_compute(lt_module *m, lt_metric_result *r)
{
    const lt_tensor *total = lt_metric_state(m, "total");
    const lt_tensor_list *seen = lt_metric_state_list(m, "seen");
    if (!total || !seen) return -1;
    float first = seen->n ? lt_f32(seen->items[0])[0] : -1.0f;
    if (lt_metric_result_set_main(r, lt_f32(total)[0]) || lt_metric_result_set(r, "n_seen", (float)seen->n) ||
        lt_metric_result_set(r, "first_seen", first) ||
        lt_metric_result_set_tensor(r, "per_class", lt_metric_state(m, "per_class")))
        return -1;
    return 0;
}

static const lt_metric_desc count_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "CountMetric"),
    .args = (const lt_arg_spec[]){T("predictions"), T("target"), {0}},
    .update = LT_FN(count_update),
    .compute = count_compute,
    .states = (const lt_state_spec[]){
        {.name = "total", .kind = LT_STATE_TENSOR},
        {.name = "per_class", .kind = LT_STATE_TENSOR, .ndim = 1, .shape = {-1}, .default_value = 1.0f,
         .reduce = LT_REDUCE_MAX},
        {.name = "seen", .kind = LT_STATE_LIST},
        {0},
    },
};

static int dict_update(lt_module *m, lt_tensor *predictions)
{
    RECORD(m, predictions);
    return 0;
}

static int dict_compute(lt_module *m, lt_metric_result *r)
{
    (void)m;
    return lt_metric_result_set(r, "a", 1.0f) || lt_metric_result_set(r, "b", 2.0f) ? -1 : 0;
}

static const lt_metric_desc dict_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "DictMetric"),
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .update = LT_FN(dict_update),
    .compute = dict_compute,
};

static int empty_compute(lt_module *m, lt_metric_result *r)
{
    (void)m, (void)r;
    return 0;
}

static const lt_metric_desc empty_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "EmptyMetric"),
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .update = LT_FN(dict_update),
    .compute = empty_compute,
};

static int raw_update(lt_module *m, const lt_packet *packet, const lt_labels *labels)
{
    RECORD(m, packet, labels);
    return 0;
}

static int failing_update(lt_module *m, lt_tensor *predictions)
{
    RECORD(m, predictions);
    return lt_set_error("update saw NaN");
}

static const lt_metric_desc raw_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "RawMetric"),
    .args = NULL,
    .update = LT_FN(failing_update),
    .compute = dict_compute,
    .run_update = raw_update,
};

static const lt_metric_desc failing_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "FailingMetric"),
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .update = LT_FN(failing_update),
    .compute = dict_compute,
};

/* Reads its states with the wrong accessor or name. */
static int misuse_update(lt_module *m, lt_tensor *predictions)
{
    RECORD(m, predictions);
    return lt_metric_state(m, "seen") ? 0 : -1;
}

static int misuse_compute(lt_module *m, lt_metric_result *r)
{
    (void)r;
    return lt_metric_state_list(m, "totl") ? 0 : -1;
}

static const lt_metric_desc misuse_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "MisuseMetric"),
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .update = LT_FN(misuse_update),
    .compute = misuse_compute,
    .states = (const lt_state_spec[]){
        {.name = "total", .kind = LT_STATE_TENSOR},
        {.name = "seen", .kind = LT_STATE_LIST},
        {0},
    },
};

static const lt_metric_desc bad_state_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "BadStateMetric"),
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .update = LT_FN(dict_update),
    .compute = dict_compute,
    .states = (const lt_state_spec[]){{.name = "boxes", .kind = LT_STATE_LIST, .reduce = LT_REDUCE_SUM}, {0}},
};

/* ---------------- visualizers ---------------- */

static int probe_vis(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas, lt_tensor *predictions,
                     lt_tensor *target)
{
    RECORD(m, prediction_canvas, target_canvas, predictions, target);
    lt_u8(prediction_canvas)[0] = 255;
    if (!target) return LT_VIS_PREDICTION;
    lt_u8(target_canvas)[0] = 128;
    return LT_VIS_PAIR;
}

static const lt_visualizer_desc probe_visualizer = {
    .header = LT_DESC_HEADER(LT_DESC_VISUALIZER, lt_visualizer_desc, "ProbeVisualizer"),
    .args = (const lt_arg_spec[]){T("predictions"), OPT("target"), {0}},
    .forward = LT_FN(probe_vis),
};

static int bad_vis(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas, lt_tensor *predictions)
{
    RECORD(m, prediction_canvas, target_canvas, predictions);
    return 7;
}

static const lt_visualizer_desc bad_visualizer = {
    .header = LT_DESC_HEADER(LT_DESC_VISUALIZER, lt_visualizer_desc, "BadVisualizer"),
    .args = (const lt_arg_spec[]){T("predictions"), {0}},
    .forward = LT_FN(bad_vis),
};

/* Asks for the prediction canvas again by name. */
static int canvas_vis(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas, lt_tensor *again,
                      lt_tensor *predictions)
{
    RECORD(m, prediction_canvas, target_canvas, again, predictions);
    return LT_VIS_PREDICTION;
}

static const lt_visualizer_desc canvas_visualizer = {
    .header = LT_DESC_HEADER(LT_DESC_VISUALIZER, lt_visualizer_desc, "CanvasVisualizer"),
    .args = (const lt_arg_spec[]){{"prediction_canvas", LT_ARG_CANVAS, 0}, T("predictions"), {0}},
    .forward = LT_FN(canvas_vis),
};

LT_PLUGIN("binding_modules", "1.0", &probe_loss.header, &alias_loss.header, &many_loss.header, &optional_loss.header,
          &meta_loss.header, &meta_as_tensor_loss.header, &meta_as_label_loss.header,
          &meta_from_packet_loss.header, &list_loss.header,
          &non_scalar_loss.header, &fail_loss.header, &sub_loss.header, &dup_loss.header, &canvas_loss.header,
          &bare_target_label_loss.header, &seg_only_loss.header, &two_task_loss.header, &raw_loss.header,
          &param_loss.header, &fail_init_loss.header, &count_metric.header, &dict_metric.header,
          &empty_metric.header, &raw_metric.header, &failing_metric.header, &misuse_metric.header,
          &bad_state_metric.header,
          &probe_visualizer.header, &bad_visualizer.header, &canvas_visualizer.header)
