/* Built-in loss: luxonis-train's BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss
 * over the SDK's lt_bce_with_logits.
 *
 *     losses:
 *       - name: BCEWithLogitsLoss
 *         params: {reduction: mean, weight: [...], pos_weight: [2.0, 1.0]}
 *
 * predictions are logits [B,C] (classification) or [B,C,H,W]
 * (segmentation); target has the same shape (luxonis-train's one-hot /
 * multi-hot labels; integer or uint8 targets are converted to float). Class
 * indices (an integer target with one dimension less, [B] or [B,H,W]) are
 * one-hot encoded over the C classes first. Any other shape is an error, as
 * in luxonis-train. weight and pos_weight broadcast by PyTorch's rules
 * (pos_weight along the class dimension for [B,C]); neither is learnt.
 * reduction is "mean" or "sum" ("none" is not a scalar loss). */
#include <ltrain/plugin.h>

#include <stdlib.h>
#include <string.h>

typedef struct bce_state {
    lt_reduction reduction;
    int n_weight, n_pos_weight; /* 0 = none */
    float *weight, *pos_weight;
} bce_state;

/* A float-list param into a malloc'd array; nothing when absent. */
static int read_floats(lt_module *m, const char *key, float **out, int *n)
{
    const int count = lt_module_param_floats(m, key, NULL, 0);
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
    s->weight = s->pos_weight = NULL;
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
        return lt_set_error("%s: params.reduction must be 'mean' or 'sum' (a loss is a scalar), got '%s'",
                            lt_module_name(m), reduction);
    if (read_floats(m, "weight", &s->weight, &s->n_weight) ||
        read_floats(m, "pos_weight", &s->pos_weight, &s->n_pos_weight)) {
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

/* Class indices [B, ...] to a float one-hot [B, C, ...] of the predictions' shape. */
static lt_tensor *one_hot(lt_module *m, lt_tensor *indices, const lt_tensor *predictions)
{
    lt_tensor *idx = indices->dtype == LT_I32 ? indices : lt_cast(indices, LT_I32);
    lt_tensor *out = lt_zeros(LT_F32, predictions->ndim, predictions->shape);
    if (!idx || !out) return NULL;
    const int64_t n_classes = predictions->shape[1], batch = predictions->shape[0];
    if (predictions->numel == 0) return out;
    const int64_t inner = predictions->numel / (batch * n_classes);
    const int32_t *k = lt_i32(idx);
    float *o = lt_f32(out);
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < inner; i++) {
            const int32_t c = k[b * inner + i];
            if (c < 0 || c >= n_classes)
                return lt_set_error("%s: class index %d is outside [0, %lld)", lt_module_name(m), (int)c,
                                    (long long)n_classes),
                       NULL;
            o[(b * n_classes + c) * inner + i] = 1.0f;
        }
    return out;
}

/* True when target's shape is predictions' without dimension 1. */
static bool is_index_target(const lt_tensor *predictions, const lt_tensor *target)
{
    if (target->dtype == LT_F32 || predictions->ndim < 2 || target->ndim != predictions->ndim - 1) return false;
    if (target->shape[0] != predictions->shape[0]) return false;
    for (int d = 1; d < target->ndim; d++)
        if (target->shape[d] != predictions->shape[d + 1]) return false;
    return true;
}

static lt_tensor *bce_forward(lt_module *m, lt_tensor *predictions, lt_tensor *target)
{
    bce_state *s = lt_module_state(m);
    if (is_index_target(predictions, target)) target = one_hot(m, target, predictions);
    if (!target) return NULL;
    if (!lt_same_shape(predictions, target)) {
        char ps[64], ts[64];
        return lt_set_error("%s: target %s and predictions %s should have the same shape (or the target be class "
                            "indices without the class dimension)",
                            lt_module_name(m), lt_shape_str(target, ts, sizeof ts),
                            lt_shape_str(predictions, ps, sizeof ps)),
               NULL;
    }
    if (target->dtype != LT_F32) target = lt_cast(target, LT_F32);
    lt_tensor *weight, *pos_weight;
    if (as_tensor(s->weight, s->n_weight, &weight) || as_tensor(s->pos_weight, s->n_pos_weight, &pos_weight))
        return NULL;
    return lt_bce_with_logits(predictions, target, weight, pos_weight, s->reduction);
}

static const lt_loss_desc bce_with_logits_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "BCEWithLogitsLoss"),
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

LT_PLUGIN("ltrain_bce_with_logits_loss", "1.0", &bce_with_logits_loss.header)
