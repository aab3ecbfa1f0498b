/* Example plugin: the seed's "Complex Loss", InstanceKeypointsLoss.
 *
 * It takes several outputs of one head plus two labels, so it shows the
 * multi-argument form of the binding rules: `features`, `class_scores`,
 * `distributions` and `keypoints_raw` are keys of the head's packet, and
 * `target_boundingbox` / `target_keypoints` name the two labels of the
 * keypoints task (a bare `target` would be ambiguous there).
 *
 * A deliberately simple anchor-per-cell detector loss (not the YOLO one):
 *   features        list of L maps [B,C_l,H_l,W_l]: every cell of every map
 *                   is an anchor centred at ((x+0.5)/W_l, (y+0.5)/H_l);
 *                   A = sum of H_l*W_l anchors, level by level, row-major
 *   class_scores    [B,A,n_classes] logits
 *   distributions   [B,A,4] box per anchor: centre offset from the anchor
 *                   and size (dx, dy, w, h), normalised image units
 *   keypoints_raw   [B,A,K*3] per keypoint: offset from the anchor (dx, dy)
 *                   and a visibility logit
 *   target_boundingbox [N,6] (image, class, x_min, y_min, w, h) normalised
 *   target_keypoints   [N,1+K*3] (image, x, y, visibility...) paired by row
 * Each box is assigned, on every level, the anchor of the cell holding its
 * centre (the first box keeps a contested anchor). Sub-losses, each times
 * its weight param, summed into the loss and logged:
 *   class       BCE-with-logits over all scores, summed / max(positives, 1)
 *   bbox        L1 of the positives' boxes, mean
 *   regression  L1 of the visible keypoints' offsets, mean over coordinates
 *   visibility  BCE-with-logits of the positives' visibility logits, mean
 * Params: class_loss_weight, bbox_loss_weight, regr_kpts_loss_weight,
 * vis_kpts_loss_weight (all 1.0). */
#include <ltrain/plugin.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct ikl_state {
    float w_class, w_bbox, w_regr, w_vis;
} ikl_state;

static int ikl_init(lt_module *m)
{
    ikl_state *s = lt_module_state(m);
    static const char *const keys[] = {"class_loss_weight", "bbox_loss_weight", "regr_kpts_loss_weight",
                                       "vis_kpts_loss_weight"};
    float *w[] = {&s->w_class, &s->w_bbox, &s->w_regr, &s->w_vis};
    for (int i = 0; i < 4; i++) {
        *w[i] = (float)lt_module_param_float(m, keys[i], 1.0);
        if (!(*w[i] >= 0.0f)) return lt_set_error("params.%s must be >= 0, got %g", keys[i], (double)*w[i]);
    }
    return 0;
}

/* ---- shapes ---- */

typedef struct ikl_dims {
    int64_t B, A, NC, K, N;
} ikl_dims;

static int want(const char *name, const lt_tensor *t, int ndim, const int64_t *shape, const char *layout)
{
    char got[64];
    if (t->dtype != LT_F32)
        return lt_set_error("%s %s must be float32, got %s", name, lt_shape_str(t, got, sizeof got),
                            lt_dtype_name(t->dtype));
    bool ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = shape[d] < 0 || t->shape[d] == shape[d];
    if (ok) return 0;
    return lt_set_error("%s is %s; expected %s", name, lt_shape_str(t, got, sizeof got), layout);
}

static int check_shapes(const lt_tensor_list *features, const lt_tensor *class_scores, const lt_tensor *distributions,
                        const lt_tensor *keypoints_raw, const lt_tensor *boxes, const lt_tensor *kpts, ikl_dims *d)
{
    char got[64], layout[160];
    if (features->n < 1) return lt_set_error("features is an empty list");
    d->A = 0;
    for (int l = 0; l < features->n; l++) {
        const lt_tensor *f = features->items[l];
        if (!f || f->ndim != 4)
            return lt_set_error("features[%d] is %s; expected [B,C,H,W]", l,
                                f ? lt_shape_str(f, got, sizeof got) : "NULL");
        d->A += f->shape[2] * f->shape[3];
    }
    d->B = features->items[0]->shape[0];
    if (class_scores->ndim != 3)
        return lt_set_error("class_scores is %s; expected [B,A,n_classes]",
                            lt_shape_str(class_scores, got, sizeof got));
    d->NC = class_scores->shape[2];
    snprintf(layout, sizeof layout, "[B,A,n_classes] = [%lld,%lld,n_classes] (A = %lld anchors from the features)",
             (long long)d->B, (long long)d->A, (long long)d->A);
    if (want("class_scores", class_scores, 3, (int64_t[]){d->B, d->A, -1}, layout) != 0) return -1;
    snprintf(layout, sizeof layout, "[B,A,4] = [%lld,%lld,4]", (long long)d->B, (long long)d->A);
    if (want("distributions", distributions, 3, (int64_t[]){d->B, d->A, 4}, layout) != 0) return -1;
    snprintf(layout, sizeof layout, "[B,A,K*3] = [%lld,%lld,K*3]", (long long)d->B, (long long)d->A);
    if (want("keypoints_raw", keypoints_raw, 3, (int64_t[]){d->B, d->A, -1}, layout) != 0) return -1;
    if (keypoints_raw->shape[2] < 3 || keypoints_raw->shape[2] % 3)
        return lt_set_error("keypoints_raw %s: the last dimension must be K*3 with K >= 1",
                            lt_shape_str(keypoints_raw, got, sizeof got));
    d->K = keypoints_raw->shape[2] / 3;
    if (want("target_boundingbox", boxes, 2, (int64_t[]){-1, 6}, "[N,6] (image, class, x, y, w, h)") != 0) return -1;
    d->N = boxes->shape[0];
    snprintf(layout, sizeof layout, "[N,1+K*3] = [%lld,%lld] to pair with target_boundingbox and keypoints_raw",
             (long long)d->N, (long long)(1 + 3 * d->K));
    return want("target_keypoints", kpts, 2, (int64_t[]){d->N, 1 + 3 * d->K}, layout);
}

/* ---- assignment ---- */

typedef struct ikl_targets {
    int64_t P;        /* positives */
    int32_t *index;   /* [P] flat anchor b*A + a */
    float *cls;       /* [B,A,NC] one-hot at positives */
    float *box;       /* [P,4] */
    float *kpt_xy;    /* [P,K,2] */
    float *vis;       /* [P,K,1] 1 where visible */
    int64_t n_visible;
} ikl_targets;

static int64_t cell(float v, int64_t n)
{
    int64_t i = (int64_t)floorf(v * (float)n);
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/* Adds box i as a positive of anchor `a` (cell gx, gy of an H x W level). */
static void add_positive(ikl_targets *t, const ikl_dims *d, const float *box, const float *kp, int64_t flat,
                         int64_t cls, float ax, float ay)
{
    int64_t p = t->P++;
    t->index[p] = (int32_t)flat;
    t->cls[flat * d->NC + cls] = 1.0f;
    float cx = box[2] + 0.5f * box[4], cy = box[3] + 0.5f * box[5];
    float *b = t->box + p * 4;
    b[0] = cx - ax, b[1] = cy - ay, b[2] = box[4], b[3] = box[5];
    for (int64_t k = 0; k < d->K; k++) {
        const float *src = kp + 1 + 3 * k;
        bool visible = src[2] > 0.0f;
        t->kpt_xy[(p * d->K + k) * 2] = src[0] - ax;
        t->kpt_xy[(p * d->K + k) * 2 + 1] = src[1] - ay;
        t->vis[p * d->K + k] = visible ? 1.0f : 0.0f;
        t->n_visible += visible;
    }
}

static int assign(const lt_tensor_list *features, const lt_tensor *boxes, const lt_tensor *kpts, const ikl_dims *d,
                  ikl_targets *t)
{
    int64_t max_p = d->N * features->n;
    unsigned char *taken = lt_step_alloc((size_t)(d->B * d->A) + 1);
    t->index = lt_step_alloc(sizeof(int32_t) * (size_t)(max_p + 1));
    t->box = lt_step_alloc(sizeof(float) * (size_t)(max_p * 4 + 1));
    t->kpt_xy = lt_step_alloc(sizeof(float) * (size_t)(max_p * d->K * 2 + 1));
    t->vis = lt_step_alloc(sizeof(float) * (size_t)(max_p * d->K + 1));
    if (!taken || !t->index || !t->box || !t->kpt_xy || !t->vis) return -1;
    memset(taken, 0, (size_t)(d->B * d->A));
    for (int64_t i = 0; i < d->N; i++) {
        const float *box = lt_f32(boxes) + i * 6, *kp = lt_f32(kpts) + i * (1 + 3 * d->K);
        int64_t b = (int64_t)box[0], cls = (int64_t)box[1];
        if (box[0] != (float)b || b < 0 || b >= d->B)
            return lt_set_error("target_boundingbox row %lld: image index %g outside 0..%lld", (long long)i,
                                (double)box[0], (long long)d->B - 1);
        if (box[1] != (float)cls || cls < 0 || cls >= d->NC)
            return lt_set_error("target_boundingbox row %lld: class %g outside 0..%lld", (long long)i, (double)box[1],
                                (long long)d->NC - 1);
        if (kp[0] != box[0])
            return lt_set_error("target_keypoints row %lld is for image %g but target_boundingbox row %lld for image "
                                "%g; rows must pair", (long long)i, (double)kp[0], (long long)i, (double)box[0]);
        float cx = box[2] + 0.5f * box[4], cy = box[3] + 0.5f * box[5];
        int64_t offset = 0;
        for (int l = 0; l < features->n; l++) {
            int64_t H = features->items[l]->shape[2], W = features->items[l]->shape[3];
            int64_t gx = cell(cx, W), gy = cell(cy, H);
            int64_t flat = b * d->A + offset + gy * W + gx;
            offset += H * W;
            if (taken[flat]) continue;
            taken[flat] = 1;
            add_positive(t, d, box, kp, flat, cls, ((float)gx + 0.5f) / (float)W, ((float)gy + 0.5f) / (float)H);
        }
    }
    return 0;
}

/* ---- the loss ---- */

typedef struct ikl_terms {
    lt_tensor *cls, *bbox, *regr, *vis;
} ikl_terms;

static int positive_terms(lt_tensor *distributions, lt_tensor *keypoints_raw, const ikl_dims *d,
                          const ikl_targets *t, ikl_terms *out)
{
    int64_t P = t->P, K = d->K;
    lt_tensor *index = lt_from_data(LT_I32, 1, (int64_t[]){P}, t->index);
    lt_tensor *boxes = lt_index_select(lt_reshape(distributions, 2, (int64_t[]){d->B * d->A, 4}), 0, index);
    out->bbox = lt_l1_loss(boxes, lt_from_data(LT_F32, 2, (int64_t[]){P, 4}, t->box), LT_REDUCTION_MEAN);

    lt_tensor *kp = lt_index_select(lt_reshape(keypoints_raw, 3, (int64_t[]){d->B * d->A, K, 3}), 0, index);
    lt_tensor *visible = lt_from_data(LT_F32, 3, (int64_t[]){P, K, 1}, t->vis);
    lt_tensor *xy_target = lt_from_data(LT_F32, 3, (int64_t[]){P, K, 2}, t->kpt_xy);
    lt_tensor *xy_err = lt_abs(lt_sub(lt_slice(kp, 2, 0, 2, 1), xy_target));
    lt_tensor *regr_sum = lt_sum(lt_mul(xy_err, visible), NULL, 0, false);
    float n_coords = t->n_visible ? 2.0f * (float)t->n_visible : 1.0f;
    out->regr = lt_div_scalar(regr_sum, n_coords);
    out->vis = lt_bce_with_logits(lt_slice(kp, 2, 2, 3, 1), visible, NULL, NULL, LT_REDUCTION_MEAN);
    return out->bbox && out->regr && out->vis ? 0 : -1;
}

static lt_tensor *ikl_forward(lt_module *m, const lt_tensor_list *features, lt_tensor *class_scores,
                              lt_tensor *distributions, lt_tensor *keypoints_raw, lt_tensor *target_boundingbox,
                              lt_tensor *target_keypoints)
{
    const ikl_state *s = lt_module_state(m);
    ikl_dims d = {0};
    if (check_shapes(features, class_scores, distributions, keypoints_raw, target_boundingbox, target_keypoints, &d))
        return NULL;
    lt_tensor *cls_target = lt_zeros(LT_F32, 3, class_scores->shape);
    if (!cls_target) return NULL;
    ikl_targets t = {.cls = lt_f32(cls_target)};
    if (assign(features, target_boundingbox, target_keypoints, &d, &t) != 0) return NULL;

    ikl_terms terms = {0};
    lt_tensor *cls_sum = lt_bce_with_logits(class_scores, cls_target, NULL, NULL, LT_REDUCTION_SUM);
    terms.cls = lt_div_scalar(cls_sum, t.P ? (float)t.P : 1.0f);
    if (t.P == 0) {
        /* nothing to regress: only the "no object" class term remains */
        terms.bbox = terms.regr = terms.vis = lt_scalar(0.0f);
    } else if (positive_terms(distributions, keypoints_raw, &d, &t, &terms) != 0) {
        return NULL;
    }
    lt_tensor *cls = lt_mul_scalar(terms.cls, s->w_class), *bbox = lt_mul_scalar(terms.bbox, s->w_bbox);
    lt_tensor *regr = lt_mul_scalar(terms.regr, s->w_regr), *vis = lt_mul_scalar(terms.vis, s->w_vis);
    if (lt_module_log_loss(m, "class", cls) || lt_module_log_loss(m, "bbox", bbox) ||
        lt_module_log_loss(m, "regression", regr) || lt_module_log_loss(m, "visibility", vis))
        return NULL;
    return lt_add(lt_add(cls, bbox), lt_add(regr, vis));
}

static const lt_loss_desc instance_keypoints_loss = {
    .header = LT_DESC_HEADER(LT_DESC_LOSS, lt_loss_desc, "InstanceKeypointsLoss"),
    .supported_tasks = (const char *const[]){"keypoints", NULL},
    .node = "EfficientKeypointBBoxHead",
    .state_size = sizeof(ikl_state),
    .init = ikl_init,
    .args = (const lt_arg_spec[]){
        {"features", LT_ARG_LIST, 0},
        {"class_scores", LT_ARG_TENSOR, 0},
        {"distributions", LT_ARG_TENSOR, 0},
        {"keypoints_raw", LT_ARG_TENSOR, 0},
        {"target_boundingbox", LT_ARG_TENSOR, 0},
        {"target_keypoints", LT_ARG_TENSOR, 0},
        {0},
    },
    .forward = LT_FN(ikl_forward),
};

LT_PLUGIN("example_instance_keypoints_loss", "1.0", &instance_keypoints_loss.header)
