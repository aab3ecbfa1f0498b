/* Regression losses: F.mse_loss, F.l1_loss, F.smooth_l1_loss (PyTorch 1.13).
 *
 * x and target broadcast together (PyTorch allows it, with a warning); both
 * get gradients when they require them. Per element, with d = x - target:
 *   mse        d^2                                  d/dd: 2 d
 *   l1         |d|                                  sign(d) (0 at 0)
 *   smooth_l1  |d| < beta ? 0.5 d^2 / beta          d <= -beta: -1, d >= beta: 1, else d / beta
 *                         : |d| - 0.5 beta          (beta == 0: l1 values; the gradient at d == 0
 *                                                   is -1, PyTorch 1.13's smooth_l1 backward)
 * The target's gradient is the same backward with the operands swapped
 * (as PyTorch computes it). mean divides by the broadcast shape's numel. */
#include "../internal.h"

#include <math.h>
#include <string.h>


/* t's data broadcast to `shape` (which t must broadcast to): t's own data
 * when no element repeats, else an arena copy. NULL on arena exhaustion. */
const float *lt__expand_f32(const char *op, const lt_tensor *t, int ndim, const int64_t *shape)
{
    const int64_t n = lt__numel(ndim, shape);
    if (t->numel == n) return lt_f32(t); /* broadcastable with equal size: same element order */
    float *out = lt__alloc(op, sizeof(float) * (size_t)(n ? n : 1));
    if (!out || n == 0) return out;
    int64_t strides[LT_MAX_DIMS] = {0}, idx[LT_MAX_DIMS] = {0};
    lt__broadcast_strides(t, ndim, shape, strides);
    const float *src = lt_f32(t);
    const int last = ndim - 1;
    const int64_t inner = ndim ? shape[last] : 1, inner_stride = ndim ? strides[last] : 0;
    for (int64_t o = 0; o < n; o += inner) {
        int64_t off = 0;
        for (int d = 0; d < last; d++) off += idx[d] * strides[d];
        for (int64_t j = 0; j < inner; j++) out[o + j] = src[off + j * inner_stride];
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
    return out;
}

/* ---- kernels ----
 * Each kernel runs over one chunk [lo, hi). VARIANT calls it with the loss
 * kind and whether the upstream gradient is per element as constants, so
 * every inlined variant is a straight loop that vectorises. */

enum { MSE = 0, L1 = 1, SMOOTH_L1 = 2 };

#define VARIANT(kind, each, kernel, ...)                                                                    \
    switch ((kind) * 2 + ((each) ? 1 : 0)) {                                                               \
    case 0: kernel(__VA_ARGS__, MSE, false); break;                                                        \
    case 1: kernel(__VA_ARGS__, MSE, true); break;                                                         \
    case 2: kernel(__VA_ARGS__, L1, false); break;                                                         \
    case 3: kernel(__VA_ARGS__, L1, true); break;                                                          \
    case 4: kernel(__VA_ARGS__, SMOOTH_L1, false); break;                                                  \
    default: kernel(__VA_ARGS__, SMOOTH_L1, true); break;                                                  \
    }


static inline float loss_value(float d, float beta, int kind)
{
    const float z = fabsf(d);
    switch (kind) {
    case MSE: return d * d;
    case L1: return z;
    default: return z < beta ? 0.5f * z * z / beta : z - 0.5f * beta;
    }
}

/* d loss / d a for d = a - b (before the upstream gradient). */
static inline float loss_slope(float d, float beta, int kind)
{
    switch (kind) {
    case MSE: return 2.0f * d;
    case L1: return d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f);
    default: /* PyTorch's kernel order: with beta 0, d == 0 gets -1 (l1_loss would give 0) */
        return d <= -beta ? -1.0f : (d >= beta ? 1.0f : d / beta);
    }
}

static inline void loss_range(const float *x, const float *t, float beta, float *restrict loss, int64_t lo,
                              int64_t hi, int kind, bool each)
{
    (void)each;
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) loss[i] = loss_value(x[i] - t[i], beta, kind);
}

static inline void sum_range(const float *x, const float *t, float beta, double *sum, int64_t lo, int64_t hi,
                             int kind, bool each)
{
    (void)each;
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; i++) s += (double)loss_value(x[i] - t[i], beta, kind);
    *sum = s;
}

/* out[i] (+)= upstream * slope(a[i] - b[i]); upstream is g[i] * scale or scale. */
static inline void grad_range(const float *a, const float *b, float beta, const float *g, float scale,
                              float *restrict out, bool add, int64_t lo, int64_t hi, int kind, bool each)
{
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
        const float v = (each ? g[i] * scale : scale) * loss_slope(a[i] - b[i], beta, kind);
        out[i] = add ? out[i] + v : v;
    }
}

typedef struct regression_saved {
    const float *x, *t; /* both expanded to the broadcast shape */
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    int64_t n;
    int kind;
    lt_reduction reduction;
    float beta;
} regression_saved;

/* Gradient for one input: slope(a - b) with (a, b) = (x, target) for x and
 * (target, x) for the target. Added in place when the input has the full
 * broadcast shape, else through a scratch buffer summed over the dimensions
 * the input was broadcast along. */
static void accumulate(lt_node *node, lt_tensor *in, const float *a, const float *b)
{
    float *gi = lt__grad(in);
    if (!gi) return;
    const regression_saved *s = node->saved;
    const float *g = node->out->grad;
    const int64_t n = s->n;
    const bool each = s->reduction == LT_REDUCTION_NONE, direct = in->numel == n;
    const float scale = each ? 1.0f : (s->reduction == LT_REDUCTION_MEAN ? g[0] / (float)n : g[0]);
    float *out = direct ? gi : lt__alloc("backward", sizeof(float) * (size_t)(n ? n : 1));
    if (!out) return;
    LT_FOR_CHUNKS(n, VARIANT(s->kind, each, grad_range, a, b, s->beta, g, scale, out, direct, lo, hi));
    if (!direct) lt__reduce_broadcast(out, s->ndim, s->shape, gi, in);
}

static void regression_backward(lt_node *node)
{
    const regression_saved *s = node->saved;
    accumulate(node, node->inputs[0], s->x, s->t);
    accumulate(node, node->inputs[1], s->t, s->x);
}

static lt_tensor *regression(lt_op op, lt_tensor *x, lt_tensor *target, float beta, lt_reduction reduction)
{
    LT__PROFILE_OP(op);
    const char *name = lt_op_name(op);
    if (!x || !target) return NULL;
    if (!lt__check_dtype(name, "input", x, LT_F32) || !lt__check_dtype(name, "target", target, LT_F32))
        return NULL;
    if ((unsigned)reduction > LT_REDUCTION_NONE)
        return lt__fail(name, "unknown reduction %d (input %s, target %s)", (int)reduction, lt__shp(x),
                        lt__shp(target)),
               NULL;
    if (!(beta >= 0.0f))
        return lt__fail(name, "beta %g must be >= 0 (input %s, target %s)", (double)beta, lt__shp(x),
                        lt__shp(target)),
               NULL;
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    if (!lt__broadcast_shape(name, x, target, &ndim, shape)) return NULL;
    const int64_t n = lt__numel(ndim, shape);
    const float *xs = lt__expand_f32(name, x, ndim, shape), *ts = lt__expand_f32(name, target, ndim, shape);
    if (!xs || !ts) return NULL;
    const int kind = op == LT_OP_MSE_LOSS ? MSE : (op == LT_OP_L1_LOSS ? L1 : SMOOTH_L1);

    lt_tensor *out;
    if (reduction == LT_REDUCTION_NONE) {
        out = lt__result(name, LT_F32, ndim, shape);
        if (!out) return NULL;
        float *loss = lt_f32(out);
        LT_FOR_CHUNKS(n, VARIANT(kind, false, loss_range, xs, ts, beta, loss, lo, hi));
    } else {
        out = lt__result(name, LT_F32, 0, NULL);
        double *part = lt__alloc(name, sizeof(double) * (size_t)(n / LT_CHUNK + 1));
        if (!out || !part) return NULL;
        LT_FOR_CHUNKS(n, VARIANT(kind, false, sum_range, xs, ts, beta, &part[c], lo, hi));
        double sum = 0.0;
        for (int64_t c = 0; c * LT_CHUNK < n; c++) sum += part[c];
        lt_f32(out)[0] = (float)(reduction == LT_REDUCTION_MEAN ? sum / (double)n : sum);
    }

    lt_tensor *inputs[2] = {x, target};
    if (lt__wants_grad(2, inputs)) {
        lt_node *node = lt__record(out, op, regression_backward, 2, inputs, sizeof(regression_saved));
        if (!node) return NULL;
        regression_saved *s = node->saved;
        s->x = xs;
        s->t = ts;
        s->ndim = ndim;
        memcpy(s->shape, shape, sizeof shape);
        s->n = n;
        s->kind = kind;
        s->reduction = reduction;
        s->beta = beta;
    }
    return out;
}

lt_tensor *lt_mse_loss(lt_tensor *x, lt_tensor *target, lt_reduction reduction)
{
    return regression(LT_OP_MSE_LOSS, x, target, 0.0f, reduction);
}

lt_tensor *lt_l1_loss(lt_tensor *x, lt_tensor *target, lt_reduction reduction)
{
    return regression(LT_OP_L1_LOSS, x, target, 0.0f, reduction);
}

lt_tensor *lt_smooth_l1_loss(lt_tensor *x, lt_tensor *target, float beta, lt_reduction reduction)
{
    return regression(LT_OP_SMOOTH_L1_LOSS, x, target, beta, reduction);
}
