/* Example plugin: the seed's "Simple Loss", BCEWithLogitsLoss.
 *
 *     losses:
 *       - name: ExampleBCEWithLogitsLoss
 *         params: {reduction: mean, pos_weight: [2.0, 1.0]}
 *
 * `predictions` binds to the node's main output and `target` to the task's
 * single label (segmentation [B,C,H,W] or classification [B,C]); a
 * non-float target (uint8 / int32 masks) is converted to float. Params, as
 * torch.nn.BCEWithLogitsLoss: reduction ("mean" or "sum": a loss must be a
 * scalar), weight and pos_weight (lists broadcast to the predictions by
 * PyTorch's rules: pos_weight along the last dimension). */
#include <ltrain/plugin.h>

#include <stdlib.h>
#include <string.h>

typedef struct bce_state {
    lt_reduction reduction;
    int n_weight, n_pos_weight; /* 0 = none */
    float *weight, *pos_weight;
} bce_state;

/* A float-list param into a malloc'd array; none when absent (a param of
 * the wrong type is reported by the core after init). */
static int read_floats(lt_module *m, const char *key, float **out, int *n)
{
    int count = lt_module_param_floats(m, key, NULL, 0);
    if (count <= 0) return 0;
    double *tmp = malloc((size_t)count * sizeof *tmp);
    *out = malloc((size_t)count * sizeof **out);
    if (!tmp || !*out) {
        free(tmp);
        return lt_set_error("%s: out of memory for params.%s", lt_module_name(m), key);
    }
    lt_module_param_floats(m, key, tmp, count);
    for (int i = 0; i < count; i++) (*out)[i] = (float)tmp[i];
    free(tmp);
    *n = count;
    return 0;
}

static void bce_fini(lt_module *m)
{
    bce_state *s = lt_module_state(m);
    free(s->weight);
    free(s->pos_weight);
}

static int bce_init(lt_module *m)
{
    bce_state *s = lt_module_state(m);
    const char *reduction = lt_module_param_str(m, "reduction", "mean");
    if (!strcmp(reduction, "mean"))
        s->reduction = LT_REDUCTION_MEAN;
    else if (!strcmp(reduction, "sum"))
        s->reduction = LT_REDUCTION_SUM;
    else
        return lt_set_error("params.reduction must be 'mean' or 'sum' (a loss is a scalar), got '%s'", reduction);
    if (read_floats(m, "weight", &s->weight, &s->n_weight) != 0 ||
        read_floats(m, "pos_weight", &s->pos_weight, &s->n_pos_weight) != 0) {
        bce_fini(m); /* fini runs only after a successful init */
        return -1;
    }
    return 0;
}

/* A step tensor [n] of the floats, or *out = NULL when there are none. */
static int as_tensor(const float *v, int n, lt_tensor **out)
{
    *out = n ? lt_from_data(LT_F32, 1, (int64_t[]){n}, v) : NULL;
    return n && !*out ? -1 : 0;
}

static lt_tensor *bce_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    bce_state *s = lt_module_state(m);
    lt_tensor *weight, *pos_weight;
    if (as_tensor(s->weight, s->n_weight, &weight) != 0 || as_tensor(s->pos_weight, s->n_pos_weight, &pos_weight) != 0)
        return NULL;
    if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
    return lt_bce_with_logits(predictions, target, weight, pos_weight, s->reduction);
}

static const lt_loss_desc bce_with_logits_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "ExampleBCEWithLogitsLoss"),
    .supported_tasks = (const char *const[]){"segmentation", "classification", NULL},
    .state_size = sizeof(bce_state),
    .init = bce_init,
    .fini = bce_fini,
    .args = (const lt_arg_spec[]){
        {"predictions", LT_ARG_TENSOR, 0},
        {"target", LT_ARG_TENSOR, 0},
        {0},
    },
    .forward = LT_FN(bce_forward),
};

LT_PLUGIN("example_bce_loss", "1.0", &bce_with_logits_loss.header)
