/* softmax and log_softmax over any dimension.
 *
 * x is viewed as [outer, n, inner] around the softmax dimension. With
 * inner == 1 (last dimension) each row is contiguous; otherwise (NCHW over
 * C, the segmentation case) a block of inner positions is processed at once
 * so every loop runs over contiguous memory and vectorises. Numerically
 * stable (the row maximum is subtracted) and the same formulas as PyTorch:
 *   softmax:     y = exp(x - max) * (1 / sum exp(x - max))
 *   log_softmax: y = x - max - log(sum exp(x - max))
 *   backward:    softmax     gx = y * (g - sum(g * y))
 *                log_softmax gx = g - exp(y) * sum(g) */
#include "../internal.h"
#include "../kernels/fastmath.h"

#include <math.h>
#include <string.h>


typedef struct softmax_saved {
    int64_t outer, n, inner;
} softmax_saved;

/* ---------------- contiguous rows (inner == 1) ---------------- */

static float row_max(const float *x, int64_t n)
{
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* y[i] = exp(x[i] - m); returns the sum. */
static float row_exp_sum(float *y, const float *x, int64_t n, float m)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) {
        const float e = lt__exp_poly(x[i] - m);
        y[i] = e;
        s += e;
    }
    return s;
}

static float row_sum_exp(const float *x, int64_t n, float m)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += lt__exp_poly(x[i] - m);
    return s;
}

static void softmax_row(float *y, const float *x, int64_t n, bool as_log)
{
    /* A NaN anywhere makes the sum NaN, and so every output, as in PyTorch. */
    const float m = row_max(x, n);
    if (as_log) {
        /* (x - max) first: exact for the large entries, as in PyTorch. */
        const float log_sum = logf(row_sum_exp(x, n, m));
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - log_sum;
    } else {
        const float inv = 1.0f / row_exp_sum(y, x, n, m);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] *= inv;
    }
}

/* ---------------- strided rows (inner > 1), a block of positions at once ---------------- */

enum { SM_BLOCK = 128 };

static void softmax_block(float *y, const float *x, int64_t n, int64_t inner, int64_t nb, bool as_log)
{
    float m[SM_BLOCK], s[SM_BLOCK];
    for (int64_t j = 0; j < nb; j++) {
        m[j] = -INFINITY;
        s[j] = 0.0f;
    }
    for (int64_t k = 0; k < n; k++) {
        const float *xr = x + k * inner;
        for (int64_t j = 0; j < nb; j++) m[j] = (xr[j] > m[j]) | (xr[j] != xr[j]) ? xr[j] : m[j]; /* NaN wins */
    }
    if (as_log) {
        for (int64_t k = 0; k < n; k++) {
            const float *xr = x + k * inner;
            for (int64_t j = 0; j < nb; j++) s[j] += lt__exp_poly(xr[j] - m[j]);
        }
        for (int64_t j = 0; j < nb; j++) s[j] = logf(s[j]);
        for (int64_t k = 0; k < n; k++) {
            const float *xr = x + k * inner;
            float *yr = y + k * inner;
            for (int64_t j = 0; j < nb; j++) yr[j] = (xr[j] - m[j]) - s[j];
        }
    } else {
        for (int64_t k = 0; k < n; k++) {
            const float *xr = x + k * inner;
            float *yr = y + k * inner;
            for (int64_t j = 0; j < nb; j++) {
                yr[j] = lt__exp_poly(xr[j] - m[j]);
                s[j] += yr[j];
            }
        }
        for (int64_t j = 0; j < nb; j++) s[j] = 1.0f / s[j];
        for (int64_t k = 0; k < n; k++) {
            float *yr = y + k * inner;
            for (int64_t j = 0; j < nb; j++) yr[j] *= s[j];
        }
    }
}

static void softmax_forward(const softmax_saved *sh, const float *x, float *y, bool as_log)
{
    const int64_t n = sh->n, inner = sh->inner;
    const int64_t n_blocks = (inner + SM_BLOCK - 1) / SM_BLOCK;
#pragma omp parallel for schedule(static) if (sh->outer * n * inner > LT_PAR_MIN)
    for (int64_t it = 0; it < sh->outer * n_blocks; it++) {
        const int64_t o = it / n_blocks, j0 = (it % n_blocks) * SM_BLOCK;
        const int64_t off = o * n * inner + j0;
        if (inner == 1)
            softmax_row(y + off, x + off, n, as_log);
        else
            softmax_block(y + off, x + off, n, inner, inner - j0 < SM_BLOCK ? inner - j0 : SM_BLOCK, as_log);
    }
}

/* ---------------- backward ---------------- */

/* softmax:     gx += y * (g - sum(g * y))
 * log_softmax: gx += g - exp(y) * sum(g) */
static void backward_row(float *gx, const float *g, const float *y, int64_t n, bool as_log)
{
    float s = 0.0f;
    if (as_log) {
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += g[i];
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] += g[i] - lt__exp_poly(y[i]) * s;
    } else {
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += g[i] * y[i];
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gx[i] += y[i] * (g[i] - s);
    }
}

static void backward_block(float *gx, const float *g, const float *y, int64_t n, int64_t inner, int64_t nb,
                           bool as_log)
{
    float s[SM_BLOCK];
    for (int64_t j = 0; j < nb; j++) s[j] = 0.0f;
    for (int64_t k = 0; k < n; k++) {
        const float *gr = g + k * inner, *yr = y + k * inner;
        if (as_log)
            for (int64_t j = 0; j < nb; j++) s[j] += gr[j];
        else
            for (int64_t j = 0; j < nb; j++) s[j] += gr[j] * yr[j];
    }
    for (int64_t k = 0; k < n; k++) {
        const float *gr = g + k * inner, *yr = y + k * inner;
        float *gxr = gx + k * inner;
        if (as_log)
            for (int64_t j = 0; j < nb; j++) gxr[j] += gr[j] - lt__exp_poly(yr[j]) * s[j];
        else
            for (int64_t j = 0; j < nb; j++) gxr[j] += yr[j] * (gr[j] - s[j]);
    }
}

static void softmax_backward(lt_node *node)
{
    float *gx = lt__grad(node->inputs[0]);
    if (!gx) return;
    const softmax_saved *sh = node->saved;
    const bool as_log = node->op == LT_OP_LOG_SOFTMAX;
    const float *g = node->out->grad, *y = lt_f32(node->out);
    const int64_t n = sh->n, inner = sh->inner;
    const int64_t n_blocks = (inner + SM_BLOCK - 1) / SM_BLOCK;
#pragma omp parallel for schedule(static) if (sh->outer * n * inner > LT_PAR_MIN)
    for (int64_t it = 0; it < sh->outer * n_blocks; it++) {
        const int64_t o = it / n_blocks, j0 = (it % n_blocks) * SM_BLOCK;
        const int64_t off = o * n * inner + j0;
        if (inner == 1)
            backward_row(gx + off, g + off, y + off, n, as_log);
        else
            backward_block(gx + off, g + off, y + off, n, inner, inner - j0 < SM_BLOCK ? inner - j0 : SM_BLOCK,
                           as_log);
    }
}

static lt_tensor *softmax_op(lt_op op, lt_tensor *x, int dim)
{
    LT__PROFILE_OP(op);
    const char *name = lt_op_name(op);
    if (!x) return NULL;
    if (!lt__check_dtype(name, "input", x, LT_F32)) return NULL;
    const int lim = x->ndim > 0 ? x->ndim : 1;
    if (dim < -lim || dim >= lim) {
        lt__fail(name, "dim %d out of range for input %s (expected %d..%d)", dim, lt__shp(x), -lim, lim - 1);
        return NULL;
    }
    const int d = dim < 0 ? dim + lim : dim;
    softmax_saved sh = {.outer = 1, .n = x->ndim > 0 ? x->shape[d] : 1, .inner = 1};
    for (int i = 0; i < x->ndim; i++) {
        if (i < d) sh.outer *= x->shape[i];
        if (i > d) sh.inner *= x->shape[i];
    }
    lt_tensor *out = lt__result(name, LT_F32, x->ndim, x->shape);
    if (!out) return NULL;
    if (x->numel > 0) softmax_forward(&sh, lt_f32(x), lt_f32(out), op == LT_OP_LOG_SOFTMAX);
    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, op, softmax_backward, 1, &x, sizeof(softmax_saved));
        if (!node) return NULL;
        *(softmax_saved *)node->saved = sh;
    }
    return out;
}

lt_tensor *lt_softmax(lt_tensor *x, int dim) { return softmax_op(LT_OP_SOFTMAX, x, dim); }
lt_tensor *lt_log_softmax(lt_tensor *x, int dim) { return softmax_op(LT_OP_LOG_SOFTMAX, x, dim); }
