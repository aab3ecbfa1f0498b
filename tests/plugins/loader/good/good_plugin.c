/* The well-formed test plugin of tests/core/test_loader.c and test_tasks.c:
 * one descriptor of every kind, plus the seed document's custom task
 * DistanceEstimation declared both ways the seed shows (extending
 * boundingbox, and spelling the labels out). */
#include <ltrain/plugin.h>

/* ---- nodes ---- */

typedef struct net_state {
    int64_t channels;
} net_state;

static int net_init(void *state, lt_node_ctx *nc)
{
    net_state *s = state;
    s->channels = lt_node_param_int(nc, "channels", 8);
    return 0;
}

static int identity_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)state;
    (void)nc;
    *out = *in;
    return 0;
}

static const lt_node_desc test_net = {
    .header = {.abi_version = LT_PLUGIN_ABI_VERSION,
               .size = sizeof(lt_node_desc),
               .kind = LT_DESC_NODE,
               .name = "LoaderTestNet",
               .summary = "identity backbone of the loader tests"},
    .role = LT_NODE_BACKBONE,
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .variants = (const char *const[]){"s", "m", NULL},
    .state_size = sizeof(net_state),
    .init = net_init,
    .forward = identity_forward,
};

static const lt_node_desc test_head = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "LoaderTestHead"),
    .role = LT_NODE_HEAD,
    .task = "distance",
    .attach_index = LT_ATTACH_AT(-1),
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .forward = identity_forward,
};

/* ---- tasks: DistanceEstimation, both spellings of the seed ---- */

static const lt_task_desc distance_task = {
    .header = LT_DESC_HEADER(LT_DESC_TASK, lt_task_desc, "distance"),
    .extends = "boundingbox",
    .required_labels = (const lt_label_spec[]){LT_METADATA("distance", LT_META_FLOAT | LT_META_INT), {0}},
};

static const lt_task_desc distance_spelt_out = {
    .header = LT_DESC_HEADER(LT_DESC_TASK, lt_task_desc, "distance_spelt_out"),
    .main_output = "boundingbox",
    .required_labels = (const lt_label_spec[]){LT_LABEL("boundingbox"),
                                               LT_METADATA("distance", LT_META_FLOAT | LT_META_INT), {0}},
};

/* ---- attached modules ---- */

static lt_tensor *l1_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    (void)m;
    return lt_mean(lt_abs(lt_sub(predictions, target)), NULL, 0, false);
}

static const lt_loss_desc test_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "LoaderTestLoss"),
    .supported_tasks = (const char *const[]){"distance", "boundingbox", NULL},
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {"target", LT_ARG_TENSOR, 0}, {0}},
    .forward = LT_FN(l1_forward),
};

static int count_update(lt_module *m, lt_tensor *predictions)
{
    (void)predictions;
    lt_tensor *total = lt_metric_state(m, "total");
    return total ? 0 : -1;
}

static int count_compute(lt_module *m, lt_metric_result *r)
{
    (void)m;
    return lt_metric_result_set_main(r, 0.0f);
}

static const lt_metric_desc test_metric = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "LoaderTestMetric"),
    .node = "LoaderTestHead",
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {0}},
    .update = LT_FN(count_update),
    .compute = count_compute,
    .states = (const lt_state_spec[]){{.name = "total", .kind = LT_STATE_TENSOR}, {0}},
};

static int draw(lt_module *m, lt_tensor *prediction_canvas, lt_tensor *target_canvas, lt_tensor *predictions,
                lt_tensor *target)
{
    (void)m;
    (void)target_canvas;
    (void)predictions;
    (void)prediction_canvas;
    return target ? LT_VIS_PAIR : LT_VIS_PREDICTION;
}

static const lt_visualizer_desc test_visualizer = {
    .header = LT_DESC_HEADER(LT_DESC_VISUALIZER, lt_visualizer_desc, "LoaderTestVisualizer"),
    .supported_tasks = (const char *const[]){"distance", NULL},
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {"target", LT_ARG_TENSOR, LT_ARG_OPTIONAL}, {0}},
    .forward = LT_FN(draw),
};

LT_PLUGIN("loader_good", "1.0", &test_net.header, &test_head.header, &distance_task.header,
          &distance_spelt_out.header, &test_loss.header, &test_metric.header, &test_visualizer.header)
