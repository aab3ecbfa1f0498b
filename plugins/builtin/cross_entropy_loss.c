/* Built-in loss: luxonis-train's CrossEntropyLoss, torch.nn.CrossEntropyLoss
 * over the SDK's fused lt_cross_entropy.
 *
 *     losses:
 *       - name: CrossEntropyLoss
 *         params: {weight: [1.0, 2.0, 1.0], ignore_index: -100, reduction: mean, label_smoothing: 0.0}
 *
 * predictions are logits [B,C] (classification) or [B,C,H,W]
 * (segmentation). target is either class indices (integer, one dimension
 * less) or, as luxonis-train's labels are, a one-hot / multi-hot tensor of
 * the predictions' shape, which is reduced to indices by argmax over the
 * class dimension (the first maximum, as torch.argmax). As in luxonis-train,
 * a single-channel prediction gets a zero logit channel prepended (so the
 * loss is the binary one) and a single-channel target becomes [1 - t, t].
 * A one-hot target of another shape is an error (luxonis-train would
 * argmax it anyway). reduction is "mean" or "sum" ("none" is not a scalar
 * loss). */
#include <ltrain/plugin.h>

#include <stdlib.h>
#include <string.h>

typedef struct ce_state {
    lt_cross_entropy_params params; /* weight stays NULL here: a step tensor is made per call */
    int n_weight;
    float *weight;
} ce_state;

static int parse_reduction(lt_module *m, lt_reduction *out)
{
    const char *reduction = lt_module_param_str(m, "reduction", "mean");
    if (!strcmp(reduction, "mean"))
        *out = LT_REDUCTION_MEAN;
    else if (!strcmp(reduction, "sum"))
        *out = LT_REDUCTION_SUM;
    else
        return lt_set_error("%s: params.reduction must be 'mean' or 'sum' (a loss is a scalar), got '%s'",
                            lt_module_name(m), reduction);
    return 0;
}

static void ce_fini(lt_module *m)
{
    ce_state *s = lt_module_state(m);
    free(s->weight);
    s->weight = NULL;
}

static int ce_init(lt_module *m)
{
    ce_state *s = lt_module_state(m);
    s->params = LT_CROSS_ENTROPY_DEFAULTS;
    if (parse_reduction(m, &s->params.reduction)) return -1;
    s->params.ignore_index = (int32_t)lt_module_param_int(m, "ignore_index", -100);
    const double smoothing = lt_module_param_float(m, "label_smoothing", 0.0);
    if (!(smoothing >= 0.0 && smoothing <= 1.0))
        return lt_set_error("%s: params.label_smoothing must be in [0, 1], got %g", lt_module_name(m), smoothing);
    s->params.label_smoothing = (float)smoothing;
    const int n = lt_module_param_floats(m, "weight", NULL, 0);
    if (n <= 0) return 0;
    double *tmp = malloc((size_t)n * sizeof *tmp);
    s->weight = malloc((size_t)n * sizeof *s->weight);
    if (!tmp || !s->weight) {
        free(tmp);
        ce_fini(m); /* fini runs only after a successful init */
        return lt_set_error("%s: out of memory for params.weight", lt_module_name(m));
    }
    lt_module_param_floats(m, "weight", tmp, n);
    for (int i = 0; i < n; i++) s->weight[i] = (float)tmp[i];
    free(tmp);
    s->n_weight = n;
    return 0;
}

/* [zeros, x] along dim: the binary case written as two classes. */
static lt_tensor *prepend_zero_channel(lt_tensor *x, int dim)
{
    lt_tensor *zeros = lt_zeros(LT_F32, x->ndim, x->shape);
    return lt_concat((lt_tensor *[]){zeros, x}, 2, dim);
}

/* One-hot (or soft) targets of the predictions' shape to class indices. */
static lt_tensor *dense_to_indices(lt_module *m, lt_tensor **predictions, lt_tensor *target)
{
    const int ch = (*predictions)->ndim > 1 ? 1 : 0;
    if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
    if (target && (*predictions)->shape[ch] == 1) {
        *predictions = prepend_zero_channel(*predictions, ch);
        if (target->shape[ch] == 1) target = lt_concat((lt_tensor *[]){lt_rsub_scalar(target, 1.0f), target}, 2, ch);
    }
    if (!target || !*predictions) return NULL;
    if (!lt_same_shape(*predictions, target)) {
        char ps[64], ts[64];
        return lt_set_error("%s: a one-hot target %s needs the predictions' shape %s", lt_module_name(m),
                            lt_shape_str(target, ts, sizeof ts), lt_shape_str(*predictions, ps, sizeof ps)),
               NULL;
    }
    return lt_argmax(target, ch, false);
}

static lt_tensor *ce_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    ce_state *s = lt_module_state(m);
    if (predictions->ndim == target->ndim) target = dense_to_indices(m, &predictions, target);
    if (!predictions || !target) return NULL;
    if (target->ndim != predictions->ndim - 1) {
        char ps[64], ts[64];
        return lt_set_error("%s: target %s must have the predictions' dimensions (one-hot) or one less (class "
                            "indices); predictions are %s",
                            lt_module_name(m), lt_shape_str(target, ts, sizeof ts),
                            lt_shape_str(predictions, ps, sizeof ps)),
               NULL;
    }
    if (target->dtype != LT_I32) target = lt_cast(target, LT_I32);
    lt_cross_entropy_params p = s->params;
    if (s->n_weight) {
        p.weight = lt_from_data(LT_F32, 1, (int64_t[]){s->n_weight}, s->weight);
        if (!p.weight) return NULL;
    }
    return lt_cross_entropy(predictions, target, &p);
}

static const lt_loss_desc cross_entropy_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "CrossEntropyLoss"),
    .supported_tasks = (const char *const[]){"segmentation", "classification", NULL},
    .state_size = sizeof(ce_state),
    .init = ce_init,
    .fini = ce_fini,
    .args = (const lt_arg_spec[]){
        {"predictions", LT_ARG_TENSOR, 0},
        {"target", LT_ARG_TENSOR, 0},
        {0},
    },
    .forward = LT_FN(ce_forward),
};

LT_PLUGIN("ltrain_cross_entropy_loss", "1.0", &cross_entropy_loss.header)
