/* 2-d pooling over the planes of [N,C,H,W] (or [C,H,W]) float tensors: max
 * pooling (argmax saved for backward), average pooling and adaptive average
 * pooling.
 *
 * Output sizes, window clipping, divisors, NaN handling and the order in which
 * each output sums its window follow PyTorch 1.13's CPU kernels, so forward
 * and backward reproduce its float32 results (the global 1x1 adaptive pool is
 * PyTorch's mean, whose summation order differs).
 *
 * Forward kernels work on output rows: border columns, whose windows are
 * clipped by the input edges, go through a scalar window loop; the interior
 * columns are updated one kernel tap at a time across the whole row, which
 * keeps PyTorch's per-window order while the loop over columns vectorises.
 * 2x2/stride 2 and 3x3/stride 2 get instantiations with constant taps. */
#include "../internal.h"

#include <math.h>
#include <string.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))

typedef struct pool_geom {
    int64_t planes;  /* N*C (C for 3-d input) */
    int64_t ih, iw;  /* input plane */
    int64_t oh, ow;  /* output plane */
    int kh, kw, sh, sw, ph, pw, dh, dw;
    bool ceil_mode;
    bool count_pad;  /* avg: divisor counts the window clipped to input + padding */
} pool_geom;

typedef struct max_saved {
    pool_geom g;
    int32_t *argmax; /* per output: index in its input plane, -1 for an empty window */
} max_saved;

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static int64_t div_floor(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* PyTorch's pooling_output_shape. */
static int64_t pooled_size(int64_t in, int k, int pad, int stride, int dil, bool ceil_mode)
{
    int64_t span = in + 2 * (int64_t)pad - (int64_t)dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    int64_t out = div_floor(span, stride) + 1;
    /* ceil_mode: the last window must start inside the input or the left padding */
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

/* Output columns [lo, hi) whose windows (k taps, dilation dil) lie entirely
 * inside [0, in); lo == hi == out when there are none. */
static void interior_range(int64_t in, int64_t out, int k, int stride, int pad, int dil, int64_t *lo, int64_t *hi)
{
    int64_t span = (int64_t)dil * (k - 1) + 1;
    int64_t a = (pad + stride - 1) / stride;      /* first o with o*stride - pad >= 0 */
    int64_t last = in - span + pad;               /* o*stride <= last keeps the window inside */
    int64_t b = last < 0 ? 0 : min64(last / stride + 1, out);
    if (a >= b) a = b = out;
    *lo = a;
    *hi = b;
}

/* ---------------- validation ---------------- */

static bool check_plane_input(const char *op, const lt_tensor *x)
{
    if (!lt__check_dtype(op, "input", x, LT_F32)) return false;
    if (x->ndim != 3 && x->ndim != 4) {
        lt__fail(op, "input must be [N,C,H,W] or [C,H,W], got %s", lt__shp(x));
        return false;
    }
    for (int d = x->ndim - 3; d < x->ndim; d++)
        if (x->shape[d] == 0) {
            lt__fail(op, "input %s has an empty non-batch dimension %d", lt__shp(x), d);
            return false;
        }
    if (x->shape[x->ndim - 2] * x->shape[x->ndim - 1] > INT32_MAX) {
        lt__fail(op, "input %s: planes over 2^31 elements are not supported", lt__shp(x));
        return false;
    }
    return true;
}

static void plane_dims(const lt_tensor *x, pool_geom *g)
{
    g->ih = x->shape[x->ndim - 2];
    g->iw = x->shape[x->ndim - 1];
    g->planes = x->numel / (g->ih * g->iw);
}

/* Output shape: x's with the last two dimensions replaced. */
static void out_shape_of(const lt_tensor *x, int64_t oh, int64_t ow, int64_t *shape)
{
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 2] = oh;
    shape[x->ndim - 1] = ow;
}

static bool pool_setup(const char *op, const lt_tensor *x, const lt_pool2d_params *p, bool is_max, pool_geom *g)
{
    if (!check_plane_input(op, x)) return false;
    if (!p) {
        lt__fail(op, "parameters are required (at least the kernel size), got NULL for input %s", lt__shp(x));
        return false;
    }
    const int kh = p->kernel[0], kw = p->kernel[1];
    if (kh <= 0 || kw <= 0) {
        lt__fail(op, "kernel size should be greater than zero, but got kernel (%d, %d) for input %s", kh, kw,
                 lt__shp(x));
        return false;
    }
    if (p->stride[0] < 0 || p->stride[1] < 0) {
        lt__fail(op, "stride should be greater than zero (0 = kernel), but got stride (%d, %d) for input %s",
                 p->stride[0], p->stride[1], lt__shp(x));
        return false;
    }
    if (p->padding[0] < 0 || p->padding[1] < 0) {
        lt__fail(op, "padding should be non-negative, but got padding (%d, %d) for input %s", p->padding[0],
                 p->padding[1], lt__shp(x));
        return false;
    }
    if (is_max ? (p->dilation[0] < 0 || p->dilation[1] < 0)
               : (p->dilation[0] > 1 || p->dilation[1] > 1 || p->dilation[0] < 0 || p->dilation[1] < 0)) {
        lt__fail(op, "%s, but got dilation (%d, %d) for input %s",
                 is_max ? "dilation should be greater than zero (0 = 1)" : "dilation is not supported (must be 0 or 1)",
                 p->dilation[0], p->dilation[1], lt__shp(x));
        return false;
    }
    if (p->padding[0] > kh / 2 || p->padding[1] > kw / 2) {
        lt__fail(op, "pad should be at most half of kernel size, but got padding (%d, %d) and kernel (%d, %d) for "
                 "input %s", p->padding[0], p->padding[1], kh, kw, lt__shp(x));
        return false;
    }
    plane_dims(x, g);
    g->kh = kh;
    g->kw = kw;
    g->sh = p->stride[0] ? p->stride[0] : kh;
    g->sw = p->stride[1] ? p->stride[1] : kw;
    g->ph = p->padding[0];
    g->pw = p->padding[1];
    g->dh = p->dilation[0] > 0 ? p->dilation[0] : 1;
    g->dw = p->dilation[1] > 0 ? p->dilation[1] : 1;
    g->ceil_mode = p->ceil_mode;
    g->count_pad = !p->exclude_pad;
    g->oh = pooled_size(g->ih, kh, g->ph, g->sh, g->dh, g->ceil_mode);
    g->ow = pooled_size(g->iw, kw, g->pw, g->sw, g->dw, g->ceil_mode);
    if (g->oh < 1 || g->ow < 1) {
        int64_t shape[LT_MAX_DIMS];
        out_shape_of(x, g->oh, g->ow, shape);
        lt__fail(op, "input %s is too small: calculated output size %s (kernel (%d, %d), stride (%d, %d), padding "
                 "(%d, %d), dilation (%d, %d), ceil_mode %s)", lt__shp(x), lt__shape_dims(x->ndim, shape), kh, kw,
                 g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, g->ceil_mode ? "true" : "false");
        return false;
    }
    return true;
}

/* ---------------- max pooling ---------------- */

/* Valid rows [h0, h1) (step dh) of the windows of output row oh. */
static void max_rows_of(const pool_geom *g, int64_t oh, int64_t *h0, int64_t *h1)
{
    int64_t start = oh * g->sh - g->ph;
    *h1 = min64(start + (int64_t)(g->kh - 1) * g->dh + 1, g->ih);
    while (start < 0) start += g->dh;
    *h0 = start;
}

/* One window, PyTorch's loop: a value wins when greater than the best so far
 * or NaN (so NaN propagates and the last NaN is the argmax). An empty window
 * (possible with dilation) gives -inf and no argmax. */
static void max_window(const float *x, const pool_geom *g, int64_t h0, int64_t h1, int64_t ow, float *y,
                       int32_t *idx)
{
    int64_t w0 = ow * g->sw - g->pw;
    const int64_t w1 = min64(w0 + (int64_t)(g->kw - 1) * g->dw + 1, g->iw);
    while (w0 < 0) w0 += g->dw;
    float best = -INFINITY;
    int64_t bi = h0 * g->iw + w0;
    for (int64_t ih = h0; ih < h1; ih += g->dh)
        for (int64_t iw = w0; iw < w1; iw += g->dw) {
            const float v = x[ih * g->iw + iw];
            if (v > best || isnan(v)) {
                best = v;
                bi = ih * g->iw + iw;
            }
        }
    *y = best;
    if (idx) *idx = (h0 < h1 && w0 < w1) ? (int32_t)bi : -1;
}

/* Outputs [lo, hi) of one row whose kh x kw windows (dilation 1) lie
 * inside the input: x points at the window of output 0's first tap, base is
 * that tap's index in the plane. PyTorch's order: rows, then taps; a value
 * wins when greater or NaN. The loop over outputs vectorises. */
static ALWAYS_INLINE void max_full_windows(const float *restrict x, int64_t iw, float *restrict y,
                                           int32_t *restrict idx, int32_t base, int64_t lo, int64_t hi, const int kh,
                                           const int kw, const int sw)
{
#pragma omp simd
    for (int64_t ow = lo; ow < hi; ow++) {
        const float *w = x + ow * sw;
        float best = w[0];
        int32_t bi = 0;
        for (int r = 0; r < kh; r++)
            for (int j = 0; j < kw; j++) {
                const float v = w[r * iw + j];
                const bool take = v > best || v != v;
                best = take ? v : best;
                bi = take ? (int32_t)(r * iw + j) : bi;
            }
        y[ow] = best;
        if (idx) idx[ow] = base + (int32_t)ow * sw + bi;
    }
}

#if defined(__AVX512F__)
#include <immintrin.h>
/* max_full_windows for stride 2 with AVX-512: 16 outputs per step, the
 * tail masked (a scalar tail costs more than the vector body on short rows),
 * same taps in the same order, same NaN rule. Masked loads never touch
 * elements past the last window. */
static ALWAYS_INLINE void max_full_windows_s2_avx512(const float *x, int64_t iw, float *y, int32_t *idx,
                                                     int32_t base, int64_t lo, int64_t hi, const int kh,
                                                     const int kw)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i lane2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int64_t ow = lo; ow < hi; ow += 16) {
        const int64_t m = hi - ow < 16 ? hi - ow : 16;
        const int64_t span = 2 * m - 1; /* inputs a tap reads for m outputs */
        const __mmask16 mlo = (__mmask16)(span >= 16 ? 0xFFFF : (1u << span) - 1);
        const __mmask16 mhi = (__mmask16)(span > 16 ? (1u << (span - 16)) - 1 : 0);
        const __mmask16 mout = (__mmask16)((1u << m) - 1);
        const float *w = x + 2 * ow;
        __m512 best = _mm512_setzero_ps();
        __m512i bi = _mm512_setzero_si512();
        for (int r = 0; r < kh; r++)
            for (int j = 0; j < kw; j++) {
                const float *p = w + r * iw + j;
                const __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(mlo, p), even,
                                                        _mm512_maskz_loadu_ps(mhi, p + 16));
                if (r == 0 && j == 0) {
                    best = v;
                    continue;
                }
                const __mmask16 take =
                    _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                best = _mm512_mask_mov_ps(best, take, v);
                bi = _mm512_mask_mov_epi32(bi, take, _mm512_set1_epi32((int32_t)(r * iw + j)));
            }
        _mm512_mask_storeu_ps(y + ow, mout, best);
        if (idx) {
            const __m512i at = _mm512_add_epi32(_mm512_set1_epi32(base + (int32_t)ow * 2), lane2);
            _mm512_mask_storeu_epi32(idx + ow, mout, _mm512_add_epi32(at, bi));
        }
    }
}
#endif

/* Output row oh of one plane. kw/sw/dw are compile-time constants in the
 * fast-path instantiations. The interior starts from the window's first tap,
 * which is what PyTorch's "-inf, first index" start turns into. */
static ALWAYS_INLINE void max_pool_row(const float *restrict x, float *restrict y, int32_t *restrict idx,
                                       const pool_geom *g, int64_t oh, int64_t lo, int64_t hi, const int kw,
                                       const int sw, const int dw)
{
    int64_t h0, h1;
    max_rows_of(g, oh, &h0, &h1);
    for (int64_t ow = 0; ow < lo; ow++) max_window(x, g, h0, h1, ow, y + ow, idx ? idx + ow : NULL);
    for (int64_t ow = hi; ow < g->ow; ow++) max_window(x, g, h0, h1, ow, y + ow, idx ? idx + ow : NULL);
    if (lo >= hi) return;
    if (h0 >= h1) {
        for (int64_t ow = lo; ow < hi; ow++) {
            y[ow] = -INFINITY;
            if (idx) idx[ow] = -1;
        }
        return;
    }
    const int64_t iw = g->iw, pw = g->pw;
    if (kw == g->kw && dw == 1 && g->dh == 1 && h1 - h0 == g->kh && (g->kh == 2 || g->kh == 3)) {
        /* Full windows of a constant-tap instantiation: each output keeps its
         * running max in registers through all taps (same tap order). */
#if defined(__AVX512F__)
        if (sw == 2 && g->kh == 2)
            max_full_windows_s2_avx512(x + h0 * iw - pw, iw, y, idx, (int32_t)(h0 * iw - pw), lo, hi, 2, kw);
        else if (sw == 2)
            max_full_windows_s2_avx512(x + h0 * iw - pw, iw, y, idx, (int32_t)(h0 * iw - pw), lo, hi, 3, kw);
        else
#endif
        if (g->kh == 2)
            max_full_windows(x + h0 * iw - pw, iw, y, idx, (int32_t)(h0 * iw - pw), lo, hi, 2, kw, sw);
        else
            max_full_windows(x + h0 * iw - pw, iw, y, idx, (int32_t)(h0 * iw - pw), lo, hi, 3, kw, sw);
        return;
    }
    for (int64_t ih = h0; ih < h1; ih += g->dh) {
        const float *restrict row = x + ih * iw;
        for (int j = 0; j < kw; j++) {
            const int64_t off = (int64_t)j * dw - pw;
            if (ih == h0 && j == 0) {
                for (int64_t ow = lo; ow < hi; ow++) y[ow] = row[ow * sw + off];
                if (idx) {
                    const int32_t base = (int32_t)(ih * iw + off);
                    for (int64_t ow = lo; ow < hi; ow++) idx[ow] = base + (int32_t)ow * sw;
                }
                continue;
            }
            if (idx) {
                const int32_t base = (int32_t)(ih * iw + off);
                for (int64_t ow = lo; ow < hi; ow++) {
                    const float v = row[ow * sw + off];
                    const bool take = v > y[ow] || isnan(v);
                    y[ow] = take ? v : y[ow];
                    idx[ow] = take ? base + (int32_t)ow * sw : idx[ow];
                }
            } else {
                for (int64_t ow = lo; ow < hi; ow++) {
                    const float v = row[ow * sw + off];
                    y[ow] = (v > y[ow] || isnan(v)) ? v : y[ow];
                }
            }
        }
    }
}

static void max_pool_row_k2s2(const float *x, float *y, int32_t *idx, const pool_geom *g, int64_t oh, int64_t lo,
                              int64_t hi)
{
    max_pool_row(x, y, idx, g, oh, lo, hi, 2, 2, 1);
}

static void max_pool_row_k3s2(const float *x, float *y, int32_t *idx, const pool_geom *g, int64_t oh, int64_t lo,
                              int64_t hi)
{
    max_pool_row(x, y, idx, g, oh, lo, hi, 3, 2, 1);
}

static void max_pool_row_any(const float *x, float *y, int32_t *idx, const pool_geom *g, int64_t oh, int64_t lo,
                             int64_t hi)
{
    max_pool_row(x, y, idx, g, oh, lo, hi, g->kw, g->sw, g->dw);
}

static void max_pool_forward(const float *x, float *y, int32_t *argmax, const pool_geom *g)
{
    int64_t lo, hi;
    interior_range(g->iw, g->ow, g->kw, g->sw, g->pw, g->dw, &lo, &hi);
    void (*row_fn)(const float *, float *, int32_t *, const pool_geom *, int64_t, int64_t, int64_t) =
        max_pool_row_any;
    if (g->sw == 2 && g->dw == 1 && g->kw == 2) row_fn = max_pool_row_k2s2;
    if (g->sw == 2 && g->dw == 1 && g->kw == 3) row_fn = max_pool_row_k3s2;
    const int64_t rows = g->planes * g->oh, in_plane = g->ih * g->iw;
    const int64_t work = rows * g->ow * g->kh * g->kw;
#pragma omp parallel for schedule(static) if (work > LT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t plane = r / g->oh, oh = r % g->oh;
        row_fn(x + plane * in_plane, y + r * g->ow, argmax ? argmax + r * g->ow : NULL, g, oh, lo, hi);
    }
}

/* Scatter in output order, as PyTorch: overlapping windows add in that order. */
static void max_pool_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0];
    bool fresh;
    float *gi = lt__grad_begin(x, &fresh);
    if (!gi) return;
    const max_saved *s = node->saved;
    const pool_geom *g = &s->g;
    const float *go = node->out->grad;
    const int64_t in_plane = g->ih * g->iw, out_plane = g->oh * g->ow;
#pragma omp parallel for schedule(static) if (node->out->numel > LT_PAR_MIN)
    for (int64_t p = 0; p < g->planes; p++) {
        float *gip = gi + p * in_plane;
        const float *gop = go + p * out_plane;
        const int32_t *am = s->argmax + p * out_plane;
        /* A fresh buffer is zeroed plane by plane here, where the scatter
         * finds it in cache, instead of in a separate pass. */
        if (fresh) memset(gip, 0, sizeof(float) * (size_t)in_plane);
        for (int64_t k = 0; k < out_plane; k++)
            if (am[k] >= 0) gip[am[k]] += gop[k];
    }
}

lt_tensor *lt_max_pool2d(lt_tensor *x, const lt_pool2d_params *p)
{
    LT__PROFILE_OP(LT_OP_MAX_POOL2D);
    const char *op = "max_pool2d";
    if (!x) return NULL;
    pool_geom g;
    if (!pool_setup(op, x, p, true, &g)) return NULL;
    int64_t shape[LT_MAX_DIMS];
    out_shape_of(x, g.oh, g.ow, shape);
    lt_tensor *out = lt__result(op, LT_F32, x->ndim, shape);
    if (!out) return NULL;
    int32_t *argmax = NULL;
    max_saved *s = NULL;
    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_MAX_POOL2D, max_pool_backward, 1, &x, sizeof(max_saved));
        argmax = lt__alloc(op, sizeof(int32_t) * (size_t)out->numel);
        if (!node || !argmax) return NULL;
        s = node->saved;
        s->g = g;
        s->argmax = argmax;
    }
    max_pool_forward(lt_f32(x), lt_f32(out), argmax, &g);
    return out;
}

/* ---------------- average pooling ---------------- */

/* Rows [h0, h1) inside the input of output row oh, and the window height
 * clipped to input + padding (PyTorch's pool_size factor). */
static void avg_rows_of(const pool_geom *g, int64_t oh, int64_t *h0, int64_t *h1, int64_t *padded_h)
{
    const int64_t start = oh * g->sh - g->ph, end = min64(start + g->kh, g->ih + g->ph);
    *padded_h = end - start;
    *h0 = max64(start, 0);
    *h1 = min64(end, g->ih);
}

/* Divisor of the window at output (oh, ow) given its row extent. */
static void avg_cols_of(const pool_geom *g, int64_t ow, int64_t *w0, int64_t *w1, int64_t *padded_w)
{
    const int64_t start = ow * g->sw - g->pw, end = min64(start + g->kw, g->iw + g->pw);
    *padded_w = end - start;
    *w0 = max64(start, 0);
    *w1 = min64(end, g->iw);
}

static inline int64_t avg_divisor(const pool_geom *g, int64_t padded_h, int64_t padded_w, int64_t valid_h,
                                  int64_t valid_w)
{
    return g->count_pad ? padded_h * padded_w : valid_h * valid_w;
}

static void avg_window(const float *x, const pool_geom *g, int64_t h0, int64_t h1, int64_t padded_h, int64_t ow,
                       float *y)
{
    int64_t w0, w1, padded_w;
    avg_cols_of(g, ow, &w0, &w1, &padded_w);
    if (h0 >= h1 || w0 >= w1) {
        *y = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int64_t ih = h0; ih < h1; ih++)
        for (int64_t iw = w0; iw < w1; iw++) sum += x[ih * g->iw + iw];
    *y = sum / (float)avg_divisor(g, padded_h, padded_w, h1 - h0, w1 - w0);
}

static ALWAYS_INLINE void avg_pool_row(const float *restrict x, float *restrict y, const pool_geom *g, int64_t oh,
                                       int64_t lo, int64_t hi, const int kw, const int sw)
{
    int64_t h0, h1, padded_h;
    avg_rows_of(g, oh, &h0, &h1, &padded_h);
    for (int64_t ow = 0; ow < lo; ow++) avg_window(x, g, h0, h1, padded_h, ow, y + ow);
    for (int64_t ow = hi; ow < g->ow; ow++) avg_window(x, g, h0, h1, padded_h, ow, y + ow);
    if (lo >= hi) return;
    const int64_t iw = g->iw, pw = g->pw;
    for (int64_t ow = lo; ow < hi; ow++) y[ow] = 0.0f;
    if (h0 >= h1) return;
    for (int64_t ih = h0; ih < h1; ih++) {
        const float *restrict row = x + ih * iw;
        for (int j = 0; j < kw; j++) {
            const int64_t off = j - pw;
            for (int64_t ow = lo; ow < hi; ow++) y[ow] += row[ow * sw + off];
        }
    }
    /* interior windows have all kw columns inside the input */
    const float div = (float)avg_divisor(g, padded_h, kw, h1 - h0, kw);
    for (int64_t ow = lo; ow < hi; ow++) y[ow] /= div;
}

static void avg_pool_row_k2s2(const float *x, float *y, const pool_geom *g, int64_t oh, int64_t lo, int64_t hi)
{
    avg_pool_row(x, y, g, oh, lo, hi, 2, 2);
}

static void avg_pool_row_any(const float *x, float *y, const pool_geom *g, int64_t oh, int64_t lo, int64_t hi)
{
    avg_pool_row(x, y, g, oh, lo, hi, g->kw, g->sw);
}

static void avg_pool_forward(const float *x, float *y, const pool_geom *g)
{
    int64_t lo, hi;
    interior_range(g->iw, g->ow, g->kw, g->sw, g->pw, 1, &lo, &hi);
    void (*row_fn)(const float *, float *, const pool_geom *, int64_t, int64_t, int64_t) = avg_pool_row_any;
    if (g->kw == 2 && g->sw == 2) row_fn = avg_pool_row_k2s2;
    const int64_t rows = g->planes * g->oh, in_plane = g->ih * g->iw;
    const int64_t work = rows * g->ow * g->kh * g->kw;
#pragma omp parallel for schedule(static) if (work > LT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t plane = r / g->oh, oh = r % g->oh;
        row_fn(x + plane * in_plane, y + r * g->ow, g, oh, lo, hi);
    }
}

/* Adds grad/divisor of border output ow to its columns of input row `row`. */
static void avg_border_backward(float *row, const float *g_row, const pool_geom *g, int64_t padded_h, int64_t valid_h,
                                int64_t ow)
{
    int64_t w0, w1, padded_w;
    avg_cols_of(g, ow, &w0, &w1, &padded_w);
    if (w0 >= w1) return;
    const float d = g_row[ow] / (float)avg_divisor(g, padded_h, padded_w, valid_h, w1 - w0);
    for (int64_t iw = w0; iw < w1; iw++) row[iw] += d;
}

/* Gradient of output row oh into the input rows of its windows. Per input
 * element the contributions arrive in PyTorch's order (outputs in raster
 * order): rows oh ascending, and within one input row, outputs ow ascending. */
static ALWAYS_INLINE void avg_backward_row(float *restrict gi, const float *restrict g_row, const pool_geom *g,
                                           int64_t oh, int64_t lo, int64_t hi, const int kw, const int sw)
{
    int64_t h0, h1, padded_h;
    avg_rows_of(g, oh, &h0, &h1, &padded_h);
    if (h0 >= h1) return;
    const int64_t valid_h = h1 - h0, pw = g->pw;
    const float div = (float)avg_divisor(g, padded_h, kw, valid_h, kw);
    for (int64_t ih = h0; ih < h1; ih++) {
        float *restrict row = gi + ih * g->iw;
        for (int64_t ow = 0; ow < lo; ow++) avg_border_backward(row, g_row, g, padded_h, valid_h, ow);
        for (int64_t ow = lo; ow < hi; ow++) {
            const float d = g_row[ow] / div;
            for (int j = 0; j < kw; j++) row[ow * sw + j - pw] += d;
        }
        for (int64_t ow = hi; ow < g->ow; ow++) avg_border_backward(row, g_row, g, padded_h, valid_h, ow);
    }
}

static void avg_backward_plane_k2s2(float *gi, const float *go, const pool_geom *g, int64_t lo, int64_t hi)
{
    for (int64_t oh = 0; oh < g->oh; oh++) avg_backward_row(gi, go + oh * g->ow, g, oh, lo, hi, 2, 2);
}

static void avg_backward_plane_any(float *gi, const float *go, const pool_geom *g, int64_t lo, int64_t hi)
{
    for (int64_t oh = 0; oh < g->oh; oh++) avg_backward_row(gi, go + oh * g->ow, g, oh, lo, hi, g->kw, g->sw);
}

static void avg_pool_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0];
    float *gi = lt__grad(x);
    if (!gi) return;
    const pool_geom *g = node->saved;
    const float *go = node->out->grad;
    int64_t lo, hi;
    interior_range(g->iw, g->ow, g->kw, g->sw, g->pw, 1, &lo, &hi);
    void (*plane_fn)(float *, const float *, const pool_geom *, int64_t, int64_t) = avg_backward_plane_any;
    if (g->kw == 2 && g->sw == 2) plane_fn = avg_backward_plane_k2s2;
    const int64_t in_plane = g->ih * g->iw, out_plane = g->oh * g->ow;
    const int64_t work = g->planes * out_plane * g->kh * g->kw;
#pragma omp parallel for schedule(static) if (work > LT_PAR_MIN)
    for (int64_t p = 0; p < g->planes; p++) plane_fn(gi + p * in_plane, go + p * out_plane, g, lo, hi);
}

lt_tensor *lt_avg_pool2d(lt_tensor *x, const lt_pool2d_params *p)
{
    LT__PROFILE_OP(LT_OP_AVG_POOL2D);
    const char *op = "avg_pool2d";
    if (!x) return NULL;
    pool_geom g;
    if (!pool_setup(op, x, p, false, &g)) return NULL;
    int64_t shape[LT_MAX_DIMS];
    out_shape_of(x, g.oh, g.ow, shape);
    lt_tensor *out = lt__result(op, LT_F32, x->ndim, shape);
    if (!out) return NULL;
    avg_pool_forward(lt_f32(x), lt_f32(out), &g);
    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_AVG_POOL2D, avg_pool_backward, 1, &x, sizeof(pool_geom));
        if (!node) return NULL;
        *(pool_geom *)node->saved = g;
    }
    return out;
}

/* ---------------- adaptive average pooling ---------------- */

/* PyTorch's bins: [floor(i*in/out), ceil((i+1)*in/out)). */
static inline int64_t bin_start(int64_t i, int64_t out, int64_t in) { return (i / out) * in + ((i % out) * in) / out; }
static inline int64_t bin_end(int64_t i, int64_t out, int64_t in) { return 1 + ((i + 1) * in - 1) / out; }

/* Sum of n floats in independent lanes so the loops vectorise: 8 lanes for
 * small planes (7x7 heads), 32 (several vector chains) for large ones. */
static float sum_small(const float *restrict v, int64_t n)
{
    float lane[8] = {0}, tail = 0.0f;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += v[i + l];
    for (; i < n; i++) tail += v[i];
    for (int w = 4; w > 0; w /= 2)
        for (int l = 0; l < w; l++) lane[l] += lane[l + w];
    return lane[0] + tail;
}

static float sum_large(const float *restrict v, int64_t n)
{
    float lane[32] = {0};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int l = 0; l < 32; l++) lane[l] += v[i + l];
    for (int w = 16; w > 0; w /= 2)
        for (int l = 0; l < w; l++) lane[l] += lane[l + w];
    return lane[0] + sum_small(v + i, n - i);
}

static float plane_sum(const float *v, int64_t n) { return n >= 256 ? sum_large(v, n) : sum_small(v, n); }

/* Output 1x1 is PyTorch's mean over H and W: sum, then divide by H*W. */
static void global_avg_forward(const float *x, float *y, const pool_geom *g)
{
    const int64_t n = g->ih * g->iw;
    const float count = (float)n;
#pragma omp parallel for schedule(static) if (g->planes * n > LT_PAR_MIN)
    for (int64_t p = 0; p < g->planes; p++) y[p] = plane_sum(x + p * n, n) / count;
}

static void adaptive_avg_forward(const float *x, float *y, const pool_geom *g)
{
    const int64_t in_plane = g->ih * g->iw, rows = g->planes * g->oh;
#pragma omp parallel for schedule(static) if (g->planes * in_plane > LT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t plane = r / g->oh, oh = r % g->oh;
        const float *xp = x + plane * in_plane;
        const int64_t h0 = bin_start(oh, g->oh, g->ih), h1 = bin_end(oh, g->oh, g->ih);
        for (int64_t ow = 0; ow < g->ow; ow++) {
            const int64_t w0 = bin_start(ow, g->ow, g->iw), w1 = bin_end(ow, g->ow, g->iw);
            float sum = 0.0f;
            for (int64_t ih = h0; ih < h1; ih++)
                for (int64_t iw = w0; iw < w1; iw++) sum += xp[ih * g->iw + iw];
            /* two divisions, as PyTorch's kernel does */
            y[r * g->ow + ow] = sum / (float)(h1 - h0) / (float)(w1 - w0);
        }
    }
}

static void adaptive_avg_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0];
    const pool_geom *g = node->saved;
    const float *go = node->out->grad;
    const int64_t in_plane = g->ih * g->iw, out_plane = g->oh * g->ow;
    if (out_plane == 1) { /* every input element gets its plane's share: store when fresh */
        bool fresh;
        float *gi = lt__grad_begin(x, &fresh);
        if (!gi) return;
        const float count = (float)in_plane;
#pragma omp parallel for schedule(static) if (g->planes * in_plane > LT_PAR_MIN)
        for (int64_t p = 0; p < g->planes; p++) {
            const float d = go[p] / count;
            float *gip = gi + p * in_plane;
            if (fresh)
                for (int64_t i = 0; i < in_plane; i++) gip[i] = d;
            else
                for (int64_t i = 0; i < in_plane; i++) gip[i] += d;
        }
        return;
    }
    float *gi = lt__grad(x);
    if (!gi) return;
#pragma omp parallel for schedule(static) if (g->planes * in_plane > LT_PAR_MIN)
    for (int64_t p = 0; p < g->planes; p++) {
        float *gip = gi + p * in_plane;
        const float *gop = go + p * out_plane;
        for (int64_t oh = 0; oh < g->oh; oh++) {
            const int64_t h0 = bin_start(oh, g->oh, g->ih), h1 = bin_end(oh, g->oh, g->ih);
            for (int64_t ow = 0; ow < g->ow; ow++) {
                const int64_t w0 = bin_start(ow, g->ow, g->iw), w1 = bin_end(ow, g->ow, g->iw);
                const float d = gop[oh * g->ow + ow] / (float)(h1 - h0) / (float)(w1 - w0);
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) gip[ih * g->iw + iw] += d;
            }
        }
    }
}

lt_tensor *lt_adaptive_avg_pool2d(lt_tensor *x, int64_t out_h, int64_t out_w)
{
    LT__PROFILE_OP(LT_OP_ADAPTIVE_AVG_POOL2D);
    const char *op = "adaptive_avg_pool2d";
    if (!x) return NULL;
    if (!check_plane_input(op, x)) return NULL;
    if (out_h < 1 || out_w < 1) {
        lt__fail(op, "output size must be positive, got (%lld, %lld) for input %s", (long long)out_h,
                 (long long)out_w, lt__shp(x));
        return NULL;
    }
    pool_geom g = {0};
    plane_dims(x, &g);
    g.oh = out_h;
    g.ow = out_w;
    int64_t shape[LT_MAX_DIMS];
    out_shape_of(x, out_h, out_w, shape);
    lt_tensor *out = lt__result(op, LT_F32, x->ndim, shape);
    if (!out) return NULL;
    if (out_h == 1 && out_w == 1)
        global_avg_forward(lt_f32(x), lt_f32(out), &g);
    else
        adaptive_avg_forward(lt_f32(x), lt_f32(out), &g);
    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_ADAPTIVE_AVG_POOL2D, adaptive_avg_backward, 1, &x, sizeof(pool_geom));
        if (!node) return NULL;
        *(pool_geom *)node->saved = g;
    }
    return out;
}
