/* Comes after good/ on the search path in test_loader.c: its LoaderTestNet
 * must be reported as shadowed (naming both files) while ShadowOnlyLoss,
 * which nobody else registers, still loads. ShadowOnlyLoss names a
 * misspelt task, which loads (tasks may come from elsewhere) but makes
 * `ltrain plugins` warn. */
#include <ltrain/plugin.h>

static int identity_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)state;
    (void)nc;
    *out = *in;
    return 0;
}

static lt_tensor *mean_forward(lt_module *m, lt_tensor *predictions)
{
    (void)m;
    return lt_mean(predictions, NULL, 0, false);
}

static const lt_node_desc same_name_net = {
    .header = {.abi_version = LT_PLUGIN_ABI_VERSION,
               .size = sizeof(lt_node_desc),
               .kind = LT_DESC_NODE,
               .name = "LoaderTestNet",
               .summary = "the shadow copy"},
    .role = LT_NODE_BACKBONE,
    .forward = identity_forward,
};

static const lt_loss_desc shadow_only = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "ShadowOnlyLoss"),
    .supported_tasks = (const char *const[]){"segmentaton", NULL},
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {0}},
    .forward = LT_FN(mean_forward),
};

LT_PLUGIN("loader_shadow", "1.0", &same_name_net.header, &shadow_only.header)
