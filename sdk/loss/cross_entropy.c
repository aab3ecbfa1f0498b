/* F.cross_entropy as one fused op (log-softmax inside, nothing materialised
 * but two floats per position: the row maximum and log-sum-exp).
 *
 * logits are viewed as [N, C, S] (S = d1*d2*..., 1 for [N,C]); a "position"
 * is one (n, s) pair. With S == 1 each position's classes are a contiguous
 * row; otherwise a block of positions is processed at once so that the loops
 * run over contiguous memory (the NCHW segmentation case).
 *
 * Per position, with logp = (x - max) - logsumexp (PyTorch 1.13 formulas):
 *   class index t:  (1 - ls) * w[t] * -logp[t] + ls/C * sum_c w[c] * -logp[c]
 *                   (0 when t == ignore_index; w = 1 without weights)
 *   probabilities:  -sum_c w[c] * (t[c] * (1 - ls) + ls/C) * logp[c]
 * mean divides by the summed w[t] of non-ignored positions (class indices)
 * or by the number of positions (probabilities). */
#include "../internal.h"
#include "../kernels/fastmath.h"


#include <math.h>
#include <string.h>


typedef struct ce_args {
    const float *x;      /* logits [N, C, S] */
    const int32_t *cls;  /* class-index targets [N, S], or NULL */
    const float *prob;   /* probability targets [N, C, S], or NULL */
    const float *w;      /* class weights [C] (arena copy; all 1 without weights) */
    float w_sum;         /* sum of w */
    float ls;            /* label smoothing */
    float keep, ls_c;    /* 1 - ls and ls / C */
    int32_t ignore;
    int64_t n, c, s;
} ce_args;

typedef struct ce_saved {
    ce_args a;
    lt_reduction reduction;
    float *row_max, *log_sum; /* per position */
    double denom;             /* mean: sum of target weights / positions */
} ce_saved;

enum { CE_BLOCK = 64 };

/* ---------------- forward ---------------- */

/* Loss of one position from its statistics. */
static inline void finish_position(const ce_args *a, int64_t p, float m, float log_sum, float x_t, float acc,
                                   float acc_w, float *loss, float *weight)
{
    if (a->cls) {
        const int32_t t = a->cls[p];
        if (t == a->ignore) {
            loss[p] = weight[p] = 0.0f;
            return;
        }
        const float wt = a->w[t];
        float l = a->keep * wt * (log_sum - (x_t - m));
        if (a->ls > 0.0f) l += a->ls_c * (acc + log_sum * a->w_sum); /* acc = sum w (max - x) */
        loss[p] = l;
        weight[p] = wt;
    } else {
        loss[p] = acc_w + log_sum * acc; /* acc = sum w t', acc_w = sum w t' (max - x) */
        weight[p] = 1.0f;
    }
}

/* PyTorch's smoothed probability target t * (1 - ls) + ls / C. */
static inline float smoothed(float t, float keep, float ls_c) { return t * keep + ls_c; }

/* One position whose classes are contiguous (S == 1). */
static void forward_row(const ce_args *a, int64_t p, float *row_max, float *log_sum, float *loss, float *weight)
{
    const int64_t C = a->c;
    const float *x = a->x + p * C, *w = a->w;
    const float keep = a->keep, ls_c = a->ls_c;
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t k = 0; k < C; k++) m = x[k] > m ? x[k] : m;
    float se = 0.0f, acc = 0.0f, acc_w = 0.0f;
#pragma omp simd reduction(+ : se)
    for (int64_t k = 0; k < C; k++) se += lt__exp_poly(x[k] - m);
    if (a->prob) {
        const float *t = a->prob + p * C;
#pragma omp simd reduction(+ : acc, acc_w)
        for (int64_t k = 0; k < C; k++) {
            const float wt = w[k] * smoothed(t[k], keep, ls_c);
            acc += wt;
            acc_w += wt * (m - x[k]);
        }
    } else if (a->ls > 0.0f) {
#pragma omp simd reduction(+ : acc)
        for (int64_t k = 0; k < C; k++) acc += w[k] * (m - x[k]);
    }
    const float lsum = logf(se);
    row_max[p] = m;
    log_sum[p] = lsum;
    const int32_t t = a->cls ? a->cls[p] : 0;
    const float x_t = a->cls && t != a->ignore ? x[t] : 0.0f;
    finish_position(a, p, m, lsum, x_t, acc, acc_w, loss, weight);
}

/* nb positions starting at (i, j0) whose classes are S apart. */
static void forward_block(const ce_args *a, int64_t i, int64_t j0, int64_t nb, float *row_max, float *log_sum,
                          float *loss, float *weight)
{
    const int64_t C = a->c, S = a->s, p0 = i * S + j0;
    const float *x = a->x + i * C * S + j0;
    const float keep = a->keep, ls_c = a->ls_c;
    float m[CE_BLOCK], se[CE_BLOCK], acc[CE_BLOCK], acc_w[CE_BLOCK];
    for (int64_t j = 0; j < nb; j++) {
        m[j] = -INFINITY;
        se[j] = acc[j] = acc_w[j] = 0.0f;
    }
    for (int64_t k = 0; k < C; k++) {
        const float *xr = x + k * S;
        for (int64_t j = 0; j < nb; j++) m[j] = (xr[j] > m[j]) | (xr[j] != xr[j]) ? xr[j] : m[j]; /* NaN wins */
    }
    for (int64_t k = 0; k < C; k++) {
        const float *xr = x + k * S;
        const float wk = a->w[k];
        for (int64_t j = 0; j < nb; j++) se[j] += lt__exp_poly(xr[j] - m[j]);
        if (a->prob) {
            const float *tr = a->prob + i * C * S + j0 + k * S;
            for (int64_t j = 0; j < nb; j++) {
                const float wt = wk * smoothed(tr[j], keep, ls_c);
                acc[j] += wt;
                acc_w[j] += wt * (m[j] - xr[j]);
            }
        } else if (a->ls > 0.0f) {
            for (int64_t j = 0; j < nb; j++) acc[j] += wk * (m[j] - xr[j]);
        }
    }
    for (int64_t j = 0; j < nb; j++) {
        const int64_t p = p0 + j;
        const float lsum = logf(se[j]);
        row_max[p] = m[j];
        log_sum[p] = lsum;
        const int32_t t = a->cls ? a->cls[p] : 0;
        const float x_t = a->cls && t != a->ignore ? x[t * S + j] : 0.0f;
        finish_position(a, p, m[j], lsum, x_t, acc[j], acc_w[j], loss, weight);
    }
}

/* Runs body(i, j0, nb) over every block of positions, threaded when large. */
#define FOR_EACH_BLOCK(a, body)                                                                              \
    do {                                                                                                     \
        const int64_t n_blocks_ = ((a)->s + CE_BLOCK - 1) / CE_BLOCK;                                        \
        _Pragma("omp parallel for schedule(static) if((a)->n * (a)->c * (a)->s > LT_PAR_MIN)")               \
        for (int64_t it_ = 0; it_ < (a)->n * n_blocks_; it_++) {                                            \
            const int64_t i = it_ / n_blocks_, j0 = (it_ % n_blocks_) * CE_BLOCK;                           \
            const int64_t nb = (a)->s - j0 < CE_BLOCK ? (a)->s - j0 : CE_BLOCK;                             \
            (void)nb;                                                                                        \
            body;                                                                                            \
        }                                                                                                    \
    } while (0)

static void ce_forward(const ce_args *a, float *row_max, float *log_sum, float *loss, float *weight)
{
    if (a->s == 1)
        FOR_EACH_BLOCK(a, forward_row(a, i, row_max, log_sum, loss, weight));
    else
        FOR_EACH_BLOCK(a, forward_block(a, i, j0, nb, row_max, log_sum, loss, weight));
}

/* ---------------- backward ---------------- */

/* Upstream gradient of position p, already divided by the mean's denominator;
 * ignored positions get exactly 0 (PyTorch masks them, even when the
 * denominator is 0). */
static inline float position_coef(const ce_saved *sv, const float *g, int64_t p)
{
    const ce_args *a = &sv->a;
    if (a->cls && a->cls[p] == a->ignore) return 0.0f;
    switch (sv->reduction) {
    case LT_REDUCTION_NONE: return g[p];
    case LT_REDUCTION_SUM: return g[0];
    default: return (float)((double)g[0] / sv->denom);
    }
}

/* Class indices: gx[k] += coef * (softmax[k] * ((1-ls) w[t] + ls/C sum w) - ls/C w[k] - (1-ls) w[t] [k == t]).
 * Probabilities: gx[k] += coef * (softmax[k] * sum_c w t' - w[k] t'[k]),
 *                gt[k] += coef * -(1-ls) w[k] logp[k]. */
static void backward_row(const ce_saved *sv, int64_t p, const float *g, float *gx, float *gt)
{
    const ce_args *a = &sv->a;
    const int64_t C = a->c;
    const float coef = position_coef(sv, g, p);
    if (coef == 0.0f) return;
    const float *x = a->x + p * C, *w = a->w;
    const float m = sv->row_max[p], lsum = sv->log_sum[p], keep = a->keep, ls_c = a->ls_c;
    if (a->cls) {
        float *gxr = gx + p * C;
        const int32_t t = a->cls[p];
        const float scale = coef * (keep * w[t] + ls_c * a->w_sum), off = coef * ls_c;
#pragma omp simd
        for (int64_t k = 0; k < C; k++) gxr[k] += lt__exp_poly((x[k] - m) - lsum) * scale - off * w[k];
        gxr[t] -= coef * keep * w[t];
        return;
    }
    const float *tr = a->prob + p * C;
    float total = 0.0f;
#pragma omp simd reduction(+ : total)
    for (int64_t k = 0; k < C; k++) total += w[k] * smoothed(tr[k], keep, ls_c);
    if (gx) {
        float *gxr = gx + p * C;
#pragma omp simd
        for (int64_t k = 0; k < C; k++)
            gxr[k] += coef * (lt__exp_poly((x[k] - m) - lsum) * total - w[k] * smoothed(tr[k], keep, ls_c));
    }
    if (gt) {
        float *gtr = gt + p * C;
        const float tc = -coef * keep;
#pragma omp simd
        for (int64_t k = 0; k < C; k++) gtr[k] += tc * w[k] * ((x[k] - m) - lsum);
    }
}

static void backward_block(const ce_saved *sv, int64_t i, int64_t j0, int64_t nb, const float *g, float *gx,
                           float *gt)
{
    const ce_args *a = &sv->a;
    const int64_t C = a->c, S = a->s, p0 = i * S + j0, base = i * C * S + j0;
    const float *x = a->x + base, *m = sv->row_max + p0, *lsum = sv->log_sum + p0, *w = a->w;
    const float keep = a->keep, ls_c = a->ls_c;
    float coef[CE_BLOCK], scale[CE_BLOCK];
    bool any = false;
    for (int64_t j = 0; j < nb; j++) {
        coef[j] = position_coef(sv, g, p0 + j);
        any |= coef[j] != 0.0f;
    }
    if (!any) return;
    if (a->cls) {
        for (int64_t j = 0; j < nb; j++) {
            const int32_t t = a->cls[p0 + j];
            const float wt = coef[j] != 0.0f ? w[t] : 0.0f; /* t may be ignore_index */
            scale[j] = coef[j] * (keep * wt + ls_c * a->w_sum);
        }
        for (int64_t k = 0; k < C; k++) {
            const float *xr = x + k * S;
            float *gxr = gx + base + k * S;
            const float wk = ls_c * w[k];
            for (int64_t j = 0; j < nb; j++) gxr[j] += lt__exp_poly((xr[j] - m[j]) - lsum[j]) * scale[j] - coef[j] * wk;
        }
        for (int64_t j = 0; j < nb; j++)
            if (coef[j] != 0.0f) {
                const int32_t t = a->cls[p0 + j];
                gx[base + t * S + j] -= coef[j] * keep * w[t];
            }
        return;
    }
    const float *t = a->prob + base;
    for (int64_t j = 0; j < nb; j++) scale[j] = 0.0f;
    for (int64_t k = 0; k < C; k++) {
        const float wk = w[k];
        for (int64_t j = 0; j < nb; j++) scale[j] += wk * smoothed(t[k * S + j], keep, ls_c);
    }
    for (int64_t k = 0; k < C; k++) {
        const float *xr = x + k * S, *tr = t + k * S;
        const float wk = w[k];
        if (gx) {
            float *gxr = gx + base + k * S;
            for (int64_t j = 0; j < nb; j++)
                gxr[j] += coef[j] * (lt__exp_poly((xr[j] - m[j]) - lsum[j]) * scale[j] - wk * smoothed(tr[j], keep, ls_c));
        }
        if (gt) {
            float *gtr = gt + base + k * S;
            const float tc = -keep * wk;
            for (int64_t j = 0; j < nb; j++) gtr[j] += coef[j] * tc * ((xr[j] - m[j]) - lsum[j]);
        }
    }
}

static void ce_backward(lt_node *node)
{
    const ce_saved *sv = node->saved;
    const ce_args *a = &sv->a;
    float *gx = lt__grad(node->inputs[0]);
    float *gt = node->n_inputs > 1 ? lt__grad(node->inputs[1]) : NULL;
    if (!gx && !gt) return;
    const float *g = node->out->grad;
    if (a->cls && !gx) return;
    if (a->s == 1)
        FOR_EACH_BLOCK(a, backward_row(sv, i, g, gx, gt));
    else
        FOR_EACH_BLOCK(a, backward_block(sv, i, j0, nb, g, gx, gt));
}

/* ---------------- validation ---------------- */

static const char *OP = "cross_entropy";

/* Shape [N, d1, ...] of a class-index target / per-position loss. */
static int position_shape(const lt_tensor *logits, int64_t *shape)
{
    if (logits->ndim == 1) return 0; /* unbatched [C] */
    int n = 0;
    for (int d = 0; d < logits->ndim; d++)
        if (d != 1) shape[n++] = logits->shape[d];
    return n;
}

static bool check_inputs(const lt_tensor *logits, const lt_tensor *target, const lt_cross_entropy_params *p)
{
    if (!lt__check_dtype(OP, "logits", logits, LT_F32)) return false;
    if (logits->ndim < 1) return lt__fail(OP, "logits %s need a class dimension ([N,C] or [N,C,d1,...])",
                                          lt__shp(logits)), false;
    const int64_t C = logits->ndim == 1 ? logits->shape[0] : logits->shape[1];
    if (C < 1) return lt__fail(OP, "logits %s have no classes", lt__shp(logits)), false;
    if (target->dtype == LT_I32) {
        int64_t shape[LT_MAX_DIMS];
        int n = position_shape(logits, shape);
        bool same = target->ndim == n;
        for (int d = 0; same && d < n; d++) same = target->shape[d] == shape[d];
        if (!same)
            return lt__fail(OP, "class-index target %s does not match logits %s (expected target %s)",
                            lt__shp(target), lt__shp(logits), lt__shape_dims(n, shape)), false;
    } else if (target->dtype == LT_F32) {
        if (!lt_same_shape(target, logits))
            return lt__fail(OP, "probability target %s must have the shape of logits %s", lt__shp(target),
                            lt__shp(logits)), false;
    } else {
        return lt__fail(OP, "target %s must be int32 class indices or float32 probabilities, got %s (logits %s)",
                        lt__shp(target), lt_dtype_name(target->dtype), lt__shp(logits)), false;
    }
    const lt_tensor *w = p->weight;
    if (w && (w->dtype != LT_F32 || w->ndim != 1 || w->shape[0] != C))
        return lt__fail(OP, "weight %s (%s) must be float32 [%lld], one per class of logits %s", lt__shp(w),
                        lt_dtype_name(w->dtype), (long long)C, lt__shp(logits)), false;
    if (!(p->label_smoothing >= 0.0f && p->label_smoothing <= 1.0f))
        return lt__fail(OP, "label_smoothing %g must be between 0 and 1 (logits %s)", (double)p->label_smoothing,
                        lt__shp(logits)), false;
    if ((unsigned)p->reduction > LT_REDUCTION_NONE)
        return lt__fail(OP, "unknown reduction %d (logits %s)", (int)p->reduction, lt__shp(logits)), false;
    return true;
}

static bool check_classes(const int32_t *cls, int64_t n, int64_t C, int32_t ignore, const lt_tensor *logits,
                          const lt_tensor *target)
{
    for (int64_t i = 0; i < n; i++)
        if ((cls[i] < 0 || cls[i] >= C) && cls[i] != ignore) {
            lt__fail(OP, "target value %d (at flat index %lld) is out of range for %lld classes: expected 0..%lld or "
                         "ignore_index %d (logits %s, target %s)",
                     cls[i], (long long)i, (long long)C, (long long)C - 1, ignore, lt__shp(logits), lt__shp(target));
            return false;
        }
    return true;
}

/* ---------------- entry point ---------------- */

/* Arena copy of the class weights (backward must see the forward's values;
 * all 1 without weights, so kernels index them without a branch) and their sum. */
static bool copy_class_weights(const lt_tensor *weight, ce_args *a)
{
    float *w = lt__alloc(OP, sizeof(float) * (size_t)a->c);
    if (!w) return false;
    if (weight)
        memcpy(w, weight->data, sizeof(float) * (size_t)a->c);
    else
        for (int64_t k = 0; k < a->c; k++) w[k] = 1.0f;
    double s = 0.0;
    for (int64_t k = 0; k < a->c; k++) s += w[k];
    a->w = w;
    a->w_sum = (float)s;
    return true;
}

/* Sum or mean of the per-position losses; *denom gets the mean's divisor
 * (summed target weights for class indices, positions for probabilities). */
static bool reduce_positions(const ce_args *a, lt_reduction reduction, const float *loss, const float *weight,
                             int64_t P, float *out, double *denom)
{
    double total;
    *denom = 1.0;
    if (!lt__sum_f32(OP, loss, P, &total)) return false;
    if (reduction == LT_REDUCTION_MEAN) {
        if (!a->cls) *denom = (double)P;
        else if (!lt__sum_f32(OP, weight, P, denom)) return false;
    }
    *out = (float)(total / *denom);
    return true;
}

lt_tensor *lt_cross_entropy(lt_tensor *logits, lt_tensor *target, const lt_cross_entropy_params *params)
{
    LT__PROFILE_OP(LT_OP_CROSS_ENTROPY);
    if (!logits || !target) return NULL;
    const lt_cross_entropy_params p = params ? *params : LT_CROSS_ENTROPY_DEFAULTS;
    if (!check_inputs(logits, target, &p)) return NULL;

    ce_args a = {.x = lt_f32(logits), .ls = p.label_smoothing, .ignore = p.ignore_index, .n = 1, .s = 1};
    a.c = logits->ndim == 1 ? logits->shape[0] : logits->shape[1];
    a.keep = 1.0f - a.ls;
    a.ls_c = a.ls / (float)a.c;
    if (logits->ndim > 1) a.n = logits->shape[0];
    for (int d = 2; d < logits->ndim; d++) a.s *= logits->shape[d];
    const int64_t P = a.n * a.s;
    if (target->dtype == LT_I32) {
        a.cls = lt_i32(target);
        if (!check_classes(a.cls, P, a.c, a.ignore, logits, target)) return NULL;
    } else {
        a.prob = lt_f32(target);
    }
    if (!copy_class_weights(p.weight, &a)) return NULL;

    int64_t shape[LT_MAX_DIMS];
    const bool none = p.reduction == LT_REDUCTION_NONE;
    lt_tensor *out = lt__result(OP, LT_F32, none ? position_shape(logits, shape) : 0, shape);
    const size_t bytes = sizeof(float) * (size_t)P;
    float *row_max = lt__alloc(OP, bytes), *log_sum = lt__alloc(OP, bytes), *weight = lt__alloc(OP, bytes);
    float *loss = none ? (out ? lt_f32(out) : NULL) : lt__alloc(OP, bytes);
    if (!out || !row_max || !log_sum || !weight || !loss) return NULL;
    ce_forward(&a, row_max, log_sum, loss, weight);
    double denom = 1.0;
    if (!none && !reduce_positions(&a, p.reduction, loss, weight, P, lt_f32(out), &denom)) return NULL;

    lt_tensor *inputs[2] = {logits, target};
    const int n_in = target->dtype == LT_F32 ? 2 : 1; /* class indices get no gradient */
    if (lt__wants_grad(n_in, inputs)) {
        lt_node *node = lt__record(out, LT_OP_CROSS_ENTROPY, ce_backward, n_in, inputs, sizeof(ce_saved));
        if (!node) return NULL;
        ce_saved *sv = node->saved;
        sv->a = a;
        sv->reduction = p.reduction;
        sv->row_max = row_max;
        sv->log_sum = log_sum;
        sv->denom = denom;
    }
    return out;
}
