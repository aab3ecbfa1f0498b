/* Built as shadow/loader_good.so: the same file name as good/loader_good.so.
 * The first of the two on the search path wins; the other is not loaded. */
#include <ltrain/plugin.h>

static lt_tensor *mean_forward(lt_module *m, lt_tensor *predictions)
{
    (void)m;
    return lt_mean(predictions, NULL, 0, false);
}

static const lt_loss_desc twin = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "BasenameTwinLoss"),
    .args = (const lt_arg_spec[]){{"predictions", LT_ARG_TENSOR, 0}, {0}},
    .forward = LT_FN(mean_forward),
};

LT_PLUGIN("loader_twin", "1.0", &twin.header)
