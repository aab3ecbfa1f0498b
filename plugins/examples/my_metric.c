/* Example plugin: the seed's "Metric" with three MetricState tensors,
 *
 *     class MyMetric(BaseMetric):
 *         true_positives: Annotated[Tensor, MetricState(default=0)]
 *         false_positives: Annotated[Tensor, MetricState(default=0)]
 *         total: Annotated[Tensor, MetricState(default=0)]
 *
 * as a multi-label F1 score. A prediction is positive where
 * sigmoid(logit) > threshold (param, 0.5), a target where it is > 0.5;
 * `total` counts the positive targets. compute returns the F1 score as the
 * main value and precision and recall as sub-metrics (0 where undefined,
 * like torchmetrics' zero_division=0). Works for classification [B,C] and
 * segmentation [B,C,H,W]: predictions and target of one shape. */
#include <ltrain/plugin.h>

#include <math.h>

typedef struct my_metric_state {
    float logit_threshold; /* sigmoid(x) > t  <=>  x > log(t / (1 - t)) */
} my_metric_state;

static int my_metric_init(lt_module *m)
{
    my_metric_state *s = lt_module_state(m);
    double t = lt_module_param_float(m, "threshold", 0.5);
    if (!(t > 0.0 && t < 1.0)) return lt_set_error("params.threshold must be in (0, 1), got %g", t);
    s->logit_threshold = (float)log(t / (1.0 - t));
    return 0;
}

static int my_metric_update(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    const my_metric_state *s = lt_module_state(m);
    char ps[64], ts[64];
    if (predictions->dtype != LT_F32 || !lt_same_shape(predictions, target))
        return lt_set_error("predictions %s (%s) and target %s must have one shape, predictions float32",
                            lt_shape_str(predictions, ps, sizeof ps), lt_dtype_name(predictions->dtype),
                            lt_shape_str(target, ts, sizeof ts));
    if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
    lt_tensor *tp = lt_metric_state(m, "true_positives"), *fp = lt_metric_state(m, "false_positives");
    lt_tensor *total = lt_metric_state(m, "total");
    if (!target || !tp || !fp || !total) return -1;

    const float *x = lt_f32(predictions), *y = lt_f32(target);
    int64_t n_tp = 0, n_fp = 0, n_pos = 0;
    for (int64_t i = 0; i < predictions->numel; i++) {
        bool predicted = x[i] > s->logit_threshold, positive = y[i] > 0.5f;
        n_tp += predicted && positive;
        n_fp += predicted && !positive;
        n_pos += positive;
    }
    lt_f32(tp)[0] += (float)n_tp;
    lt_f32(fp)[0] += (float)n_fp;
    lt_f32(total)[0] += (float)n_pos;
    return 0;
}

static float ratio(float num, float den) { return den > 0.0f ? num / den : 0.0f; }

static int my_metric_compute(lt_module *m, lt_metric_result *r)
{
    const lt_tensor *tp = lt_metric_state(m, "true_positives"), *fp = lt_metric_state(m, "false_positives");
    const lt_tensor *total = lt_metric_state(m, "total");
    if (!tp || !fp || !total) return -1;
    float precision = ratio(lt_f32(tp)[0], lt_f32(tp)[0] + lt_f32(fp)[0]);
    float recall = ratio(lt_f32(tp)[0], lt_f32(total)[0]);
    float f1 = ratio(2.0f * precision * recall, precision + recall);
    if (lt_metric_result_set_main(r, f1) || lt_metric_result_set(r, "precision", precision) ||
        lt_metric_result_set(r, "recall", recall))
        return -1;
    return 0;
}

static const lt_metric_desc my_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "MyMetric"),
    .supported_tasks = (const char *const[]){"classification", "segmentation", NULL},
    .state_size = sizeof(my_metric_state),
    .init = my_metric_init,
    .args = (const lt_arg_spec[]){
        {"predictions", LT_ARG_TENSOR, 0},
        {"target", LT_ARG_TENSOR, 0},
        {0},
    },
    .update = LT_FN(my_metric_update),
    .compute = my_metric_compute,
    .states = (const lt_state_spec[]){
        {.name = "true_positives", .kind = LT_STATE_TENSOR},
        {.name = "false_positives", .kind = LT_STATE_TENSOR},
        {.name = "total", .kind = LT_STATE_TENSOR},
        {0},
    },
};

LT_PLUGIN("example_my_metric", "1.0", &my_metric.header)
