/* F.binary_cross_entropy_with_logits (PyTorch 1.13), with PyTorch's stable
 * formula. Per element, with m = max(-x, 0) and lw = (pos_weight - 1) t + 1:
 *   loss = (1 - t) x + lw (log(exp(-m) + exp(-x - m)) + m)   [* weight]
 * where exp(-m) + exp(-x - m) is exactly 1 + exp(-|x|) in float. Gradients,
 * as PyTorch's backward kernels:
 *   d/dx = (pw t + 1 - t) sigmoid(x) - pw t          (no pos_weight: sigmoid(x) - t)
 *   d/dt = log_sigmoid(-x) - pw log_sigmoid(x)       (no pos_weight: -x)
 * each times weight, and divided by numel for the mean. weight and
 * pos_weight broadcast to x (pos_weight [C] along the last dimension) and
 * get no gradient (PyTorch implements none). */
#include "../internal.h"
#include "../kernels/fastmath.h"

#include <math.h>
#include <string.h>


static const char *OP = "binary_cross_entropy_with_logits";

/* ---- kernels ----
 * Each kernel runs over one chunk [lo, hi) with `flags` saying which of
 * weight / pos_weight exist and whether the upstream gradient is per element.
 * WITH_FLAGS calls it with the flags as a constant, so every inlined variant
 * has straight-line loads and vectorises (a load behind a NULL test does not). */

enum { HAS_W = 1, HAS_PW = 2, EACH = 4 };

#define WITH_FLAGS(flags, kernel, ...)                                                                      \
    switch (flags) {                                                                                       \
    case 0: kernel(__VA_ARGS__, 0); break;                                                                 \
    case 1: kernel(__VA_ARGS__, 1); break;                                                                 \
    case 2: kernel(__VA_ARGS__, 2); break;                                                                 \
    case 3: kernel(__VA_ARGS__, 3); break;                                                                 \
    case 4: kernel(__VA_ARGS__, 4); break;                                                                 \
    case 5: kernel(__VA_ARGS__, 5); break;                                                                 \
    case 6: kernel(__VA_ARGS__, 6); break;                                                                 \
    default: kernel(__VA_ARGS__, 7); break;                                                                \
    }


typedef struct bce_args {
    const float *x, *t;
    const float *w, *pw; /* expanded to x's shape, or NULL */
    int flags;           /* HAS_W | HAS_PW */
} bce_args;

static inline float bce_value(float x, float t, float w, float pw, int flags)
{
    const float m = -x > 0.0f ? -x : 0.0f; /* max(-x, 0); fmaxf is a libm call */
    const float log_term = lt__log_1_2(1.0f + lt__exp_poly(-fabsf(x)));
    /* PyTorch's order of operations for each variant */
    const float l = flags & HAS_PW ? (1.0f - t) * x + ((pw - 1.0f) * t + 1.0f) * (log_term + m)
                                   : (1.0f - t) * x + m + log_term;
    return flags & HAS_W ? l * w : l;
}

/* Kernels copy the pointers to locals first: loads of struct fields inside
 * the loop would block vectorisation. */
#define BCE_LOCALS(a, flags)                                                                                \
    const float *x = (a)->x, *t = (a)->t, *w = (a)->w, *pw = (a)->pw;                                      \
    (void)t;                                                                                               \
    (void)w;                                                                                               \
    (void)pw
#define W_AT(flags, i) ((flags) & HAS_W ? w[i] : 1.0f)
#define PW_AT(flags, i) ((flags) & HAS_PW ? pw[i] : 1.0f)

static inline void loss_range(const bce_args *a, float *restrict loss, int64_t lo, int64_t hi, int flags)
{
    BCE_LOCALS(a, flags);
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) loss[i] = bce_value(x[i], t[i], W_AT(flags, i), PW_AT(flags, i), flags);
}

static inline void sum_range(const bce_args *a, double *sum, int64_t lo, int64_t hi, int flags)
{
    BCE_LOCALS(a, flags);
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; i++) s += (double)bce_value(x[i], t[i], W_AT(flags, i), PW_AT(flags, i), flags);
    *sum = s;
}

/* gx += g * w * inv_n * ((pw t + 1 - t) sigmoid(x) - pw t) */
static inline void grad_x_range(const bce_args *a, const float *g, float scale, float *restrict gx, int64_t lo,
                                int64_t hi, int flags)
{
    BCE_LOCALS(a, flags);
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
        const float sig = 1.0f / (1.0f + lt__exp_poly(-x[i]));
        const float pt = PW_AT(flags, i) * t[i];
        const float d = flags & HAS_PW ? (pt + 1.0f - t[i]) * sig - pt : sig - t[i];
        gx[i] += d * (flags & EACH ? g[i] * scale : scale) * W_AT(flags, i);
    }
}

/* log(sigmoid(z)) = min(z, 0) - log1p(exp(-|z|)), given e = exp(-|z|). */
static inline float log_sigmoid_from(float z, float e) { return (z < 0.0f ? z : 0.0f) - lt__log_1_2(1.0f + e); }

/* gt += g * w * inv_n * (log_sigmoid(-x) - pw log_sigmoid(x))   (no pos_weight: -x) */
static inline void grad_t_range(const bce_args *a, const float *g, float scale, float *restrict gt, int64_t lo,
                                int64_t hi, int flags)
{
    BCE_LOCALS(a, flags);
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
        const float e = lt__exp_poly(-fabsf(x[i]));
        const float d = flags & HAS_PW ? log_sigmoid_from(-x[i], e) - log_sigmoid_from(x[i], e) * pw[i] : -x[i];
        gt[i] += d * (flags & EACH ? g[i] * scale : scale) * W_AT(flags, i);
    }
}

typedef struct bce_saved {
    bce_args a;
    lt_reduction reduction;
} bce_saved;

static void bce_backward(lt_node *node)
{
    const bce_saved *s = node->saved;
    const bce_args *a = &s->a;
    float *gx = lt__grad(node->inputs[0]), *gt = lt__grad(node->inputs[1]);
    const float *g = node->out->grad;
    const int64_t n = node->inputs[0]->numel;
    const bool each = s->reduction == LT_REDUCTION_NONE;
    /* upstream factor: g[i] per element, else g[0] (divided by numel for the mean) */
    const float scale = each ? 1.0f : (s->reduction == LT_REDUCTION_MEAN ? g[0] / (float)n : g[0]);
    const int flags = a->flags | (each ? EACH : 0);
    if (gx) LT_FOR_CHUNKS(n, WITH_FLAGS(flags, grad_x_range, a, g, scale, gx, lo, hi));
    if (gt) LT_FOR_CHUNKS(n, WITH_FLAGS(flags, grad_t_range, a, g, scale, gt, lo, hi));
}

/* weight / pos_weight must broadcast to x's shape without growing it. */
static const float *expand_to_x(const char *what, const lt_tensor *v, const lt_tensor *x)
{
    if (!lt__check_dtype(OP, what, v, LT_F32)) return NULL;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    if (!lt__broadcast_shape(OP, v, x, &ndim, shape)) return NULL;
    if (ndim != x->ndim || lt__numel(ndim, shape) != x->numel) {
        lt__fail(OP, "%s %s must broadcast to input %s", what, lt__shp(v), lt__shp(x));
        return NULL;
    }
    return lt__expand_f32(OP, v, x->ndim, x->shape);
}

lt_tensor *lt_bce_with_logits(lt_tensor *x, lt_tensor *target, lt_tensor *weight, lt_tensor *pos_weight,
                              lt_reduction reduction)
{
    LT__PROFILE_OP(LT_OP_BCE_WITH_LOGITS);
    if (!x || !target) return NULL;
    if (!lt__check_dtype(OP, "input", x, LT_F32) || !lt__check_dtype(OP, "target", target, LT_F32)) return NULL;
    if (!lt_same_shape(x, target))
        return lt__fail(OP, "target %s must have the shape of input %s", lt__shp(target), lt__shp(x)), NULL;
    if ((unsigned)reduction > LT_REDUCTION_NONE)
        return lt__fail(OP, "unknown reduction %d (input %s)", (int)reduction, lt__shp(x)), NULL;
    const float *w = weight ? expand_to_x("weight", weight, x) : NULL;
    const float *pw = pos_weight ? expand_to_x("pos_weight", pos_weight, x) : NULL;
    if ((weight && !w) || (pos_weight && !pw)) return NULL;

    const bce_args a = {.x = lt_f32(x), .t = lt_f32(target), .w = w, .pw = pw,
                        .flags = (w ? HAS_W : 0) | (pw ? HAS_PW : 0)};
    const int64_t n = x->numel;
    lt_tensor *out;
    if (reduction == LT_REDUCTION_NONE) {
        out = lt__result(OP, LT_F32, x->ndim, x->shape);
        if (!out) return NULL;
        float *loss = lt_f32(out);
        LT_FOR_CHUNKS(n, WITH_FLAGS(a.flags, loss_range, &a, loss, lo, hi));
    } else {
        out = lt__result(OP, LT_F32, 0, NULL);
        double *part = lt__alloc(OP, sizeof(double) * (size_t)(n / LT_CHUNK + 1));
        if (!out || !part) return NULL;
        LT_FOR_CHUNKS(n, WITH_FLAGS(a.flags, sum_range, &a, &part[c], lo, hi));
        double sum = 0.0;
        for (int64_t c = 0; c * LT_CHUNK < n; c++) sum += part[c];
        lt_f32(out)[0] = (float)(reduction == LT_REDUCTION_MEAN ? sum / (double)n : sum);
    }
    lt_tensor *inputs[2] = {x, target};
    if (lt__wants_grad(2, inputs)) {
        lt_node *node = lt__record(out, LT_OP_BCE_WITH_LOGITS, bce_backward, 2, inputs, sizeof(bce_saved));
        if (!node) return NULL;
        bce_saved *s = node->saved;
        s->a = a;
        s->reduction = reduction;
    }
    return out;
}
