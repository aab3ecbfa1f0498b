/* Normalisation: batch norm (F.batch_norm) and layer norm (F.layer_norm).
 *
 * Statistics are reduced in double (two passes: mean, then squared
 * deviations), so they are at least as accurate as PyTorch's float kernels
 * whatever the plane size. Reductions use `omp simd` over contiguous rows:
 * vectorised, and the summation order depends only on the build, never on
 * the thread count. Formulas follow PyTorch 1.13's CPU kernels
 * (aten/src/ATen/native/cpu/batch_norm_kernel.cpp, layer_norm_kernel.cpp). */
#include "../internal.h"

#include <math.h>

/* ---------------- row helpers ---------------- */

/* The statistics are summed in double. The gradient sums add float partial
 * sums of blocks of ROW_BLOCK elements (vector lanes of a few elements each)
 * into double: float-speed vector code, still more accurate than PyTorch's
 * float accumulation (centred values, so no large offset to lose bits to). */
#define ROW_BLOCK 256

/* Rows shorter than a vector (late ResNet layers: 2x2 planes) skip the
 * vector loop's set-up and tail, which cost more than the work there. */
#define ROW_SHORT 16

static double row_sum(const float *x, int64_t n)
{
    double s = 0.0;
    if (n < ROW_SHORT) {
        for (int64_t i = 0; i < n; i++) s += (double)x[i];
        return s;
    }
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += (double)x[i];
    return s;
}

static double row_sq_dev(const float *x, int64_t n, double mean)
{
    double s = 0.0;
    if (n < ROW_SHORT) {
        for (int64_t i = 0; i < n; i++) s += ((double)x[i] - mean) * ((double)x[i] - mean);
        return s;
    }
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - mean;
        s += d * d;
    }
    return s;
}

/* sum(dy) and sum((x - mean) * dy) of one row (accumulated into the outputs). */
static void row_grad_sums(const float *x, const float *dy, int64_t n, float mean, double *sum_dy, double *dot)
{
    double s = 0.0, d = 0.0;
    if (n < ROW_SHORT) {
        for (int64_t i = 0; i < n; i++) {
            s += (double)dy[i];
            d += (double)((x[i] - mean) * dy[i]);
        }
        *sum_dy += s;
        *dot += d;
        return;
    }
    for (int64_t b = 0; b < n; b += ROW_BLOCK) {
        const int64_t e = n - b < ROW_BLOCK ? n : b + ROW_BLOCK;
        float ps = 0.0f, pd = 0.0f;
#pragma omp simd reduction(+ : ps, pd)
        for (int64_t i = b; i < e; i++) {
            ps += dy[i];
            pd += (x[i] - mean) * dy[i];
        }
        s += (double)ps;
        d += (double)pd;
    }
    *sum_dy += s;
    *dot += d;
}

/* sum(dy * w) and sum((x - mean) * dy * w) of one row. */
static void row_grad_sums_w(const float *x, const float *dy, const float *w, int64_t n, float mean, double *sum_g,
                            double *dot)
{
    double s = 0.0, d = 0.0;
#pragma omp simd reduction(+ : s, d)
    for (int64_t i = 0; i < n; i++) {
        const double g = (double)dy[i] * (double)w[i];
        s += g;
        d += ((double)x[i] - (double)mean) * g;
    }
    *sum_g += s;
    *dot += d;
}

/* ================= batch norm ================= */

typedef struct bn_saved {
    float *mean;   /* [C]: batch mean (training) or running mean */
    float *invstd; /* [C]: 1/sqrt(var + eps) of the same statistics */
    bool training;
} bn_saved;

/* N, C and the size of one [N, C] plane (product of the dims after C). */
typedef struct bn_geom {
    int64_t n, c, inner;
} bn_geom;

static const char *const BN = "batch_norm";

static bool bn_check_param(const char *what, const lt_tensor *t, const lt_tensor *x, int64_t c)
{
    if (!t) return true;
    if (!lt__check_dtype(BN, what, t, LT_F32)) return false;
    if (t->numel != c) {
        lt__fail(BN, "%s %s must have %lld elements, one per channel of input %s", what, lt__shp(t), (long long)c,
                 lt__shp(x));
        return false;
    }
    return true;
}

static bool bn_validate(const lt_tensor *x, const lt_tensor *rm, const lt_tensor *rv, const lt_tensor *w,
                        const lt_tensor *b, bool training, float momentum, float eps, bn_geom *g)
{
    if (!lt__check_dtype(BN, "input", x, LT_F32)) return false;
    if (x->ndim < 2) {
        lt__fail(BN, "input %s must be [N,C] or [N,C,...] (at least 2 dimensions)", lt__shp(x));
        return false;
    }
    g->n = x->shape[0];
    g->c = x->shape[1];
    g->inner = lt__numel(x->ndim - 2, x->shape + 2);
    if (!bn_check_param("weight", w, x, g->c) || !bn_check_param("bias", b, x, g->c) ||
        !bn_check_param("running_mean", rm, x, g->c) || !bn_check_param("running_var", rv, x, g->c))
        return false;
    if (!training && (!rm || !rv)) {
        lt__fail(BN, "running_mean and running_var are required in evaluation mode (input %s, running_mean %s, "
                     "running_var %s)", lt__shp(x), lt__shp(rm), lt__shp(rv));
        return false;
    }
    if (training && x->numel > 0 && g->n * g->inner == 1) {
        lt__fail(BN, "expected more than 1 value per channel when training, got input %s", lt__shp(x));
        return false;
    }
    if (!(eps >= 0.0f) || !isfinite(momentum)) {
        lt__fail(BN, "invalid eps %g or momentum %g for input %s", (double)eps, (double)momentum, lt__shp(x));
        return false;
    }
    return true;
}

/* alpha = invstd * w, beta = b - mean * alpha: y = x * alpha + beta. */
static void bn_coefs(int64_t c, const float *mean, const float *invstd, const lt_tensor *w, const lt_tensor *b,
                     float *alpha, float *beta)
{
    double a = (double)invstd[c] * (w ? (double)lt_f32(w)[c] : 1.0);
    alpha[c] = (float)a;
    beta[c] = (float)((b ? (double)lt_f32(b)[c] : 0.0) - (double)mean[c] * a);
}

/* Training forward in one sweep over the channels: batch statistics, the
 * running stats update (in place, when given) and y, each channel's output
 * written while its input is still in cache from the statistics passes. */
static void bn_batch_forward(const lt_tensor *x, const bn_geom *g, float eps, float momentum, lt_tensor *rm,
                             lt_tensor *rv, const lt_tensor *w, const lt_tensor *b, float *mean_out,
                             float *invstd_out, float *alpha, float *beta, float *ys)
{
    const float *xs = lt_f32(x);
    const int64_t count = g->n * g->inner, c_n = g->c, inner = g->inner;
    float *rms = rm ? lt_f32(rm) : NULL, *rvs = rv ? lt_f32(rv) : NULL;
    const double m = momentum;
#pragma omp parallel for schedule(static) if (x->numel > LT_PAR_MIN)
    for (int64_t c = 0; c < c_n; c++) {
        double sum = 0.0;
        for (int64_t n = 0; n < g->n; n++) sum += row_sum(xs + (n * c_n + c) * inner, inner);
        const double mean = sum / (double)count;
        double sq = 0.0;
        for (int64_t n = 0; n < g->n; n++) sq += row_sq_dev(xs + (n * c_n + c) * inner, inner, mean);
        mean_out[c] = (float)mean;
        invstd_out[c] = (float)(1.0 / sqrt(sq / (double)count + (double)eps));
        if (rms) rms[c] = (float)(m * mean + (1.0 - m) * (double)rms[c]);
        if (rvs) rvs[c] = (float)(m * (sq / (double)(count - 1)) + (1.0 - m) * (double)rvs[c]);
        bn_coefs(c, mean_out, invstd_out, w, b, alpha, beta);
        const float a = alpha[c], bb = beta[c];
        for (int64_t n = 0; n < g->n; n++) {
            const float *xr = xs + (n * c_n + c) * inner;
            float *yr = ys + (n * c_n + c) * inner;
            for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] * a + bb;
        }
    }
    if (rm) rm->version++;
    if (rv) rv->version++;
}

static void bn_running_stats(const lt_tensor *rm, const lt_tensor *rv, int64_t c_n, float eps, float *mean_out,
                             float *invstd_out)
{
    for (int64_t c = 0; c < c_n; c++) {
        mean_out[c] = lt_f32(rm)[c];
        invstd_out[c] = (float)(1.0 / sqrt((double)lt_f32(rv)[c] + (double)eps));
    }
}

/* y = x * alpha[c] + beta[c] with alpha = invstd * w, beta = b - mean * alpha. */
static void bn_apply(const lt_tensor *x, const bn_geom *g, const float *mean, const float *invstd,
                     const lt_tensor *w, const lt_tensor *b, float *alpha, float *beta, float *ys)
{
    for (int64_t c = 0; c < g->c; c++) bn_coefs(c, mean, invstd, w, b, alpha, beta);
    const float *xs = lt_f32(x);
    const int64_t planes = g->n * g->c, inner = g->inner, c_n = g->c;
#pragma omp parallel for schedule(static) if (x->numel > LT_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float a = alpha[p % c_n], bb = beta[p % c_n];
        const float *xr = xs + p * inner;
        float *yr = ys + p * inner;
        for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] * a + bb;
    }
}

static void bn_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0], *w = node->inputs[1], *b = node->inputs[2];
    const bn_saved *s = node->saved;
    bool fresh;
    float *gx = lt__grad_begin(x, &fresh), *gw = lt__grad(w), *gb = lt__grad(b);
    if (!gx && !gw && !gb) return;
    const float *dy = node->out->grad, *xs = lt_f32(x);
    const int64_t c_n = x->shape[1], n_n = x->shape[0], inner = lt__numel(x->ndim - 2, x->shape + 2);
    const int64_t count = n_n * inner;
    const bool need_sums = gw || gb || (gx && s->training);
#pragma omp parallel for schedule(static) if (x->numel > LT_PAR_MIN)
    for (int64_t c = 0; c < c_n; c++) {
        const float mean = s->mean[c], invstd = s->invstd[c];
        const float wc = w ? lt_f32(w)[c] : 1.0f;
        double sum_dy = 0.0, dot = 0.0;
        if (need_sums)
            for (int64_t n = 0; n < n_n; n++) {
                const int64_t off = (n * c_n + c) * inner;
                row_grad_sums(xs + off, dy + off, inner, mean, &sum_dy, &dot);
            }
        if (gx) {
            /* training: dx = (dy - mean(dy) - (x - mean) * k) * invstd * w, with
             * k = mean((x - mean) * dy) * invstd^2 (the batch-statistics terms);
             * eval: the statistics are constants, dx = dy * invstd * w. */
            const float k = (float)(dot * (double)invstd * (double)invstd / (double)count);
            const float dy_mean = (float)(sum_dy / (double)count), scale = invstd * wc;
            for (int64_t n = 0; n < n_n; n++) {
                const int64_t off = (n * c_n + c) * inner;
                const float *xr = xs + off, *dr = dy + off;
                float *gr = gx + off;
                /* A fresh gradient is stored into rather than added to. */
                if (s->training && fresh)
                    for (int64_t i = 0; i < inner; i++) gr[i] = (dr[i] - dy_mean - (xr[i] - mean) * k) * scale;
                else if (s->training)
                    for (int64_t i = 0; i < inner; i++) gr[i] += (dr[i] - dy_mean - (xr[i] - mean) * k) * scale;
                else if (fresh)
                    for (int64_t i = 0; i < inner; i++) gr[i] = dr[i] * scale;
                else
                    for (int64_t i = 0; i < inner; i++) gr[i] += dr[i] * scale;
            }
        }
        if (gw) gw[c] += (float)(dot * (double)invstd);
        if (gb) gb[c] += (float)sum_dy;
    }
}

lt_tensor *lt_batch_norm(lt_tensor *x, lt_tensor *running_mean, lt_tensor *running_var, lt_tensor *weight,
                         lt_tensor *bias, bool training, float momentum, float eps)
{
    LT__PROFILE_OP(LT_OP_BATCH_NORM2D);
    if (!x) return NULL;
    bn_geom g;
    if (!bn_validate(x, running_mean, running_var, weight, bias, training, momentum, eps, &g)) return NULL;
    lt_tensor *out = lt__result(BN, LT_F32, x->ndim, x->shape);
    float *mean = lt__alloc(BN, sizeof(float) * (size_t)(g.c ? g.c : 1));
    float *invstd = lt__alloc(BN, sizeof(float) * (size_t)(g.c ? g.c : 1));
    float *alpha = lt__alloc(BN, sizeof(float) * (size_t)(g.c ? g.c : 1));
    float *beta = lt__alloc(BN, sizeof(float) * (size_t)(g.c ? g.c : 1));
    if (!out || !mean || !invstd || !alpha || !beta) return NULL;

    if (x->numel == 0) /* as PyTorch: empty output, running stats untouched */
        for (int64_t c = 0; c < g.c; c++) mean[c] = 0.0f, invstd[c] = 0.0f;
    if (training && x->numel > 0) {
        bn_batch_forward(x, &g, eps, momentum, running_mean, running_var, weight, bias, mean, invstd, alpha, beta,
                         lt_f32(out));
    } else {
        if (x->numel > 0) bn_running_stats(running_mean, running_var, g.c, eps, mean, invstd);
        bn_apply(x, &g, mean, invstd, weight, bias, alpha, beta, lt_f32(out));
    }

    lt_tensor *inputs[3] = {x, weight, bias};
    if (lt__wants_grad(3, inputs)) {
        lt_node *node = lt__record(out, LT_OP_BATCH_NORM2D, bn_backward, 3, inputs, sizeof(bn_saved));
        if (!node) return NULL;
        bn_saved *s = node->saved;
        s->mean = mean;
        s->invstd = invstd;
        s->training = training;
    }
    return out;
}

/* ================= layer norm ================= */

typedef struct ln_saved {
    float *mean, *rstd; /* [rows] */
    int64_t rows, d;    /* rows of d normalised elements */
} ln_saved;

static const char *const LN = "layer_norm";

/* Rows per chunk of the weight/bias gradient partial sums (see ln_backward_rows). */
#define LN_CHUNK_ROWS 32

static bool ln_check_param(const char *what, const lt_tensor *t, const lt_tensor *x, int k)
{
    if (!t) return true;
    if (!lt__check_dtype(LN, what, t, LT_F32)) return false;
    bool ok = t->ndim == k;
    for (int i = 0; ok && i < k; i++) ok = t->shape[i] == x->shape[x->ndim - k + i];
    if (!ok)
        lt__fail(LN, "%s %s must have the normalized shape %s (last %d dimensions of input %s)", what, lt__shp(t),
                 lt__shape_dims(k, x->shape + x->ndim - k), k, lt__shp(x));
    return ok;
}

static void ln_forward_rows(const float *xs, int64_t rows, int64_t d, float eps, const float *w, const float *b,
                            float *ys, float *mean_out, float *rstd_out)
{
#pragma omp parallel for schedule(static) if (rows * d > LT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xs + r * d;
        float *yr = ys + r * d;
        const double mean = row_sum(xr, d) / (double)d;
        const double var = row_sq_dev(xr, d, mean) / (double)d;
        const float mf = (float)mean, rstd = (float)(1.0 / sqrt(var + (double)eps));
        mean_out[r] = mf;
        rstd_out[r] = rstd;
        /* Separate passes over the (cache-resident) row keep each loop simple
         * to vectorise; the rounding is that of (x - mean) * rstd * w + b. */
        for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - mf) * rstd;
        if (w)
            for (int64_t j = 0; j < d; j++) yr[j] *= w[j];
        if (b)
            for (int64_t j = 0; j < d; j++) yr[j] += b[j];
    }
}

/* One row of the input gradient, dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
 * with g = dy * w; with pw/pb, also accumulates dy * xhat and dy into them. */
static void ln_grad_row(const float *xr, const float *dr, const float *w, float mean, float rstd, int64_t d, float *gr,
                        float *pw, float *pb)
{
    if (gr) {
        double sum_g = 0.0, sum_gx = 0.0;
        if (w)
            row_grad_sums_w(xr, dr, w, d, mean, &sum_g, &sum_gx);
        else
            row_grad_sums(xr, dr, d, mean, &sum_g, &sum_gx);
        sum_gx *= (double)rstd;
        const float g_mean = (float)(sum_g / (double)d), gx_mean = (float)(sum_gx / (double)d);
        if (w)
            for (int64_t j = 0; j < d; j++)
                gr[j] += rstd * (dr[j] * w[j] - g_mean - ((xr[j] - mean) * rstd) * gx_mean);
        else
            for (int64_t j = 0; j < d; j++) gr[j] += rstd * (dr[j] - g_mean - ((xr[j] - mean) * rstd) * gx_mean);
    }
    if (pw)
        for (int64_t j = 0; j < d; j++) pw[j] += dr[j] * ((xr[j] - mean) * rstd);
    if (pb)
        for (int64_t j = 0; j < d; j++) pb[j] += dr[j];
}

/* Rows go in fixed chunks; each chunk sums its weight/bias gradient into its
 * own partial row, and the partials are added in chunk order, so the result
 * does not depend on the thread count. */
static void ln_backward_rows(const float *xs, const float *dy, const float *w, const ln_saved *s, float *gx,
                             float *gw, float *gb)
{
    const int64_t rows = s->rows, d = s->d;
    const int64_t chunks = (rows + LN_CHUNK_ROWS - 1) / LN_CHUNK_ROWS;
    float *pw = NULL, *pb = NULL;
    if (gw || gb) {
        pw = lt__calloc(LN, sizeof(float) * (size_t)(chunks * d * 2));
        if (!pw) return; /* out of step memory: the error is set */
        pb = pw + chunks * d;
    }
#pragma omp parallel for schedule(static) if (rows * d > LT_PAR_MIN)
    for (int64_t ch = 0; ch < chunks; ch++) {
        const int64_t end = (ch + 1) * LN_CHUNK_ROWS < rows ? (ch + 1) * LN_CHUNK_ROWS : rows;
        for (int64_t r = ch * LN_CHUNK_ROWS; r < end; r++)
            ln_grad_row(xs + r * d, dy + r * d, w, s->mean[r], s->rstd[r], d, gx ? gx + r * d : NULL,
                        gw ? pw + ch * d : NULL, gb ? pb + ch * d : NULL);
    }
    if (!pw) return;
#pragma omp parallel for schedule(static) if (chunks * d > LT_PAR_MIN)
    for (int64_t j = 0; j < d; j++) {
        double sw = 0.0, sb = 0.0;
        for (int64_t ch = 0; ch < chunks; ch++) sw += (double)pw[ch * d + j], sb += (double)pb[ch * d + j];
        if (gw) gw[j] += (float)sw;
        if (gb) gb[j] += (float)sb;
    }
}

static void ln_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0], *w = node->inputs[1], *b = node->inputs[2];
    const ln_saved *s = node->saved;
    float *gx = lt__grad(x), *gw = lt__grad(w), *gb = lt__grad(b);
    if (s->rows == 0 || s->d == 0) return;
    if (!gx && !gw && !gb) return;
    ln_backward_rows(lt_f32(x), node->out->grad, w ? lt_f32(w) : NULL, s, gx, gw, gb);
}

lt_tensor *lt_layer_norm(lt_tensor *x, int normalized_ndim, lt_tensor *weight, lt_tensor *bias, float eps)
{
    LT__PROFILE_OP(LT_OP_LAYER_NORM);
    if (!x) return NULL;
    if (!lt__check_dtype(LN, "input", x, LT_F32)) return NULL;
    const int k = normalized_ndim;
    if (k < 1 || k > x->ndim) {
        lt__fail(LN, "normalized_ndim %d must be in 1..%d for input %s", k, x->ndim, lt__shp(x));
        return NULL;
    }
    if (!ln_check_param("weight", weight, x, k) || !ln_check_param("bias", bias, x, k)) return NULL;
    if (!(eps >= 0.0f)) {
        lt__fail(LN, "invalid eps %g for input %s", (double)eps, lt__shp(x));
        return NULL;
    }
    const int64_t d = lt__numel(k, x->shape + x->ndim - k);
    const int64_t rows = d ? x->numel / d : 0;
    lt_tensor *out = lt__result(LN, LT_F32, x->ndim, x->shape);
    float *stats = lt__alloc(LN, sizeof(float) * (size_t)(2 * rows + 1));
    if (!out || !stats) return NULL;
    ln_saved st = {stats, stats + rows, rows, d};
    ln_forward_rows(lt_f32(x), rows, d, eps, weight ? lt_f32(weight) : NULL, bias ? lt_f32(bias) : NULL,
                    lt_f32(out), st.mean, st.rstd);

    lt_tensor *inputs[3] = {x, weight, bias};
    if (lt__wants_grad(3, inputs)) {
        lt_node *node = lt__record(out, LT_OP_LAYER_NORM, ln_backward, 3, inputs, sizeof(ln_saved));
        if (!node) return NULL;
        *(ln_saved *)node->saved = st;
    }
    return out;
}
