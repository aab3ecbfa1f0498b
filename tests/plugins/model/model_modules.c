/* Attached modules for tests/core/test_model.c: a loss that is the mean of
 * the node's main prediction (so the model's weighted loss sum is easy to
 * predict) and a metric counting the images it saw. */
#include <ltrain/plugin.h>

static lt_tensor *mean_forward(lt_module *m, lt_tensor *predictions)
{
    (void)m;
    return lt_mean(predictions, NULL, 0, false);
}

static const lt_loss_desc mean_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "TestMeanLoss"),
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {0}},
    .forward = LT_FN(mean_forward),
};

static int count_update(lt_module *m, lt_tensor *predictions)
{
    lt_tensor *count = lt_metric_state(m, "count");
    if (!count) return -1;
    lt_f32(count)[0] += (float)predictions->shape[0];
    return 0;
}

static int count_compute(lt_module *m, lt_metric_result *r)
{
    const lt_tensor *count = lt_metric_state(m, "count");
    return count ? lt_metric_result_set_main(r, lt_f32(count)[0]) : -1;
}

static const lt_metric_desc count_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "TestCountMetric"),
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {0}},
    .update = LT_FN(count_update),
    .compute = count_compute,
    .states = (const lt_state_spec[]){{.name = "count", .kind = LT_STATE_TENSOR}, {0}},
};

LT_PLUGIN("test_model_modules", "1.0", &mean_loss.header, &count_metric.header)
