/* F.interpolate on [N,C,H,W]: nearest (PyTorch's legacy 'nearest') and
 * bilinear (align_corners true/false), forward and backward.
 *
 * Each axis gets a table mapping output to source indices (and bilinear
 * weights) computed exactly as PyTorch 1.13's NCHW CPU kernels do in float32,
 * with the scale 1/scale_factor when a scale factor is given and bilinear's
 * out == in shortcut (a plain copy).
 *
 * Nearest follows PyTorch's NCHW forward, src = min(floor(dst * scale), in-1)
 * with no shortcut. PyTorch's backward (and its channels-last forward, which
 * it also picks for C == 1) instead special-cases out == in and out == 2*in,
 * which disagrees with that forward when a scale factor such as 1.05 or 2.04
 * lands there; our backward is always the exact adjoint of our forward.
 * Bilinear computes (x[h0,w0]*lw0 + x[h0,w1]*lw1)*lh0 + (x[h1,w0]*lw0 +
 * x[h1,w1]*lw1)*lh1 in that order, like PyTorch; the horizontal passes
 * are cached per input row so upsampling does them once per row.
 *
 * Backward adds each input element's terms in PyTorch's order (outputs in
 * raster order): bilinear scatters like PyTorch, nearest gathers per input
 * row (independent rows, no scatter conflicts). */
#include "../internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct interp_axis {
    int64_t in, out;
    int64_t *i0, *i1; /* source indices (nearest uses i0) */
    float *l0, *l1;   /* bilinear weights of i0 and i1 */
} interp_axis;

typedef struct interp_saved {
    lt_interp_mode mode;
    int64_t planes;
    interp_axis h, w;
    int64_t *rows_of, *cols_of; /* nearest: inverse tables (see nearest_inverse) */
} interp_saved;

/* ---------------- index tables ---------------- */

/* PyTorch's compute_scales_value: 1/scale_factor when given, else in/out. */
static float resize_scale(int64_t in, int64_t out, double scale_factor)
{
    return scale_factor > 0.0 ? (float)(1.0 / scale_factor) : (float)in / (float)out;
}

static void nearest_table(interp_axis *a, double scale_factor)
{
    const float scale = resize_scale(a->in, a->out, scale_factor);
    for (int64_t i = 0; i < a->out; i++) {
        const int64_t src = (int64_t)floorf((float)i * scale);
        a->i0[i] = src < a->in - 1 ? src : a->in - 1;
    }
}

/* PyTorch's area_pixel_compute_scale / area_pixel_compute_source_index. */
static void bilinear_table(interp_axis *a, bool align_corners, double scale_factor)
{
    float scale;
    if (align_corners)
        scale = a->out > 1 ? (float)(a->in - 1) / (float)(a->out - 1) : 0.0f;
    else
        scale = resize_scale(a->in, a->out, scale_factor);
    for (int64_t i = 0; i < a->out; i++) {
        if (a->out == a->in) {
            a->i0[i] = a->i1[i] = i;
            a->l0[i] = 1.0f;
            a->l1[i] = 0.0f;
            continue;
        }
        float src = align_corners ? scale * (float)i : scale * ((float)i + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        const int64_t i0 = (int64_t)src;
        a->i0[i] = i0;
        a->i1[i] = i0 + (i0 < a->in - 1 ? 1 : 0);
        const float l1 = fminf(fmaxf(src - (float)i0, 0.0f), 1.0f);
        a->l1[i] = l1;
        a->l0[i] = 1.0f - l1;
    }
}

static bool axis_alloc(const char *op, interp_axis *a, int64_t in, int64_t out, bool weights)
{
    a->in = in;
    a->out = out;
    a->i0 = lt__alloc(op, sizeof(int64_t) * (size_t)out * (weights ? 2 : 1));
    if (!a->i0) return false;
    a->i1 = weights ? a->i0 + out : NULL;
    a->l0 = a->l1 = NULL;
    if (weights) {
        a->l0 = lt__alloc(op, sizeof(float) * (size_t)out * 2);
        if (!a->l0) return false;
        a->l1 = a->l0 + out;
    }
    return true;
}

/* ---------------- nearest ---------------- */

/* Static share [start, end) of `n` rows for the calling thread. */
static void thread_share(int64_t n, int64_t *start, int64_t *end)
{
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    *start = n * t / nt;
    *end = n * (t + 1) / nt;
}

/* True when the table is src = i / 2 (true for scale 2, not for every
 * scale giving out == 2*in). */
static bool is_doubling(const interp_axis *a)
{
    if (a->out != 2 * a->in) return false;
    for (int64_t i = 0; i < a->out; i++)
        if (a->i0[i] != i / 2) return false;
    return true;
}

static void nearest_forward(const float *x, float *y, const interp_axis *h, const interp_axis *w, int64_t planes)
{
    const int64_t rows = planes * h->out, in_plane = h->in * w->in, ow = w->out;
    const bool twice = is_doubling(w);
#pragma omp parallel if (rows * ow > LT_PAR_MIN)
    {
        int64_t start, end;
        thread_share(rows, &start, &end);
        for (int64_t r = start; r < end; r++) {
            const int64_t plane = r / h->out, oh = r % h->out;
            float *restrict yr = y + r * ow;
            /* consecutive output rows reading the same input row are copies */
            if (r > start && oh > 0 && h->i0[oh] == h->i0[oh - 1]) {
                memcpy(yr, yr - ow, sizeof(float) * (size_t)ow);
                continue;
            }
            const float *restrict xr = x + plane * in_plane + h->i0[oh] * w->in;
            if (twice) {
                for (int64_t i = 0; i < w->in; i++) yr[2 * i] = yr[2 * i + 1] = xr[i];
            } else {
                const int64_t *restrict src = w->i0;
                for (int64_t i = 0; i < ow; i++) yr[i] = xr[src[i]];
            }
        }
    }
}

/* Inverse of a monotone nearest table: input i is the source of outputs
 * [first[i], first[i + 1]). */
static void nearest_inverse(const interp_axis *a, int64_t *first)
{
    int64_t o = 0;
    for (int64_t i = 0; i <= a->in; i++) {
        while (o < a->out && a->i0[o] < i) o++;
        first[i] = o;
    }
}

/* Gathers instead of scattering: each input row sums its own output rows
 * (rows_of/cols_of from nearest_inverse), so rows are independent. Per input
 * element the terms still come in PyTorch's order (outputs in raster order). */
static void nearest_backward(const float *go, float *gi, const interp_axis *h, const interp_axis *w,
                             const int64_t *rows_of, const int64_t *cols_of, int64_t planes)
{
    const bool twice = is_doubling(w);
    const int64_t out_plane = h->out * w->out, rows = planes * h->in, iw = w->in, ow = w->out;
#pragma omp parallel for schedule(static) if (planes * out_plane > LT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t plane = r / h->in, ih = r % h->in;
        float *restrict gr = gi + r * iw;
        for (int64_t oh = rows_of[ih]; oh < rows_of[ih + 1]; oh++) {
            const float *restrict g = go + plane * out_plane + oh * ow;
            if (twice) {
                for (int64_t i = 0; i < iw; i++) gr[i] = (gr[i] + g[2 * i]) + g[2 * i + 1];
                continue;
            }
            for (int64_t i = 0; i < iw; i++) {
                float acc = gr[i];
                for (int64_t o = cols_of[i]; o < cols_of[i + 1]; o++) acc += g[o];
                gr[i] = acc;
            }
        }
    }
}

/* ---------------- bilinear ---------------- */

/* Two horizontally interpolated input rows, tagged by their global row id. */
typedef struct row_cache {
    float *buf[2];
    int64_t tag[2];
} row_cache;

/* Input row `id` interpolated along w, computed unless cached; never evicts
 * the row tagged `keep`. */
static const float *hrow(row_cache *c, const float *restrict xr, int64_t id, int64_t keep, const interp_axis *w)
{
    if (c->tag[0] == id) return c->buf[0];
    if (c->tag[1] == id) return c->buf[1];
    const int slot = c->tag[0] == keep ? 1 : 0;
    float *restrict t = c->buf[slot];
    const int64_t *restrict i0 = w->i0, *restrict i1 = w->i1;
    const float *restrict l0 = w->l0, *restrict l1 = w->l1;
    for (int64_t ow = 0; ow < w->out; ow++) t[ow] = xr[i0[ow]] * l0[ow] + xr[i1[ow]] * l1[ow];
    c->tag[slot] = id;
    return t;
}

static bool bilinear_forward(const char *op, const float *x, float *y, const interp_axis *h, const interp_axis *w,
                             int64_t planes)
{
    const int64_t rows = planes * h->out, in_plane = h->in * w->in, ow = w->out;
    const bool parallel = rows * ow > LT_PAR_MIN;
    const int max_threads = parallel ? omp_get_max_threads() : 1;
    float *scratch = lt__alloc(op, sizeof(float) * (size_t)ow * 2 * (size_t)max_threads);
    if (!scratch) return false;
#pragma omp parallel if (parallel) num_threads(max_threads)
    {
        int64_t start, end;
        thread_share(rows, &start, &end);
        float *mine = scratch + (size_t)omp_get_thread_num() * 2 * (size_t)ow;
        row_cache cache = {{mine, mine + ow}, {-1, -1}};
        for (int64_t r = start; r < end; r++) {
            const int64_t plane = r / h->out, oh = r % h->out;
            const float *xp = x + plane * in_plane;
            const int64_t id0 = plane * h->in + h->i0[oh], id1 = plane * h->in + h->i1[oh];
            const float *restrict t0 = hrow(&cache, xp + h->i0[oh] * w->in, id0, id1, w);
            const float *restrict t1 = hrow(&cache, xp + h->i1[oh] * w->in, id1, id0, w);
            const float a = h->l0[oh], b = h->l1[oh];
            float *restrict yr = y + r * ow;
            for (int64_t i = 0; i < ow; i++) yr[i] = t0[i] * a + t1[i] * b;
        }
    }
    return true;
}

static void bilinear_backward(const float *go, float *gi, const interp_axis *h, const interp_axis *w,
                              int64_t planes)
{
    const int64_t in_plane = h->in * w->in, out_plane = h->out * w->out, iw = w->in;
#pragma omp parallel for schedule(static) if (planes * out_plane > LT_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        float *gip = gi + p * in_plane;
        const float *gop = go + p * out_plane;
        for (int64_t oh = 0; oh < h->out; oh++) {
            float *r0 = gip + h->i0[oh] * iw, *r1 = gip + h->i1[oh] * iw;
            const float a = h->l0[oh], b = h->l1[oh];
            const float *g = gop + oh * w->out;
            for (int64_t ow = 0; ow < w->out; ow++) {
                const int64_t c0 = w->i0[ow], c1 = w->i1[ow];
                const float l0 = w->l0[ow], l1 = w->l1[ow], v = g[ow];
                r0[c0] += a * l0 * v;
                r0[c1] += a * l1 * v;
                r1[c0] += b * l0 * v;
                r1[c1] += b * l1 * v;
            }
        }
    }
}

/* ---------------- op ---------------- */

static void interpolate_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0];
    float *gi = lt__grad(x);
    if (!gi) return;
    const interp_saved *s = node->saved;
    if (s->mode == LT_INTERP_NEAREST)
        nearest_backward(node->out->grad, gi, &s->h, &s->w, s->rows_of, s->cols_of, s->planes);
    else
        bilinear_backward(node->out->grad, gi, &s->h, &s->w, s->planes);
}

/* Output (h, w) and the scale factors the kernels use (0 = none). */
static bool output_size(const char *op, const lt_tensor *x, const lt_interpolate_params *p, int64_t out[2],
                        double scale[2])
{
    const bool has_size = p->size[0] != 0 || p->size[1] != 0;
    const bool has_scale = p->scale_factor[0] != 0.0 || p->scale_factor[1] != 0.0;
    if (has_size && has_scale) {
        lt__fail(op, "only one of size or scale_factor should be defined, got size (%lld, %lld) and scale_factor "
                 "(%g, %g) for input %s", (long long)p->size[0], (long long)p->size[1], p->scale_factor[0],
                 p->scale_factor[1], lt__shp(x));
        return false;
    }
    if (has_size) {
        if (p->size[0] <= 0 || p->size[1] <= 0) {
            lt__fail(op, "size must be positive in both dimensions, got (%lld, %lld) for input %s",
                     (long long)p->size[0], (long long)p->size[1], lt__shp(x));
            return false;
        }
        out[0] = p->size[0];
        out[1] = p->size[1];
        scale[0] = scale[1] = 0.0;
        return true;
    }
    if (!has_scale) {
        lt__fail(op, "either size or scale_factor should be defined for input %s", lt__shp(x));
        return false;
    }
    for (int d = 0; d < 2; d++) {
        const double s = p->scale_factor[d];
        if (!(s > 0.0) || !isfinite(s)) {
            lt__fail(op, "scale_factor must be positive and finite in both dimensions, got (%g, %g) for input %s",
                     p->scale_factor[0], p->scale_factor[1], lt__shp(x));
            return false;
        }
        const double o = floor((double)x->shape[2 + d] * s);
        out[d] = o < 9.0e18 ? (int64_t)o : INT64_MAX;
        scale[d] = s;
    }
    return true;
}

lt_tensor *lt_interpolate(lt_tensor *x, const lt_interpolate_params *p)
{
    LT__PROFILE_OP(LT_OP_INTERPOLATE);
    const char *op = "interpolate";
    if (!x) return NULL;
    if (!lt__check_dtype(op, "input", x, LT_F32)) return NULL;
    if (!p) {
        lt__fail(op, "parameters are required (mode and size or scale_factor), got NULL for input %s", lt__shp(x));
        return NULL;
    }
    if (p->mode != LT_INTERP_NEAREST && p->mode != LT_INTERP_BILINEAR) {
        lt__fail(op, "unknown mode %d for input %s (nearest or bilinear)", (int)p->mode, lt__shp(x));
        return NULL;
    }
    if (x->ndim != 4) {
        lt__fail(op, "input must be [N,C,H,W], got %s", lt__shp(x));
        return NULL;
    }
    if (p->align_corners && p->mode == LT_INTERP_NEAREST) {
        lt__fail(op, "align_corners can only be set with bilinear mode, not nearest (input %s)", lt__shp(x));
        return NULL;
    }
    int64_t size[2];
    double scale[2];
    if (!output_size(op, x, p, size, scale)) return NULL;
    int64_t shape[4] = {x->shape[0], x->shape[1], size[0], size[1]};
    if (x->shape[2] < 1 || x->shape[3] < 1 || size[0] < 1 || size[1] < 1) {
        lt__fail(op, "input and output sizes should be greater than 0, but got input %s and output %s", lt__shp(x),
                 lt__shape_dims(4, shape));
        return NULL;
    }
    lt_tensor *out = lt__result(op, LT_F32, 4, shape);
    if (!out) return NULL;

    const bool bilinear = p->mode == LT_INTERP_BILINEAR;
    interp_saved s = {.mode = p->mode, .planes = x->shape[0] * x->shape[1]};
    if (!axis_alloc(op, &s.h, x->shape[2], size[0], bilinear) || !axis_alloc(op, &s.w, x->shape[3], size[1], bilinear))
        return NULL;
    if (bilinear) {
        bilinear_table(&s.h, p->align_corners, scale[0]);
        bilinear_table(&s.w, p->align_corners, scale[1]);
        if (!bilinear_forward(op, lt_f32(x), lt_f32(out), &s.h, &s.w, s.planes)) return NULL;
    } else {
        nearest_table(&s.h, scale[0]);
        nearest_table(&s.w, scale[1]);
        nearest_forward(lt_f32(x), lt_f32(out), &s.h, &s.w, s.planes);
    }
    if (lt__wants_grad(1, &x)) {
        if (!bilinear) {
            s.rows_of = lt__alloc(op, sizeof(int64_t) * (size_t)(s.h.in + 1 + s.w.in + 1));
            if (!s.rows_of) return NULL;
            s.cols_of = s.rows_of + s.h.in + 1;
            nearest_inverse(&s.h, s.rows_of);
            nearest_inverse(&s.w, s.cols_of);
        }
        lt_node *node = lt__record(out, LT_OP_INTERPOLATE, interpolate_backward, 1, &x, sizeof s);
        if (!node) return NULL;
        memcpy(node->saved, &s, sizeof s);
    }
    return out;
}
