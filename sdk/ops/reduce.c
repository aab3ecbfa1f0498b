/* Reductions: sum and mean over any set of dimensions; max and argmax over one.
 *
 * Sums accumulate in double, so results are the float rounding of (nearly)
 * the exact sum, within float tolerance of PyTorch's cascade summation.
 * Threads only split independent output elements, or fixed-size chunks of
 * one long sum whose partials are then added in order, so the bits never
 * depend on the thread count. */
#include "../internal.h"

#include <math.h>
#include <string.h>


/* ---------------- reduction plan ---------------- */

/* x's dimensions with size-1 dims dropped and neighbours of the same kind
 * (reduced / kept) merged into groups: the general case becomes a short
 * alternation such as [kept, reduced, kept]. */
typedef struct reduce_plan {
    int n;                           /* groups */
    int64_t size[LT_MAX_DIMS];
    bool reduced[LT_MAX_DIMS];
    int64_t in_stride[LT_MAX_DIMS];  /* element stride of the group in x */
    int64_t out_stride[LT_MAX_DIMS]; /* in the output; 0 for reduced groups */
    int64_t count;                   /* elements summed into each output element */
    int n_reduced;                   /* groups that are reduced */
} reduce_plan;

typedef struct reduce_saved {
    reduce_plan plan;
    float scale; /* 1 for sum, 1/count for mean */
} reduce_saved;

static void plan_reduce(const lt_tensor *x, const bool *mask, reduce_plan *p)
{
    memset(p, 0, sizeof *p);
    p->count = 1;
    for (int d = 0; d < x->ndim; d++) {
        int64_t s = x->shape[d];
        if (mask[d]) p->count *= s;
        if (s == 1) continue;
        if (p->n > 0 && p->reduced[p->n - 1] == mask[d]) {
            p->size[p->n - 1] *= s;
        } else {
            p->size[p->n] = s;
            p->reduced[p->n] = mask[d];
            p->n++;
        }
    }
    int64_t in_s = 1, out_s = 1;
    for (int k = p->n - 1; k >= 0; k--) {
        p->in_stride[k] = in_s;
        in_s *= p->size[k];
        p->out_stride[k] = p->reduced[k] ? 0 : out_s;
        if (p->reduced[k]) p->n_reduced++;
        else out_s *= p->size[k];
    }
}

/* x offset of the lin-th combination (row-major) of the groups before `upto`
 * whose kind is `reduced`. */
static int64_t group_offset(const reduce_plan *p, int upto, bool reduced, int64_t lin)
{
    int64_t off = 0;
    for (int k = upto - 1; k >= 0; k--) {
        if (p->reduced[k] != reduced) continue;
        off += (lin % p->size[k]) * p->in_stride[k];
        lin /= p->size[k];
    }
    return off;
}

/* Output offset of the row-th x row (all groups before the last). */
static int64_t out_offset_of_row(const reduce_plan *p, int64_t row)
{
    int64_t off = 0;
    for (int k = p->n - 2; k >= 0; k--) {
        off += (row % p->size[k]) * p->out_stride[k];
        row /= p->size[k];
    }
    return off;
}

/* Walks the x offsets of every combination of the reduced groups before
 * `upto`, without divisions. */
typedef struct odometer {
    int n;
    int64_t size[LT_MAX_DIMS], stride[LT_MAX_DIMS], idx[LT_MAX_DIMS];
    int64_t off;
} odometer;

static void odo_init(odometer *od, const reduce_plan *p, int upto)
{
    od->n = 0;
    od->off = 0;
    for (int k = 0; k < upto; k++)
        if (p->reduced[k]) {
            od->size[od->n] = p->size[k];
            od->stride[od->n] = p->in_stride[k];
            od->idx[od->n++] = 0;
        }
}

static inline void odo_next(odometer *od)
{
    for (int k = od->n - 1; k >= 0; k--) {
        od->off += od->stride[k];
        if (++od->idx[k] < od->size[k]) return;
        od->off -= od->stride[k] * od->size[k];
        od->idx[k] = 0;
    }
}

/* ---------------- sum / mean kernels ---------------- */

static double sum_run(const float *x, int64_t n)
{
    if (n < 256) {
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += (double)x[i];
        return s;
    }
    /* Four streams with their own accumulators hide the latency of the
     * double adds (one accumulator chain would bound the loop). */
    const int64_t q = n / 4;
    const float *x1 = x + q, *x2 = x + 2 * q, *x3 = x + 3 * q;
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t i = 0; i < q; i++) {
        s0 += (double)x[i];
        s1 += (double)x1[i];
        s2 += (double)x2[i];
        s3 += (double)x3[i];
    }
    for (int64_t i = 4 * q; i < n; i++) s3 += (double)x[i];
    return (s0 + s1) + (s2 + s3);
}

/* Sum of n contiguous floats in double: fixed chunks (independent of the
 * thread count) summed in parallel, partials added in order. Also used by the
 * losses for their mean / sum reductions. False (with an error) when the
 * arena is exhausted. */
enum { SUM_CHUNK = 16384 };

bool lt__sum_f32(const char *op, const float *x, int64_t n, double *sum)
{
    int64_t n_chunks = (n + SUM_CHUNK - 1) / SUM_CHUNK;
    if (n_chunks <= 1) {
        *sum = sum_run(x, n);
        return true;
    }
    double *part = lt__alloc(op, sizeof(double) * (size_t)n_chunks);
    if (!part) return false;
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t c = 0; c < n_chunks; c++) {
        int64_t lo = c * SUM_CHUNK, len = n - lo < SUM_CHUNK ? n - lo : SUM_CHUNK;
        part[c] = sum_run(x + lo, len);
    }
    double s = 0.0;
    for (int64_t c = 0; c < n_chunks; c++) s += part[c];
    *sum = s;
    return true;
}

/* Last group reduced: every output element sums `count` elements made of
 * contiguous runs of the last group's length. */
static void sum_last_reduced(const reduce_plan *p, const float *x, float *y, int64_t n_out, double scale)
{
    const int64_t run = p->size[p->n - 1], runs = p->count / run;
    if (runs == 1 && p->n == 2) { /* [kept, reduced]: contiguous rows */
#pragma omp parallel for schedule(static) if (n_out * p->count > LT_PAR_MIN)
        for (int64_t o = 0; o < n_out; o++) y[o] = (float)(sum_run(x + o * run, run) * scale);
        return;
    }
#pragma omp parallel for schedule(static) if (n_out * p->count > LT_PAR_MIN)
    for (int64_t o = 0; o < n_out; o++) {
        const float *base = x + group_offset(p, p->n, false, o);
        odometer od;
        odo_init(&od, p, p->n - 1);
        double s = 0.0;
        for (int64_t r = 0; r < runs; r++, odo_next(&od)) s += sum_run(base + od.off, run);
        y[o] = (float)(s * scale);
    }
}

/* Last group kept: output rows of the last group's length accumulate whole
 * x rows; columns are blocked so a short list of rows still spreads over threads. */
enum { COL_BLOCK = 256 };

static void sum_last_kept(const reduce_plan *p, const float *x, float *y, int64_t n_out, double scale)
{
    const int64_t len = p->size[p->n - 1], rows = n_out / len;
    const int64_t n_blocks = (len + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (n_out * p->count > LT_PAR_MIN)
    for (int64_t it = 0; it < rows * n_blocks; it++) {
        const int64_t row = it / n_blocks, c0 = (it % n_blocks) * COL_BLOCK;
        const int64_t nc = len - c0 < COL_BLOCK ? len - c0 : COL_BLOCK;
        const float *base = x + group_offset(p, p->n - 1, false, row) + c0;
        double acc[COL_BLOCK];
        for (int64_t j = 0; j < nc; j++) acc[j] = 0.0;
        odometer od;
        odo_init(&od, p, p->n);
        for (int64_t r = 0; r < p->count; r++, odo_next(&od)) {
            const float *src = base + od.off;
            for (int64_t j = 0; j < nc; j++) acc[j] += (double)src[j];
        }
        float *dst = y + row * len + c0;
        for (int64_t j = 0; j < nc; j++) dst[j] = (float)(acc[j] * scale);
    }
}

/* y = scale * (sum of x over the plan's reduced groups). False on arena exhaustion. */
static bool sum_forward(const char *op, const reduce_plan *p, const lt_tensor *x, lt_tensor *y, double scale)
{
    const float *xs = lt_f32(x);
    float *ys = lt_f32(y);
    if (x->numel == 0 || p->n_reduced == 0) {
        /* Nothing to add up: an empty sum (0, or NaN for a mean of nothing),
         * or a reduction of size-1 dimensions only. */
        for (int64_t i = 0; i < y->numel; i++) ys[i] = x->numel ? (float)(xs[i] * scale) : (float)(0.0 * scale);
        return true;
    }
    if (p->n == 1) { /* everything reduced: one contiguous sum */
        double s;
        if (!lt__sum_f32(op, xs, x->numel, &s)) return false;
        ys[0] = (float)(s * scale);
        return true;
    }
    if (p->reduced[p->n - 1])
        sum_last_reduced(p, xs, ys, y->numel, scale);
    else
        sum_last_kept(p, xs, ys, y->numel, scale);
    return true;
}

/* gi += scale * g broadcast back over the reduced groups. */
static void sum_backward(lt_node *node)
{
    lt_tensor *in = node->inputs[0];
    float *gi = lt__grad(in);
    if (!gi) return;
    const reduce_saved *s = node->saved;
    const reduce_plan *p = &s->plan;
    const float *g = node->out->grad;
    const float scale = s->scale;
    if (in->numel == 0) return;
    if (p->n_reduced == 0) {
        for (int64_t i = 0; i < in->numel; i++) gi[i] += g[i] * scale;
        return;
    }
    const int64_t len = p->n ? p->size[p->n - 1] : 1, rows = in->numel / len;
    const bool last_reduced = p->reduced[p->n - 1];
#pragma omp parallel for schedule(static) if (in->numel > LT_PAR_MIN)
    for (int64_t row = 0; row < rows; row++) {
        const float *src = g + out_offset_of_row(p, row);
        float *dst = gi + row * len;
        if (last_reduced) {
            const float v = src[0] * scale;
            for (int64_t j = 0; j < len; j++) dst[j] += v;
        } else {
            for (int64_t j = 0; j < len; j++) dst[j] += src[j] * scale;
        }
    }
}

/* Validates dims and builds the reduction mask and output shape. */
static bool reduce_dims(const char *op, const lt_tensor *x, const int *dims, int n_dims, bool keepdim, bool *mask,
                        int *out_ndim, int64_t *out_shape)
{
    if (n_dims < 0 || (n_dims > 0 && !dims)) {
        lt__fail(op, "bad dims list (n_dims %d, dims %s) for input %s", n_dims, dims ? "given" : "NULL",
                 lt__shp(x));
        return false;
    }
    for (int d = 0; d < LT_MAX_DIMS; d++) mask[d] = n_dims == 0;
    for (int i = 0; i < n_dims; i++) {
        int d;
        int lim = x->ndim > 0 ? x->ndim : 1;
        if (dims[i] < -lim || dims[i] >= lim) {
            lt__fail(op, "dim %d out of range for input %s (expected %d..%d)", dims[i], lt__shp(x), -lim, lim - 1);
            return false;
        }
        d = dims[i] < 0 ? dims[i] + lim : dims[i];
        if (mask[d]) {
            lt__fail(op, "dim %d appears more than once in the dims of input %s", dims[i], lt__shp(x));
            return false;
        }
        mask[d] = true;
    }
    int n = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!mask[d]) out_shape[n++] = x->shape[d];
        else if (keepdim) out_shape[n++] = 1;
    }
    *out_ndim = n;
    return true;
}

static lt_tensor *sum_or_mean(lt_op op, lt_tensor *x, const int *dims, int n_dims, bool keepdim)
{
    const char *name = lt_op_name(op);
    if (!x) return NULL;
    if (!lt__check_dtype(name, "input", x, LT_F32)) return NULL;
    bool mask[LT_MAX_DIMS];
    int out_ndim;
    int64_t out_shape[LT_MAX_DIMS];
    if (!reduce_dims(name, x, dims, n_dims, keepdim, mask, &out_ndim, out_shape)) return NULL;
    reduce_plan plan;
    plan_reduce(x, mask, &plan);
    const double scale = op == LT_OP_MEAN ? 1.0 / (double)plan.count : 1.0;
    lt_tensor *out = lt__result(name, LT_F32, out_ndim, out_shape);
    if (!out || !sum_forward(name, &plan, x, out, scale)) return NULL;
    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, op, sum_backward, 1, &x, sizeof(reduce_saved));
        if (!node) return NULL;
        reduce_saved *s = node->saved;
        s->plan = plan;
        s->scale = (float)scale;
    }
    return out;
}

lt_tensor *lt_sum(lt_tensor *x, const int *dims, int n_dims, bool keepdim)
{
    LT__PROFILE_OP(LT_OP_SUM);
    return sum_or_mean(LT_OP_SUM, x, dims, n_dims, keepdim);
}

lt_tensor *lt_mean(lt_tensor *x, const int *dims, int n_dims, bool keepdim)
{
    LT__PROFILE_OP(LT_OP_MEAN);
    return sum_or_mean(LT_OP_MEAN, x, dims, n_dims, keepdim);
}

/* ---------------- max / argmax over one dimension ---------------- */

/* x viewed as [outer, n, inner] around `dim`. */
typedef struct dim_split {
    int dim;
    int64_t outer, n, inner;
} dim_split;

static bool split_at(const char *op, const lt_tensor *x, int dim, bool keepdim, dim_split *s, int *out_ndim,
                     int64_t *out_shape)
{
    int lim = x->ndim > 0 ? x->ndim : 1;
    if (dim < -lim || dim >= lim) {
        lt__fail(op, "dim %d out of range for input %s (expected %d..%d)", dim, lt__shp(x), -lim, lim - 1);
        return false;
    }
    s->dim = dim < 0 ? dim + lim : dim;
    s->outer = s->inner = 1;
    s->n = x->ndim > 0 ? x->shape[s->dim] : 1;
    int k = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d < s->dim) s->outer *= x->shape[d];
        if (d > s->dim) s->inner *= x->shape[d];
        if (d != s->dim) out_shape[k++] = x->shape[d];
        else if (keepdim) out_shape[k++] = 1;
    }
    *out_ndim = k;
    if (s->n == 0) {
        lt__fail(op, "cannot reduce dim %d of size 0 of input %s (max has no identity)", dim, lt__shp(x));
        return false;
    }
    return true;
}

enum { MAX_BLOCK = 256 };

/* First maximum along n for every (outer, inner) position. NaN counts as
 * larger than any number (it propagates), and the first NaN wins, as in
 * PyTorch. vals may be NULL (argmax). */
static void max_kernel(const float *x, const dim_split *s, float *vals, int32_t *idx)
{
    const int64_t n = s->n, inner = s->inner;
    const int64_t n_blocks = (inner + MAX_BLOCK - 1) / MAX_BLOCK;
#pragma omp parallel for schedule(static) if (s->outer * n * inner > LT_PAR_MIN)
    for (int64_t it = 0; it < s->outer * n_blocks; it++) {
        const int64_t o = it / n_blocks, i0 = (it % n_blocks) * MAX_BLOCK;
        const int64_t ni = inner - i0 < MAX_BLOCK ? inner - i0 : MAX_BLOCK;
        const float *src = x + o * n * inner + i0;
        float best[MAX_BLOCK];
        int32_t arg[MAX_BLOCK];
        for (int64_t j = 0; j < ni; j++) {
            best[j] = src[j];
            arg[j] = 0;
        }
        for (int64_t k = 1; k < n; k++) {
            const float *row = src + k * inner;
            for (int64_t j = 0; j < ni; j++) {
                const float v = row[j];
                const bool take = v > best[j] || (isnan(v) && !isnan(best[j]));
                best[j] = take ? v : best[j];
                arg[j] = take ? (int32_t)k : arg[j];
            }
        }
        const int64_t at = o * inner + i0;
        for (int64_t j = 0; j < ni; j++) idx[at + j] = arg[j];
        if (vals)
            for (int64_t j = 0; j < ni; j++) vals[at + j] = best[j];
    }
}

typedef struct max_saved {
    dim_split split;
    const lt_tensor *indices;
} max_saved;

/* The gradient goes to the first maximum only (PyTorch's max(dim)). */
static void max_backward(lt_node *node)
{
    lt_tensor *in = node->inputs[0];
    float *gi = lt__grad(in);
    if (!gi) return;
    const max_saved *s = node->saved;
    const float *g = node->out->grad;
    const int32_t *idx = lt_i32(s->indices);
    const int64_t n = s->split.n, inner = s->split.inner;
#pragma omp parallel for schedule(static) if (in->numel > LT_PAR_MIN)
    for (int64_t o = 0; o < s->split.outer; o++)
        for (int64_t i = 0; i < inner; i++) gi[(o * n + idx[o * inner + i]) * inner + i] += g[o * inner + i];
}

static bool check_index_range(const char *op, const lt_tensor *x, int64_t n)
{
    if (n <= INT32_MAX) return true;
    lt__fail(op, "input %s: reduced dimension of %lld does not fit int32 indices", lt__shp(x), (long long)n);
    return false;
}

lt_tensor *lt_max(lt_tensor *x, int dim, bool keepdim, lt_tensor **indices)
{
    LT__PROFILE_OP(LT_OP_MAX);
    const char *name = lt_op_name(LT_OP_MAX);
    if (indices) *indices = NULL;
    if (!x) return NULL;
    if (!lt__check_dtype(name, "input", x, LT_F32)) return NULL;
    dim_split s;
    int out_ndim;
    int64_t out_shape[LT_MAX_DIMS];
    if (!split_at(name, x, dim, keepdim, &s, &out_ndim, out_shape) || !check_index_range(name, x, s.n)) return NULL;
    lt_tensor *out = lt__result(name, LT_F32, out_ndim, out_shape);
    lt_tensor *idx = lt__result(name, LT_I32, out_ndim, out_shape);
    if (!out || !idx) return NULL;
    max_kernel(lt_f32(x), &s, lt_f32(out), lt_i32(idx));
    if (lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_MAX, max_backward, 1, &x, sizeof(max_saved));
        if (!node) return NULL;
        max_saved *ms = node->saved;
        ms->split = s;
        ms->indices = idx;
    }
    if (indices) *indices = idx;
    return out;
}

lt_tensor *lt_argmax(lt_tensor *x, int dim, bool keepdim)
{
    LT__PROFILE_OP(LT_OP_ARGMAX);
    const char *name = lt_op_name(LT_OP_ARGMAX);
    if (!x) return NULL;
    if (!lt__check_dtype(name, "input", x, LT_F32)) return NULL;
    dim_split s;
    int out_ndim;
    int64_t out_shape[LT_MAX_DIMS];
    if (!split_at(name, x, dim, keepdim, &s, &out_ndim, out_shape) || !check_index_range(name, x, s.n)) return NULL;
    lt_tensor *idx = lt__result(name, LT_I32, out_ndim, out_shape);
    if (!idx) return NULL;
    max_kernel(lt_f32(x), &s, NULL, lt_i32(idx));
    return idx;
}
