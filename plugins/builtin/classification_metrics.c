/* Built-in metrics: luxonis-train's torchmetrics wrappers Accuracy,
 * Precision, Recall and F1Score, with torchmetrics' semantics.
 *
 *     metrics:
 *       - name: F1Score
 *         params: {task: multiclass, average: macro, top_k: 1, threshold: 0.5}
 *
 * task: "binary", "multiclass" or "multilabel"; by default binary when the
 * node has one class, else multiclass (multilabel must be asked for). A
 * binary task with several classes, or another task with one class, fails
 * as in luxonis-train. num_classes / num_labels may be given but must equal
 * the node's classes (the states are sized by them).
 *
 * Inputs: predictions [B,C] or [B,C,H,W] (logits or probabilities), target
 * of the same shape (luxonis-train's one-hot / multi-hot labels). multiclass
 * argmaxes the target over dim 1 (luxonis-train) and takes the top_k
 * predicted classes (argmax for top_k 1); integer class-index targets
 * without the class dimension are accepted too. binary and multilabel apply
 * a sigmoid when a prediction lies outside [0, 1] (torchmetrics' rule, per
 * update) and count a prediction positive when it is > threshold; the
 * target is positive when > 0.5.
 *
 * States: per-class tp, fp, tn, fn counts ([n_classes] float32, sum-reduced,
 * so they can be all-reduced across processes). compute reduces them by
 * `average` (torchmetrics' default "micro"; "macro", "weighted", "none"):
 *   accuracy  tp / (tp + fn) (multiclass), (tp + tn) / all (binary, multilabel)
 *   precision tp / (tp + fp), recall tp / (tp + fn),
 *   F1        2 tp / (2 tp + fp + fn),
 * 0 where a denominator is 0. micro sums the counts first; macro averages
 * the per-class scores, leaving out (multiclass) classes that never occur in
 * predictions or targets (top_k 1; for top_k > 1 classes absent from the
 * targets), as torchmetrics; weighted weights by support (tp + fn). With
 * average "none" the main value is the mean of the per-class scores and
 * each class is a sub-metric "<TorchName>_<class name>", e.g.
 * "MulticlassF1Score_cat", as luxonis-train logs them. */
#include <ltrain/plugin.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum metric_kind { ACCURACY, PRECISION, RECALL, F1 } metric_kind;
typedef enum metric_task { BINARY, MULTICLASS, MULTILABEL } metric_task;
typedef enum metric_average { MICRO, MACRO, WEIGHTED, NONE } metric_average;

typedef struct cls_metric {
    metric_kind kind;
    metric_task task;
    metric_average average;
    float threshold;
    int top_k;
    int n_classes;
} cls_metric;

static const char *const task_names[] = {"Binary", "Multiclass", "Multilabel"};
static const char *const kind_names[] = {"Accuracy", "Precision", "Recall", "F1Score"};

/* ---------------- init ---------------- */

static int parse_task(lt_module *m, cls_metric *s)
{
    const char *name = lt_module_name(m);
    const bool has_labels = lt_module_param_int(m, "num_labels", 0) > 0;
    const char *def = has_labels ? "multilabel" : s->n_classes == 1 ? "binary" : "multiclass";
    const char *task = lt_module_param_str(m, "task", def);
    if (!strcmp(task, "binary"))
        s->task = BINARY;
    else if (!strcmp(task, "multiclass"))
        s->task = MULTICLASS;
    else if (!strcmp(task, "multilabel"))
        s->task = MULTILABEL;
    else
        return lt_set_error("%s: params.task must be 'binary', 'multiclass' or 'multilabel', got '%s'", name, task);
    if (s->task == BINARY && s->n_classes > 1)
        return lt_set_error("%s: task type set to 'binary', but the dataset has more than 1 class (%d). Set the "
                            "`task` argument of '%s' to either 'multiclass' or 'multilabel'",
                            name, s->n_classes, name);
    if (s->task != BINARY && s->n_classes == 1)
        return lt_set_error("%s: task type set to '%s', but the dataset has only 1 class. Set the `task` argument "
                            "of '%s' to 'binary'",
                            name, task, name);
    const char *key = s->task == MULTILABEL ? "num_labels" : "num_classes";
    const int64_t given = lt_module_param_int(m, key, s->n_classes);
    if (s->task != BINARY && given != s->n_classes)
        return lt_set_error("%s: params.%s is %lld but the node has %d classes", name, key, (long long)given,
                            s->n_classes);
    return 0;
}

static int parse_average(lt_module *m, cls_metric *s)
{
    static const char *const names[] = {"micro", "macro", "weighted", "none"};
    const char *average = lt_module_param_str(m, "average", "micro");
    for (int i = 0; i < 4; i++)
        if (!strcmp(average, names[i])) {
            s->average = (metric_average)i;
            return 0;
        }
    return lt_set_error("%s: params.average must be 'micro', 'macro', 'weighted' or 'none', got '%s'",
                        lt_module_name(m), average);
}

static int metric_init(lt_module *m, metric_kind kind)
{
    cls_metric *s = lt_module_state(m);
    const char *name = lt_module_name(m);
    s->kind = kind;
    s->n_classes = lt_module_n_classes(m);
    if (s->n_classes <= 0)
        return lt_set_error("%s: the node has no classes; the metric needs the dataset's class count", name);
    if (parse_task(m, s) || parse_average(m, s)) return -1;
    const double threshold = lt_module_param_float(m, "threshold", 0.5);
    if (!(threshold >= 0.0 && threshold <= 1.0))
        return lt_set_error("%s: params.threshold must be in [0, 1], got %g", name, threshold);
    s->threshold = (float)threshold;
    const int64_t top_k = lt_module_param_int(m, "top_k", 1);
    if (top_k < 1 || (s->task == MULTICLASS && top_k > s->n_classes))
        return lt_set_error("%s: params.top_k must be in [1, %d], got %lld", name, s->n_classes, (long long)top_k);
    s->top_k = s->task == MULTICLASS ? (int)top_k : 1;
    return 0;
}

static int accuracy_init(lt_module *m) { return metric_init(m, ACCURACY); }
static int precision_init(lt_module *m) { return metric_init(m, PRECISION); }
static int recall_init(lt_module *m) { return metric_init(m, RECALL); }
static int f1_init(lt_module *m) { return metric_init(m, F1); }

/* ---------------- update ---------------- */

typedef struct counts {
    float *tp, *fp, *tn, *fn; /* the states, [n_classes] */
} counts;

static int get_counts(lt_module *m, counts *c)
{
    c->tp = c->fp = c->tn = c->fn = NULL;
    lt_tensor *tp = lt_metric_state(m, "tp"), *fp = lt_metric_state(m, "fp");
    lt_tensor *tn = lt_metric_state(m, "tn"), *fn = lt_metric_state(m, "fn");
    if (!tp || !fp || !tn || !fn) return -1;
    c->tp = lt_f32(tp);
    c->fp = lt_f32(fp);
    c->tn = lt_f32(tn);
    c->fn = lt_f32(fn);
    return 0;
}

static int shape_error(lt_module *m, const char *expect, const lt_tensor *predictions, const lt_tensor *target)
{
    char ps[64], ts[64];
    return lt_set_error("%s: predictions %s and target %s: %s", lt_module_name(m),
                        lt_shape_str(predictions, ps, sizeof ps), lt_shape_str(target, ts, sizeof ts), expect);
}

/* Binary / multilabel positives: sigmoid first unless every value is in [0, 1]. */
static void threshold_predictions(const float *x, int64_t n, float threshold, uint8_t *out)
{
    bool probabilities = true;
    for (int64_t i = 0; i < n; i++) probabilities &= x[i] >= 0.0f && x[i] <= 1.0f;
    for (int64_t i = 0; i < n; i++) {
        const float p = probabilities ? x[i] : 1.0f / (1.0f + expf(-x[i]));
        out[i] = p > threshold;
    }
}

/* Binary (n_classes 1, any equal numel) and multilabel ([B,C,...], one
 * shape): count per class c = (i / inner) % C. */
static int update_thresholded(lt_module *m, const cls_metric *s, lt_tensor *predictions, lt_tensor *target)
{
    const bool same = s->task == BINARY ? predictions->numel == target->numel : lt_same_shape(predictions, target);
    if (!same || (s->task == MULTILABEL && (predictions->ndim < 2 || predictions->shape[1] != s->n_classes)))
        return shape_error(m, s->task == BINARY ? "binary needs as many predictions as targets"
                                                : "multilabel needs one shape [B,C,...] with C the node's classes",
                           predictions, target);
    if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
    uint8_t *positive = lt_step_alloc((size_t)predictions->numel);
    counts c;
    if (!target || !positive || get_counts(m, &c)) return -1;
    threshold_predictions(lt_f32(predictions), predictions->numel, s->threshold, positive);
    const float *y = lt_f32(target);
    const int64_t classes = s->task == BINARY ? 1 : s->n_classes;
    const int64_t inner = s->task == BINARY ? 1 : predictions->numel / (predictions->shape[0] * classes);
    for (int64_t i = 0; i < predictions->numel; i++) {
        const int64_t k = (i / inner) % classes;
        const bool p = positive[i], t = y[i] > 0.5f;
        c.tp[k] += p && t;
        c.fp[k] += p && !t;
        c.fn[k] += !p && t;
        c.tn[k] += !p && !t;
    }
    return 0;
}

/* Multiclass target as class indices [B, ...]: argmax over dim 1 of a
 * one-hot target, or the integer indices as given. */
static lt_tensor *class_indices(lt_module *m, const cls_metric *s, lt_tensor *predictions, lt_tensor *target)
{
    if (target->ndim == predictions->ndim) {
        if (!lt_same_shape(predictions, target)) {
            shape_error(m, "a one-hot target needs the predictions' shape", predictions, target);
            return NULL;
        }
        if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
        return lt_argmax(target, 1, false);
    }
    if (target->ndim != predictions->ndim - 1 || target->numel * s->n_classes != predictions->numel) {
        shape_error(m, "the target must be one-hot [B,C,...] or class indices [B,...]", predictions, target);
        return NULL;
    }
    return target->dtype == LT_I32 ? target : lt_cast(target, LT_I32);
}

/* The k largest of x[0..C) with stride `inner` into sel (ties: lower index first). */
static void top_k_classes(const float *x, int64_t n_classes, int64_t inner, int k, uint8_t *sel)
{
    memset(sel, 0, (size_t)n_classes);
    for (int j = 0; j < k; j++) {
        int64_t best = -1;
        for (int64_t c = 0; c < n_classes; c++)
            if (!sel[c] && (best < 0 || x[c * inner] > x[best * inner])) best = c;
        sel[best] = 1;
    }
}

static int update_multiclass(lt_module *m, const cls_metric *s, lt_tensor *predictions, lt_tensor *target)
{
    if (predictions->ndim < 2 || predictions->shape[1] != s->n_classes)
        return shape_error(m, "multiclass predictions must be [B,C,...] with C the node's classes", predictions,
                           target);
    lt_tensor *indices = class_indices(m, s, predictions, target);
    const int64_t n_classes = s->n_classes, batch = predictions->shape[0];
    const int64_t inner = predictions->numel / (batch * n_classes);
    uint8_t *sel = lt_step_alloc((size_t)n_classes);
    counts c;
    if (!indices || !sel || get_counts(m, &c)) return -1;
    const int32_t *t = lt_i32(indices);
    const float *x = lt_f32(predictions);
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < inner; i++) {
            const int32_t truth = t[b * inner + i];
            if (truth < 0 || truth >= n_classes)
                return lt_set_error("%s: target class %d is outside [0, %lld)", lt_module_name(m), (int)truth,
                                    (long long)n_classes);
            top_k_classes(x + b * n_classes * inner + i, n_classes, inner, s->top_k, sel);
            for (int64_t k = 0; k < n_classes; k++) {
                const bool p = sel[k], y = k == truth;
                c.tp[k] += p && y;
                c.fp[k] += p && !y;
                c.fn[k] += !p && y;
                c.tn[k] += !p && !y;
            }
        }
    return 0;
}

static int metric_update(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    const cls_metric *s = lt_module_state(m);
    if (predictions->dtype != LT_F32) {
        char ps[64];
        return lt_set_error("%s: predictions %s must be float32, got %s", lt_module_name(m),
                            lt_shape_str(predictions, ps, sizeof ps), lt_dtype_name(predictions->dtype));
    }
    if (predictions->numel == 0) return 0;
    return s->task == MULTICLASS ? update_multiclass(m, s, predictions, target)
                                 : update_thresholded(m, s, predictions, target);
}

/* ---------------- compute ---------------- */

static double safe_div(double num, double den) { return den != 0.0 ? num / den : 0.0; }

/* The metric from one set of counts. */
static double score(const cls_metric *s, double tp, double fp, double tn, double fn)
{
    switch (s->kind) {
    case ACCURACY:
        return s->task == MULTICLASS ? safe_div(tp, tp + fn) : safe_div(tp + tn, tp + tn + fp + fn);
    case PRECISION:
        return safe_div(tp, tp + fp);
    case RECALL:
        return safe_div(tp, tp + fn);
    case F1:
        return safe_div(2.0 * tp, 2.0 * tp + fp + fn);
    }
    return 0.0;
}

/* Weighted mean of the per-class scores (torchmetrics' _adjust_weights_safe_divide). */
static double average_scores(const cls_metric *s, const counts *c, const double *per_class)
{
    double num = 0.0, den = 0.0;
    for (int k = 0; k < s->n_classes; k++) {
        double w = 1.0;
        if (s->average == WEIGHTED)
            w = (double)c->tp[k] + c->fn[k];
        else if (s->task == MULTICLASS &&
                 (s->top_k == 1 ? c->tp[k] + c->fp[k] + c->fn[k] == 0.0f : c->tp[k] + c->fn[k] == 0.0f))
            w = 0.0; /* a class seen nowhere does not count in macro */
        num += w * per_class[k];
        den += w;
    }
    return safe_div(num, den);
}

static int per_class_results(lt_module *m, const cls_metric *s, const double *per_class, lt_metric_result *r)
{
    double mean = 0.0;
    for (int k = 0; k < s->n_classes; k++) mean += per_class[k];
    if (lt_metric_result_set_main(r, (float)(mean / s->n_classes))) return -1;
    for (int k = 0; k < s->n_classes; k++) {
        char name[256], index[16];
        const char *class_name = lt_module_class_name(m, k);
        if (!class_name) {
            snprintf(index, sizeof index, "%d", k);
            class_name = index;
        }
        snprintf(name, sizeof name, "%s%s_%s", task_names[s->task], kind_names[s->kind], class_name);
        if (lt_metric_result_set(r, name, (float)per_class[k])) return -1;
    }
    return 0;
}

static int metric_compute(lt_module *m, lt_metric_result *r)
{
    const cls_metric *s = lt_module_state(m);
    counts c;
    if (get_counts(m, &c)) return -1;
    if (s->task == BINARY) return lt_metric_result_set_main(r, (float)score(s, c.tp[0], c.fp[0], c.tn[0], c.fn[0]));
    if (s->average == MICRO) {
        double tp = 0, fp = 0, tn = 0, fn = 0;
        for (int k = 0; k < s->n_classes; k++) {
            tp += c.tp[k];
            fp += c.fp[k];
            tn += c.tn[k];
            fn += c.fn[k];
        }
        return lt_metric_result_set_main(r, (float)score(s, tp, fp, tn, fn));
    }
    double *per_class = lt_step_alloc((size_t)s->n_classes * sizeof *per_class);
    if (!per_class) return -1;
    for (int k = 0; k < s->n_classes; k++) per_class[k] = score(s, c.tp[k], c.fp[k], c.tn[k], c.fn[k]);
    if (s->average == NONE) return per_class_results(m, s, per_class, r);
    return lt_metric_result_set_main(r, (float)average_scores(s, &c, per_class));
}

/* ---------------- descriptors ---------------- */

/* Per-class counts, summed across processes. */
#define COUNT_STATE(NAME) {.name = NAME, .kind = LT_STATE_TENSOR, .ndim = 1, .shape = {-1}, .reduce = LT_REDUCE_SUM}

static const lt_state_spec count_states[] = {COUNT_STATE("tp"), COUNT_STATE("fp"), COUNT_STATE("tn"),
                                             COUNT_STATE("fn"), {0}};

#define CLS_METRIC(VAR, NAME, INIT)                                                          \
    static const lt_metric_desc VAR = {                                                      \
        .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, NAME),                      \
        .supported_tasks = (const char *const[]){"classification", "segmentation", NULL},   \
        .state_size = sizeof(cls_metric),                                                    \
        .init = INIT,                                                                        \
        .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0},                     \
                                      {"target", LT_ARG_TENSOR, 0},                          \
                                      {0}},                                                  \
        .update = LT_FN(metric_update),                                                      \
        .compute = metric_compute,                                                           \
        .states = count_states,                                                              \
    }

CLS_METRIC(accuracy_desc, "Accuracy", accuracy_init);
CLS_METRIC(precision_desc, "Precision", precision_init);
CLS_METRIC(recall_desc, "Recall", recall_init);
CLS_METRIC(f1_desc, "F1Score", f1_init);

LT_PLUGIN("ltrain_classification_metrics", "1.0", &accuracy_desc.header, &precision_desc.header,
          &recall_desc.header, &f1_desc.header)
