/* Built-in metric: luxonis-train's ConfusionMatrix for classification and
 * segmentation (its RecognitionConfusionMatrix), with torchmetrics'
 * counting.
 *
 *     metrics:
 *       - name: ConfusionMatrix      # logged under the key "mcc", as luxonis-train
 *
 * Several classes: predictions [B,C] or [B,C,H,W] and the target are both
 * argmaxed over dim 1 (integer class-index targets without the class
 * dimension are taken as they are), giving a C x C matrix. One class: the
 * binary matrix (2 x 2) of predictions > 0.5 against targets > 0.5, after a
 * sigmoid when a prediction lies outside [0, 1] (torchmetrics' rule). Rows
 * are ground truth, columns predictions.
 *
 * compute returns a dict only, as the reference: "confusion_matrix" (the
 * matrix, float32 counts, logged as a matrix) and "mcc", the Matthews
 * correlation coefficient of the matrix,
 *     (trace * N - rows . cols) / sqrt((N^2 - |rows|^2) (N^2 - |cols|^2)),
 * 0 for an empty matrix or a zero denominator. The counts are sum-reduced
 * states, so they can be all-reduced across processes. */
#include <ltrain/plugin.h>

#include <math.h>
#include <string.h>

typedef struct confusion_state {
    int n_classes;
    bool binary;
} confusion_state;

static int confusion_init(lt_module *m)
{
    confusion_state *s = lt_module_state(m);
    s->n_classes = lt_module_n_classes(m);
    if (s->n_classes <= 0)
        return lt_set_error("%s: the node has no classes; the confusion matrix needs the dataset's class count",
                            lt_module_name(m));
    s->binary = s->n_classes == 1;
    return 0;
}

/* The matrix state in use: [C,C], or [2,2] for one class. */
static lt_tensor *matrix_state(lt_module *m, const confusion_state *s)
{
    return lt_metric_state(m, s->binary ? "binary_confusion" : "confusion");
}

static int shape_error(lt_module *m, const char *expect, const lt_tensor *predictions, const lt_tensor *target)
{
    char ps[64], ts[64];
    return lt_set_error("%s: predictions %s and target %s: %s", lt_module_name(m),
                        lt_shape_str(predictions, ps, sizeof ps), lt_shape_str(target, ts, sizeof ts), expect);
}

static int update_binary(lt_module *m, lt_tensor *predictions, lt_tensor *target, float *cm)
{
    if (predictions->numel != target->numel)
        return shape_error(m, "a binary confusion matrix needs as many predictions as targets", predictions, target);
    if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
    if (!target) return -1;
    const float *x = lt_f32(predictions), *y = lt_f32(target);
    bool probabilities = true;
    for (int64_t i = 0; i < predictions->numel; i++) probabilities &= x[i] >= 0.0f && x[i] <= 1.0f;
    for (int64_t i = 0; i < predictions->numel; i++) {
        const float p = probabilities ? x[i] : 1.0f / (1.0f + expf(-x[i]));
        cm[(y[i] > 0.5f) * 2 + (p > 0.5f)] += 1.0f;
    }
    return 0;
}

/* Target class indices [B, ...]: argmax of a one-hot target, or as given. */
static lt_tensor *target_indices(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    if (target->ndim == predictions->ndim) {
        if (!lt_same_shape(predictions, target)) {
            shape_error(m, "a one-hot target needs the predictions' shape", predictions, target);
            return NULL;
        }
        if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
        return lt_argmax(target, 1, false);
    }
    if (target->ndim != predictions->ndim - 1 || target->numel * predictions->shape[1] != predictions->numel) {
        shape_error(m, "the target must be one-hot [B,C,...] or class indices [B,...]", predictions, target);
        return NULL;
    }
    return target->dtype == LT_I32 ? target : lt_cast(target, LT_I32);
}

static int update_multiclass(lt_module *m, const confusion_state *s, lt_tensor *predictions, lt_tensor *target,
                             float *cm)
{
    if (predictions->ndim < 2 || predictions->shape[1] != s->n_classes)
        return shape_error(m, "predictions must be [B,C,...] with C the node's classes", predictions, target);
    lt_tensor *truth = target_indices(m, predictions, target);
    lt_tensor *pred = lt_argmax(predictions, 1, false);
    if (!truth || !pred) return -1;
    const int32_t *t = lt_i32(truth), *p = lt_i32(pred);
    for (int64_t i = 0; i < truth->numel; i++) {
        if (t[i] < 0 || t[i] >= s->n_classes)
            return lt_set_error("%s: target class %d is outside [0, %d)", lt_module_name(m), (int)t[i], s->n_classes);
        cm[(int64_t)t[i] * s->n_classes + p[i]] += 1.0f;
    }
    return 0;
}

static int confusion_update(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    const confusion_state *s = lt_module_state(m);
    if (predictions->dtype != LT_F32) {
        char ps[64];
        return lt_set_error("%s: predictions %s must be float32, got %s", lt_module_name(m),
                            lt_shape_str(predictions, ps, sizeof ps), lt_dtype_name(predictions->dtype));
    }
    lt_tensor *cm = matrix_state(m, s);
    if (!cm) return -1;
    return s->binary ? update_binary(m, predictions, target, lt_f32(cm))
                     : update_multiclass(m, s, predictions, target, lt_f32(cm));
}

/* Matthews correlation coefficient of a k x k matrix (luxonis-train's compute_mcc). */
static double matthews(const float *cm, int k)
{
    double n = 0.0, trace = 0.0, rows_cols = 0.0, rows_sq = 0.0, cols_sq = 0.0;
    for (int i = 0; i < k; i++) {
        double row = 0.0, col = 0.0;
        for (int j = 0; j < k; j++) {
            row += cm[i * k + j];
            col += cm[j * k + i];
        }
        n += row;
        trace += cm[i * k + i];
        rows_cols += row * col;
        rows_sq += row * row;
        cols_sq += col * col;
    }
    if (n == 0.0) return 0.0;
    const double den = sqrt((n * n - rows_sq) * (n * n - cols_sq));
    return den == 0.0 ? 0.0 : (trace * n - rows_cols) / den;
}

static int confusion_compute(lt_module *m, lt_metric_result *r)
{
    const confusion_state *s = lt_module_state(m);
    lt_tensor *cm = matrix_state(m, s);
    if (!cm) return -1;
    if (lt_metric_result_set(r, "mcc", (float)matthews(lt_f32(cm), (int)cm->shape[0])) ||
        lt_metric_result_set_tensor(r, "confusion_matrix", cm))
        return -1;
    return 0;
}

static const lt_metric_desc confusion_matrix = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "ConfusionMatrix"),
    .supported_tasks = (const char *const[]){"classification", "segmentation", NULL},
    .state_size = sizeof(confusion_state),
    .init = confusion_init,
    .args = (const lt_arg_spec[]){
        {"predictions", LT_ARG_TENSOR, 0},
        {"target", LT_ARG_TENSOR, 0},
        {0},
    },
    .update = LT_FN(confusion_update),
    .compute = confusion_compute,
    .states = (const lt_state_spec[]){
        {.name = "confusion", .kind = LT_STATE_TENSOR, .ndim = 2, .shape = {-1, -1}, .reduce = LT_REDUCE_SUM},
        {.name = "binary_confusion", .kind = LT_STATE_TENSOR, .ndim = 2, .shape = {2, 2}, .reduce = LT_REDUCE_SUM},
        {0},
    },
};

LT_PLUGIN("ltrain_confusion_matrix", "1.0", &confusion_matrix.header)
