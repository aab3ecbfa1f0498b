/* One source, one defect per build: bad/meson.build compiles it once per
 * BAD_* define into <variant>.so. Every variant first declares a valid node
 * "Valid_<variant>", which must never be registered: a plugin with any bad
 * descriptor is skipped as a whole. Without a BAD_* define it is the
 * well-formed neighbour that must load despite the others. */
#include <ltrain/plugin.h>

#define STR2(x) #x
#define STR(x) STR2(x)
#define UNUSED __attribute__((unused))

UNUSED static int node_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)state;
    (void)nc;
    *out = *in;
    return 0;
}

UNUSED static lt_tensor *loss_forward(lt_module *m, lt_tensor *predictions)
{
    (void)m;
    return lt_mean(predictions, NULL, 0, false);
}

UNUSED static int metric_update(lt_module *m, lt_tensor *predictions)
{
    (void)m;
    return predictions ? 0 : -1;
}

UNUSED static int metric_compute(lt_module *m, lt_metric_result *r)
{
    (void)m;
    return lt_metric_result_set_main(r, 1.0f);
}

UNUSED static const lt_node_desc valid = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "Valid_" STR(VARIANT)),
    .role = LT_NODE_BACKBONE,
    .forward = node_forward,
};

#define ONE_ARG ((const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {0}})

/* An entry written by hand, for tables LT_PLUGIN would never produce. */
#define HAND_WRITTEN_ENTRY(...)                                                         \
    __attribute__((visibility("default"))) const lt_plugin_info *lt_plugin_entry(void); \
    __attribute__((visibility("default"))) const lt_plugin_info *lt_plugin_entry(void)  \
    {                                                                                   \
        __VA_ARGS__                                                                     \
    }

#if defined(BAD_NO_ENTRY)
/* Exports an entry point of another name only. */
__attribute__((visibility("default"))) const lt_desc_header *lt_plugin_entry_v0(void);
__attribute__((visibility("default"))) const lt_desc_header *lt_plugin_entry_v0(void) { return &valid.header; }

#elif defined(BAD_PLUGIN_ABI)
HAND_WRITTEN_ENTRY(static const lt_desc_header *const descs[] = {&valid.header, NULL};
                   static const lt_plugin_info info = {.abi_version = 99, .size = sizeof(lt_plugin_info),
                                                       .name = "plugin_abi", .version = "1", .descriptors = descs};
                   return &info;)

#elif defined(BAD_ENTRY_NULL)
HAND_WRITTEN_ENTRY(return NULL;)

#elif defined(BAD_INFO_NAME)
HAND_WRITTEN_ENTRY(static const lt_desc_header *const descs[] = {&valid.header, NULL};
                   static const lt_plugin_info info = {.abi_version = LT_PLUGIN_ABI_VERSION,
                                                       .size = sizeof(lt_plugin_info), .descriptors = descs};
                   return &info;)

#elif defined(BAD_NO_DESCRIPTORS)
HAND_WRITTEN_ENTRY(static const lt_desc_header *const descs[] = {NULL};
                   static const lt_plugin_info info = {.abi_version = LT_PLUGIN_ABI_VERSION,
                                                       .size = sizeof(lt_plugin_info), .name = "no_descriptors",
                                                       .descriptors = descs};
                   return &info;)

#elif defined(BAD_DESC_ABI)
static const lt_node_desc future = {
    .header = {.abi_version = 2, .size = sizeof(lt_node_desc), .kind = LT_DESC_NODE, .name = "FutureNet"},
    .role = LT_NODE_BACKBONE,
    .forward = node_forward,
};
LT_PLUGIN("desc_abi", "1", &valid.header, &future.header)

#elif defined(BAD_SMALL_SIZE)
static const lt_node_desc small = {
    .header = {.abi_version = LT_PLUGIN_ABI_VERSION, .size = sizeof(lt_desc_header), .kind = LT_DESC_NODE,
               .name = "SmallNet"},
    .role = LT_NODE_BACKBONE,
    .forward = node_forward,
};
LT_PLUGIN("small_size", "1", &valid.header, &small.header)

#elif defined(BAD_KIND)
static const lt_node_desc odd = {
    .header = {.abi_version = LT_PLUGIN_ABI_VERSION, .size = sizeof(lt_node_desc), .kind = (lt_desc_kind)42,
               .name = "OddKind"},
    .forward = node_forward,
};
LT_PLUGIN("bad_kind", "1", &valid.header, &odd.header)

#elif defined(BAD_NULL_FORWARD)
static const lt_node_desc no_forward = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "NullForwardNet"),
    .role = LT_NODE_BACKBONE,
};
LT_PLUGIN("null_forward", "1", &valid.header, &no_forward.header)

#elif defined(BAD_NULL_NAME)
static const lt_loss_desc nameless = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, NULL),
    .args = ONE_ARG,
    .forward = LT_FN(loss_forward),
};
LT_PLUGIN("null_name", "1", &valid.header, &nameless.header)

#elif defined(BAD_DUP_NAME)
static const lt_loss_desc first = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "DupLoss"),
    .args = ONE_ARG,
    .forward = LT_FN(loss_forward),
};
static const lt_loss_desc second = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "DupLoss"),
    .args = ONE_ARG,
    .forward = LT_FN(loss_forward),
};
LT_PLUGIN("dup_name", "1", &valid.header, &first.header, &second.header)

#elif defined(BAD_UNDEFINED_SYMBOL)
/* Defined nowhere: RTLD_NOW makes dlopen fail on it. */
extern int lt_loader_test_missing_symbol(void);
static int calls_missing(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)state;
    (void)nc;
    *out = *in;
    return lt_loader_test_missing_symbol();
}
static const lt_node_desc needs_missing = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "NeedsMissing"),
    .role = LT_NODE_BACKBONE,
    .forward = calls_missing,
};
LT_PLUGIN("undefined_symbol", "1", &valid.header, &needs_missing.header)

#elif defined(BAD_NODE_NO_INIT)
static const lt_node_desc stateful = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "StatefulNet"),
    .role = LT_NODE_BACKBONE,
    .state_size = 64,
    .forward = node_forward,
};
LT_PLUGIN("node_no_init", "1", &valid.header, &stateful.header)

#elif defined(BAD_LOSS_NO_FORWARD)
static const lt_loss_desc idle = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "IdleLoss"),
    .args = ONE_ARG,
};
LT_PLUGIN("loss_no_forward", "1", &valid.header, &idle.header)

#elif defined(BAD_METRIC_NO_COMPUTE)
static const lt_metric_desc no_compute = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "NoComputeMetric"),
    .args = ONE_ARG,
    .update = LT_FN(metric_update),
};
LT_PLUGIN("metric_no_compute", "1", &valid.header, &no_compute.header)

#elif defined(BAD_METRIC_NO_UPDATE)
static const lt_metric_desc no_update = {
    .header = LT_DESC_HEADER(LT_DESC_METRIC, lt_metric_desc, "NoUpdateMetric"),
    .args = ONE_ARG,
    .compute = metric_compute,
};
LT_PLUGIN("metric_no_update", "1", &valid.header, &no_update.header)

#elif defined(BAD_VIS_NO_FORWARD)
static const lt_visualizer_desc blind = {
    .header = LT_DESC_HEADER(LT_DESC_VISUALIZER, lt_visualizer_desc, "BlindVisualizer"),
    .args = ONE_ARG,
};
LT_PLUGIN("vis_no_forward", "1", &valid.header, &blind.header)

#elif defined(BAD_TASK_NO_LABELS)
static const lt_task_desc unlabeled = {
    .header = LT_DESC_HEADER(LT_DESC_TASK, lt_task_desc, "unlabeled"),
};
LT_PLUGIN("task_no_labels", "1", &valid.header, &unlabeled.header)

#elif defined(BAD_DUP_ARG)
static const lt_loss_desc twice = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "TwiceLoss"),
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {"predictions", LT_ARG_LIST, 0}, {0}},
    .forward = LT_FN(loss_forward),
};
LT_PLUGIN("dup_arg", "1", &valid.header, &twice.header)

#elif defined(BAD_ARG_KIND)
static const lt_loss_desc kindless = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "KindlessLoss"),
    .args = (const lt_arg_spec[]){{"predictions", (lt_arg_kind)0, 0}, {0}},
    .forward = LT_FN(loss_forward),
};
LT_PLUGIN("arg_kind", "1", &valid.header, &kindless.header)

#elif defined(BAD_NO_ARGS)
static const lt_loss_desc undeclared = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "UndeclaredLoss"),
    .forward = LT_FN(loss_forward),
};
LT_PLUGIN("no_args", "1", &valid.header, &undeclared.header)

#elif defined(BAD_EMPTY_TASKS)
static const lt_loss_desc taskless = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "TasklessLoss"),
    .supported_tasks = (const char *const[]){NULL},
    .args = ONE_ARG,
    .forward = LT_FN(loss_forward),
};
LT_PLUGIN("empty_tasks", "1", &valid.header, &taskless.header)

#else
LT_PLUGIN("ok_neighbour", "1", &valid.header)
#endif
