/* The portable convolution backend: im2col / col2im + OpenBLAS sgemm, plus
 * direct loops for depthwise convolutions (one input channel per output
 * channel, where a GEMM would have depth kh*kw and waste the machine).
 *
 * GEMM layout (per group g, for a chunk of nb images, L = nb*h_out*w_out):
 *   col [K, L]          K = c_in/groups*k_h*k_w rows (channel, ki, kj), columns
 *                       (image, ho, wo): the input patches
 *   forward             Y  [c_out_g, L] = W_g [c_out_g, K] * col
 *   backward data       dcol [K, L]     = W_g^T * dY [c_out_g, L], then col2im
 *   backward weight     dW_g [c_out_g, K] += dY * col^T
 * With nb == 1 the GEMM reads and writes NCHW planes in place (no gather or
 * scatter), and a 1x1 stride-1 unpadded conv needs no im2col at all. With
 * nb > 1 (small planes, where per-image GEMMs would be thin) the chunk is
 * gathered into / scattered from GEMM layout with plain row copies.
 *
 * Threads: either the chunks run one after another with a threaded GEMM and
 * OpenMP im2col/col2im ("serial" chunks), or - when there are enough images
 * with big enough planes - every thread takes whole chunks and runs a
 * single-threaded GEMM on them (OpenBLAS runs single-threaded inside an OpenMP
 * parallel region), which keeps each thread's col buffer in its own cache and
 * avoids a fork/join per GEMM. Every output element is produced by one thread
 * in a fixed order, so results depend on the thread count only through the
 * GEMM's own (deterministic) partitioning.
 *
 * Scratch comes from the step arena and is handed back when a pass returns
 * (scratch_begin / scratch_end), so a network of many convs does not grow
 * the step's memory by one col buffer per conv. */
#include "backend.h"

/* The row loops here move a few floats at a time (padding gaps, short
 * rows); GCC would turn them into memset/memcpy calls that cost more than
 * the moves. Long moves call memset/memcpy explicitly. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- tuning ---------------- */

#include <stdio.h>
static int64_t tune(const char *name, int64_t def)
{
    const char *v = getenv(name);
    return v ? atoll(v) : def;
}
#define COL_BYTES tune("T_COL", (int64_t)1 << 20)
#define MIN_COLS tune("T_MIN_COLS", 512)
#define MIN_MACS_THREAD tune("T_MIN_MACS", (int64_t)1 << 20)
#define MIN_INNER_PARTIAL tune("T_MIN_INNER", 2048)

/* ---------------- step scratch ---------------- */

/* Scratch that only lives during one pass: taken from the arena and handed
 * back on return when no other block was opened meanwhile (the arena then
 * re-lays itself at the next reset anyway). */
typedef struct scratch_mark {
    lt_arena *arena;
    lt_arena_block *head;
    size_t block_used, used;
} scratch_mark;

static scratch_mark scratch_begin(void)
{
    scratch_mark m = {0};
    lt_ctx *ctx = lt_ctx_current();
    if (ctx && ctx->arena.head) {
        m.arena = &ctx->arena;
        m.head = ctx->arena.head;
        m.block_used = m.head->used;
        m.used = ctx->arena.used;
    }
    return m;
}

static void scratch_end(scratch_mark m)
{
    if (m.arena && m.arena->head == m.head) {
        m.head->used = m.block_used;
        m.arena->used = m.used;
    }
}

/* ---------------- small helpers ---------------- */

/* Output positions o in [lo, hi) of [0, n_out) whose input position
 * o*stride + offset lies inside [0, n_in). */
static void valid_range(int64_t n_out, int64_t n_in, int64_t stride, int64_t offset, int64_t *lo, int64_t *hi)
{
    int64_t a = offset < 0 ? (-offset + stride - 1) / stride : 0;
    int64_t b = n_in - offset > 0 ? (n_in - offset + stride - 1) / stride : 0;
    if (a > n_out) a = n_out;
    if (b > n_out) b = n_out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* Sum of n floats in a fixed order, 16 independent lanes so it vectorises. */
static float sum_floats(const float *p, int64_t n)
{
    float lanes[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lanes[j] += p[i + j];
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += lanes[j];
    for (; i < n; i++) s += p[i];
    return s;
}

/* Dot product of a[0..n) with b[0], b[stride], ... in a fixed order. */
static float dot_strided(const float *a, const float *b, int64_t n, int64_t stride)
{
    float lanes[16] = {0};
    int64_t i = 0;
    if (stride == 1)
        for (; i + 16 <= n; i += 16)
            for (int j = 0; j < 16; j++) lanes[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += lanes[j];
    for (; i < n; i++) s += a[i] * b[i * stride];
    return s;
}

static int threads_here(void) { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

void lt__conv_add_bias(float *out, const float *bias, int64_t n, int64_t channels, int64_t plane)
{
    const int64_t planes = n * channels;
#pragma omp parallel for schedule(static) if (planes * plane > LT_PAR_MIN)
    for (int64_t i = 0; i < planes; i++) {
        const float b = bias[i % channels];
        float *o = out + i * plane;
        for (int64_t j = 0; j < plane; j++) o[j] += b;
    }
}

void lt__conv_bias_grad(const float *g, int64_t n, int64_t channels, int64_t plane, float *db)
{
#pragma omp parallel for schedule(static) if (n * channels * plane > LT_PAR_MIN)
    for (int64_t c = 0; c < channels; c++) {
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += sum_floats(g + (i * channels + c) * plane, plane);
        db[c] += s;
    }
}

/* ---------------- plan ---------------- */

/* Where kernel tap (ki, kj) reads: input row ho*stride_h + off_h for ho in
 * [h_lo, h_hi), column wo*stride_w + off_w for wo in [w_lo, w_hi); outside
 * these ranges the tap sees padding. */
typedef struct tap_range {
    int64_t off_h, off_w, h_lo, h_hi, w_lo, w_hi;
} tap_range;

typedef struct conv_plan {
    const lt_conv_geom *g;
    int64_t cin_g, cout_g;       /* channels per group */
    int64_t k;                   /* GEMM depth: cin_g * k_h * k_w */
    int64_t taps;                /* k_h * k_w */
    int64_t plane_in, plane_out; /* h*w of input and output */
    bool pointwise;              /* 1x1, stride 1, no padding: x is its own col matrix */
    bool span_rows;              /* stride 1 and w_in == w_out: a tap's rows are one contiguous span */
    int64_t chunk;               /* images per GEMM */
    int64_t n_chunks;            /* per group */
    int threads;                 /* chunks running at once (1: serial chunks) */
    bool partial_dw;             /* backward weight: per-thread partial sums */
    int64_t col_floats;          /* scratch per running chunk */
    int64_t tmp_floats;
    tap_range *tap;              /* [taps] */
    int32_t *index;              /* [taps * plane_out] input offset or -1 (short rows), else NULL */
} conv_plan;

typedef enum conv_pass { PASS_FORWARD, PASS_BACKWARD_DATA, PASS_BACKWARD_WEIGHT } conv_pass;

/* Rows shorter than this are copied through a per-tap index table. */
#define SHORT_ROW 16
#define MAX_INDEX_PLANE 4096

static int64_t clamp_images(int64_t want, int64_t batch) { return want < 1 ? 1 : (want > batch ? batch : want); }

static void make_plan(conv_plan *p, const lt_conv_geom *g, conv_pass pass)
{
    memset(p, 0, sizeof *p);
    p->g = g;
    p->cin_g = g->c_in / g->groups;
    p->cout_g = g->c_out / g->groups;
    p->taps = g->k_h * g->k_w;
    p->k = p->cin_g * p->taps;
    p->plane_in = g->h_in * g->w_in;
    p->plane_out = g->h_out * g->w_out;
    p->pointwise = g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 && g->pad_h == 0 &&
                   g->pad_w == 0 && g->h_in == g->h_out && g->w_in == g->w_out;
    p->span_rows = g->stride_h == 1 && g->stride_w == 1 && g->w_in == g->w_out;
    const int64_t batch = g->batch > 0 ? g->batch : 1;
    const int64_t col_per_image = p->k * p->plane_out * (int64_t)sizeof(float);
    const int threads = threads_here();

    /* Images per chunk: enough for a GEMM of MIN_COLS columns, more while the
     * col buffer stays within a core's cache. */
    int64_t nb = (MIN_COLS + p->plane_out - 1) / p->plane_out;
    const int64_t fit = COL_BYTES / (col_per_image ? col_per_image : 1);
    nb = clamp_images(nb > fit ? nb : fit, batch);
    int64_t chunks = (batch + nb - 1) / nb;

    /* Threads take whole chunks (single-threaded GEMMs, no fork/join per
     * GEMM, col buffers in their own caches) when there are enough chunks
     * with enough work; the chunk count is then rounded up to a multiple of
     * the thread count for balance. Backward weight then sums per-thread
     * partial gradients unless every thread owns whole groups; partials cost
     * one add per gradient element per thread, so they need a long GEMM
     * inner dimension per thread. */
    bool per_thread = threads > 1 && chunks * g->groups >= threads &&
                      p->cout_g * p->k * p->plane_out * nb >= MIN_MACS_THREAD;
    if (pass == PASS_BACKWARD_WEIGHT && per_thread && g->groups < threads) {
        per_thread = batch * p->plane_out >= (int64_t)threads * MIN_INNER_PARTIAL;
        p->partial_dw = per_thread;
    }
    if (per_thread && g->groups == 1 && chunks % threads) {
        chunks = (chunks + threads - 1) / threads * threads;
        nb = (batch + chunks - 1) / chunks;
    }
    p->threads = per_thread ? threads : 1;
    p->chunk = nb;
    p->n_chunks = (g->batch + p->chunk - 1) / p->chunk;
    if (getenv("T_VERBOSE")) fprintf(stderr, "pass %d: threads %d chunk %lld partial %d\n", (int)pass, p->threads, (long long)p->chunk, (int)p->partial_dw);
    const int64_t cols = p->chunk * p->plane_out;
    p->col_floats = p->pointwise && p->chunk == 1 ? 0 : p->k * cols;
    p->tmp_floats = p->chunk > 1 ? p->cout_g * cols : 0;
}

/* Tap ranges and (for short rows, when `index`) the per-tap index tables. */
static bool plan_tables(const char *op, conv_plan *p, bool index)
{
    const lt_conv_geom *g = p->g;
    p->tap = lt__alloc(op, sizeof(tap_range) * (size_t)p->taps);
    if (!p->tap) return false;
    for (int64_t t = 0; t < p->taps; t++) {
        tap_range *r = &p->tap[t];
        r->off_h = (t / g->k_w) * g->dil_h - g->pad_h;
        r->off_w = (t % g->k_w) * g->dil_w - g->pad_w;
        valid_range(g->h_out, g->h_in, g->stride_h, r->off_h, &r->h_lo, &r->h_hi);
        valid_range(g->w_out, g->w_in, g->stride_w, r->off_w, &r->w_lo, &r->w_hi);
    }
    p->index = NULL;
    if (!index || p->span_rows || g->w_out >= SHORT_ROW || p->plane_out > MAX_INDEX_PLANE || p->pointwise) return true;
    p->index = lt__alloc(op, sizeof(int32_t) * (size_t)(p->taps * p->plane_out));
    if (!p->index) return false;
    for (int64_t t = 0; t < p->taps; t++) {
        const tap_range *r = &p->tap[t];
        int32_t *idx = p->index + t * p->plane_out;
        for (int64_t ho = 0; ho < g->h_out; ho++)
            for (int64_t wo = 0; wo < g->w_out; wo++) {
                const bool inside = ho >= r->h_lo && ho < r->h_hi && wo >= r->w_lo && wo < r->w_hi;
                idx[ho * g->w_out + wo] =
                    inside ? (int32_t)((ho * g->stride_h + r->off_h) * g->w_in + wo * g->stride_w + r->off_w) : -1;
            }
    }
    return true;
}

/* Scratch for every running chunk (col then tmp, per thread slot), plus the
 * per-thread partial weight gradients. */
static int64_t slot_floats(const conv_plan *p)
{
    int64_t per = (p->col_floats + p->tmp_floats + 15) & ~(int64_t)15; /* own cache lines per thread */
    return per ? per : 16;
}

static float *plan_scratch(const char *op, const conv_plan *p, int64_t extra_floats)
{
    return lt__alloc(op, (size_t)(slot_floats(p) * p->threads + extra_floats) * sizeof(float));
}

static float *slot_col(const conv_plan *p, float *scratch, int slot) { return scratch + slot_floats(p) * slot; }
static float *slot_tmp(const conv_plan *p, float *scratch, int slot) { return slot_col(p, scratch, slot) + p->col_floats; }

/* ---------------- layout moves ---------------- */

/* dst [rows, nb*plane] <- planes (n0+i, c0+r) of an [*, channels, plane] tensor. */
static void gather_planes(const float *src, int64_t n0, int64_t nb, int64_t channels, int64_t c0, int64_t rows,
                          int64_t plane, float *dst)
{
#pragma omp parallel for collapse(2) schedule(static) if (rows * nb * plane > LT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < nb; i++)
            memcpy(dst + (r * nb + i) * plane, src + ((n0 + i) * channels + c0 + r) * plane,
                   (size_t)plane * sizeof(float));
}

/* planes (n0+i, c0+r) (+)= src [rows, nb*plane] (+ bias[r]). */
static void scatter_planes(const float *src, float *dst, int64_t n0, int64_t nb, int64_t channels, int64_t c0,
                           int64_t rows, int64_t plane, const float *bias, bool accumulate)
{
#pragma omp parallel for collapse(2) schedule(static) if (rows * nb * plane > LT_PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < nb; i++) {
            const float *s = src + (r * nb + i) * plane;
            float *d = dst + ((n0 + i) * channels + c0 + r) * plane;
            const float b = bias ? bias[r] : 0.0f;
            if (accumulate)
                for (int64_t j = 0; j < plane; j++) d[j] += s[j] + b;
            else
                for (int64_t j = 0; j < plane; j++) d[j] = s[j] + b;
        }
}

/* Row moves of im2col / col2im: o[j] = src[j*sw] and dst[j*sw] += o[j] for
 * j < n (strides 1 and 2 get their own loops so they vectorise). */
static void copy_strided(float *restrict o, const float *restrict src, int64_t n, int64_t sw)
{
    if (sw == 1)
        memcpy(o, src, (size_t)n * sizeof(float));
    else if (sw == 2)
        for (int64_t j = 0; j < n; j++) o[j] = src[2 * j];
    else
        for (int64_t j = 0; j < n; j++) o[j] = src[j * sw];
}

static void add_strided(float *restrict dst, const float *restrict o, int64_t n, int64_t sw)
{
    if (sw == 1)
        for (int64_t j = 0; j < n; j++) dst[j] += o[j];
    else if (sw == 2)
        for (int64_t j = 0; j < n; j++) dst[2 * j] += o[j];
    else
        for (int64_t j = 0; j < n; j++) dst[j * sw] += o[j];
}

/* Zeroes a short gap (the padded columns between two rows); a plain loop,
 * as a libc call would cost more than the stores. */
static inline void zero_gap(float *restrict o, int64_t n)
{
    for (int64_t j = 0; j < n; j++) o[j] = 0.0f;
}

/* One im2col row of one image: tap t of input plane `in`,
 * out[ho*w_out + wo] = in[ho*sh + off_h][wo*sw + off_w], 0 outside. */
static void im2col_plane(const conv_plan *p, int64_t t, const float *restrict in, float *restrict out)
{
    const int64_t plane = p->plane_out;
    if (p->index) {
        const int32_t *idx = p->index + t * plane;
        for (int64_t q = 0; q < plane; q++) out[q] = idx[q] >= 0 ? in[idx[q]] : 0.0f;
        return;
    }
    const lt_conv_geom *g = p->g;
    const tap_range *r = &p->tap[t];
    const int64_t w_out = g->w_out, lo = r->w_lo, hi = r->w_hi;
    if (r->h_lo >= r->h_hi || lo >= hi) {
        memset(out, 0, (size_t)plane * sizeof(float));
        return;
    }
    if (p->span_rows) {
        /* Stride 1, equal widths: the tap is the input shifted by delta, so
         * its valid part is one contiguous copy; then zero the columns that
         * wrapped around between rows. */
        const int64_t a = r->h_lo * w_out + lo, b = (r->h_hi - 1) * w_out + hi;
        const int64_t delta = r->off_h * w_out + r->off_w;
        memset(out, 0, (size_t)a * sizeof(float));
        memcpy(out + a, in + a + delta, (size_t)(b - a) * sizeof(float));
        memset(out + b, 0, (size_t)(plane - b) * sizeof(float));
        if (lo > 0 || hi < w_out)
            for (int64_t ho = r->h_lo; ho < r->h_hi - 1; ho++) zero_gap(out + ho * w_out + hi, w_out - hi + lo);
        return;
    }
    memset(out, 0, (size_t)(r->h_lo * w_out) * sizeof(float));
    for (int64_t ho = r->h_lo; ho < r->h_hi; ho++) {
        const float *row = in + (ho * g->stride_h + r->off_h) * g->w_in;
        float *o = out + ho * w_out;
        zero_gap(o, lo);
        copy_strided(o + lo, row + lo * g->stride_w + r->off_w, hi - lo, g->stride_w);
        zero_gap(o + hi, w_out - hi);
    }
    memset(out + r->h_hi * w_out, 0, (size_t)((g->h_out - r->h_hi) * w_out) * sizeof(float));
}

/* The adjoint of im2col_plane: in[...] += out[...] over the same positions.
 * May zero entries of `out` that fall on padding. */
static void col2im_plane(const conv_plan *p, int64_t t, float *restrict out, float *restrict in)
{
    const int64_t plane = p->plane_out;
    if (p->index) {
        const int32_t *idx = p->index + t * plane;
        for (int64_t q = 0; q < plane; q++)
            if (idx[q] >= 0) in[idx[q]] += out[q];
        return;
    }
    const lt_conv_geom *g = p->g;
    const tap_range *r = &p->tap[t];
    const int64_t w_out = g->w_out, lo = r->w_lo, hi = r->w_hi;
    if (r->h_lo >= r->h_hi || lo >= hi) return;
    if (p->span_rows) {
        /* one contiguous add after zeroing the padded columns between rows */
        const int64_t a = r->h_lo * w_out + lo, b = (r->h_hi - 1) * w_out + hi;
        const int64_t delta = r->off_h * w_out + r->off_w;
        if (lo > 0 || hi < w_out)
            for (int64_t ho = r->h_lo; ho < r->h_hi - 1; ho++) zero_gap(out + ho * w_out + hi, w_out - hi + lo);
        add_strided(in + a + delta, out + a, b - a, 1);
        return;
    }
    for (int64_t ho = r->h_lo; ho < r->h_hi; ho++) {
        float *row = in + (ho * g->stride_h + r->off_h) * g->w_in;
        add_strided(row + lo * g->stride_w + r->off_w, out + ho * w_out + lo, hi - lo, g->stride_w);
    }
}

/* col [k, nb*plane_out] <- patches of images n0.. of group grp. */
static void im2col(const conv_plan *p, const float *x, int64_t grp, int64_t n0, int64_t nb, float *col)
{
    const lt_conv_geom *g = p->g;
    const int64_t k = p->k, cols = nb * p->plane_out;
#pragma omp parallel for collapse(2) schedule(static) if (k * cols > LT_PAR_MIN)
    for (int64_t r = 0; r < k; r++)
        for (int64_t i = 0; i < nb; i++) {
            const int64_t c = r / p->taps, t = r % p->taps;
            const float *in = x + ((n0 + i) * g->c_in + grp * p->cin_g + c) * p->plane_in;
            im2col_plane(p, t, in, col + r * cols + i * p->plane_out);
        }
}

/* dx planes of images n0.. of group grp (+)= col2im(col). */
static void col2im(const conv_plan *p, float *col, int64_t grp, int64_t n0, int64_t nb, float *dx,
                   bool accumulate)
{
    const lt_conv_geom *g = p->g;
    const int64_t cols = nb * p->plane_out;
#pragma omp parallel for collapse(2) schedule(static) if (p->k * cols > LT_PAR_MIN)
    for (int64_t i = 0; i < nb; i++)
        for (int64_t c = 0; c < p->cin_g; c++) {
            float *in = dx + ((n0 + i) * g->c_in + grp * p->cin_g + c) * p->plane_in;
            if (!accumulate) memset(in, 0, (size_t)p->plane_in * sizeof(float));
            for (int64_t t = 0; t < p->taps; t++)
                col2im_plane(p, t, col + (c * p->taps + t) * cols + i * p->plane_out, in);
        }
}

/* The col matrix of a chunk: x itself (pointwise, one image), gathered x
 * planes (pointwise), or im2col. Returns it and its row stride. */
static const float *chunk_col(const conv_plan *p, const float *x, int64_t grp, int64_t n0, int64_t nb, float *col,
                              int64_t *ld)
{
    const lt_conv_geom *g = p->g;
    if (p->pointwise && nb == 1) {
        *ld = p->plane_in;
        return x + (n0 * g->c_in + grp * p->cin_g) * p->plane_in;
    }
    *ld = nb * p->plane_out;
    if (p->pointwise)
        gather_planes(x, n0, nb, g->c_in, grp * p->cin_g, p->cin_g, p->plane_in, col);
    else
        im2col(p, x, grp, n0, nb, col);
    return col;
}

/* dY of a chunk in GEMM layout [cout_g, nb*plane_out]: in place for one image. */
static const float *chunk_dy(const conv_plan *p, const float *dy, int64_t grp, int64_t n0, int64_t nb, float *tmp,
                             int64_t *ld)
{
    const lt_conv_geom *g = p->g;
    if (nb == 1) {
        *ld = p->plane_out;
        return dy + (n0 * g->c_out + grp * p->cout_g) * p->plane_out;
    }
    *ld = nb * p->plane_out;
    gather_planes(dy, n0, nb, g->c_out, grp * p->cout_g, p->cout_g, p->plane_out, tmp);
    return tmp;
}

/* ---------------- GEMM passes, one chunk ---------------- */

typedef struct chunk_args {
    const conv_plan *p;
    const float *x, *w, *bias, *dy;
    float *y, *dx, *dw;
    bool accumulate;
    float *scratch;
    float *partials; /* backward weight with per-thread sums: [threads][c_out * k] */
} chunk_args;

static void forward_chunk(const chunk_args *a, int64_t grp, int64_t n0, int64_t nb, int slot)
{
    const conv_plan *p = a->p;
    const lt_conv_geom *g = p->g;
    const float *wg = a->w + grp * p->cout_g * p->k;
    const float *bias = a->bias ? a->bias + grp * p->cout_g : NULL;
    int64_t ldc;
    const float *col = chunk_col(p, a->x, grp, n0, nb, slot_col(p, a->scratch, slot), &ldc);
    if (nb == 1) {
        float *yc = a->y + (n0 * g->c_out + grp * p->cout_g) * p->plane_out;
        lt__sgemm(false, false, p->cout_g, p->plane_out, p->k, 1.0f, wg, p->k, col, ldc, a->accumulate ? 1.0f : 0.0f,
                  yc, p->plane_out);
        if (bias) lt__conv_add_bias(yc, bias, 1, p->cout_g, p->plane_out);
        return;
    }
    float *tmp = slot_tmp(p, a->scratch, slot);
    const int64_t cols = nb * p->plane_out;
    lt__sgemm(false, false, p->cout_g, cols, p->k, 1.0f, wg, p->k, col, ldc, 0.0f, tmp, cols);
    scatter_planes(tmp, a->y, n0, nb, g->c_out, grp * p->cout_g, p->cout_g, p->plane_out, bias, a->accumulate);
}

static void backward_data_chunk(const chunk_args *a, int64_t grp, int64_t n0, int64_t nb, int slot)
{
    const conv_plan *p = a->p;
    const lt_conv_geom *g = p->g;
    const float *wg = a->w + grp * p->cout_g * p->k;
    int64_t ldy;
    const float *dyc = chunk_dy(p, a->dy, grp, n0, nb, slot_tmp(p, a->scratch, slot), &ldy);
    const int64_t cols = nb * p->plane_out;
    if (p->pointwise && nb == 1) {
        float *dxc = a->dx + (n0 * g->c_in + grp * p->cin_g) * p->plane_in;
        lt__sgemm(true, false, p->cin_g, cols, p->cout_g, 1.0f, wg, p->k, dyc, ldy, a->accumulate ? 1.0f : 0.0f,
                  dxc, p->plane_in);
        return;
    }
    float *col = slot_col(p, a->scratch, slot);
    lt__sgemm(true, false, p->k, cols, p->cout_g, 1.0f, wg, p->k, dyc, ldy, 0.0f, col, cols);
    if (p->pointwise)
        scatter_planes(col, a->dx, n0, nb, g->c_in, grp * p->cin_g, p->cin_g, p->plane_in, NULL, a->accumulate);
    else
        col2im(p, col, grp, n0, nb, a->dx, a->accumulate);
}

static void backward_weight_chunk(const chunk_args *a, int64_t grp, int64_t n0, int64_t nb, int slot)
{
    const conv_plan *p = a->p;
    int64_t ldy, ldc;
    const float *dyc = chunk_dy(p, a->dy, grp, n0, nb, slot_tmp(p, a->scratch, slot), &ldy);
    const float *col = chunk_col(p, a->x, grp, n0, nb, slot_col(p, a->scratch, slot), &ldc);
    float *dw = a->partials ? a->partials + (int64_t)slot * p->g->c_out * p->k : a->dw;
    lt__sgemm(false, true, p->cout_g, p->k, nb * p->plane_out, 1.0f, dyc, ldy, col, ldc, 1.0f,
              dw + grp * p->cout_g * p->k, p->k);
}

typedef void (*chunk_fn)(const chunk_args *a, int64_t grp, int64_t n0, int64_t nb, int slot);

/* Runs fn over every (group, chunk): in sequence (fn threads inside), or
 * with each thread taking whole items. `group_per_item`: an item is a whole
 * group, its chunks in order (backward weight without partial sums, where
 * each group's gradient must be summed by one thread). */
static void run_chunks(const conv_plan *p, chunk_fn fn, const chunk_args *a, bool group_per_item)
{
    const int64_t batch = p->g->batch, per_group = group_per_item ? 1 : p->n_chunks;
    const int64_t items = p->g->groups * per_group;
    if (p->threads > 1) {
#pragma omp parallel for schedule(static) num_threads(p->threads)
        for (int64_t it = 0; it < items; it++) {
            const int slot = omp_get_thread_num();
            const int64_t grp = it / per_group;
            const int64_t first = group_per_item ? 0 : it % per_group;
            const int64_t last = group_per_item ? p->n_chunks : first + 1;
            for (int64_t c = first; c < last; c++) {
                const int64_t n0 = c * p->chunk, nb = batch - n0 < p->chunk ? batch - n0 : p->chunk;
                fn(a, grp, n0, nb, slot);
            }
        }
        return;
    }
    for (int64_t grp = 0; grp < p->g->groups; grp++)
        for (int64_t c = 0; c < p->n_chunks; c++) {
            const int64_t n0 = c * p->chunk, nb = batch - n0 < p->chunk ? batch - n0 : p->chunk;
            fn(a, grp, n0, nb, 0);
        }
}

/* ---------------- depthwise (one input channel per output channel) ---------------- */

static bool is_depthwise(const lt_conv_geom *g) { return g->groups > 1 && g->c_in == g->groups; }

/* o[j] += a * src[j*sw] and dst[j*sw] += a * o[j] for j < n. */
static void axpy_gather(float *restrict o, float a, const float *restrict src, int64_t n, int64_t sw)
{
    if (sw == 1)
        for (int64_t j = 0; j < n; j++) o[j] += a * src[j];
    else if (sw == 2)
        for (int64_t j = 0; j < n; j++) o[j] += a * src[2 * j];
    else
        for (int64_t j = 0; j < n; j++) o[j] += a * src[j * sw];
}

static void axpy_scatter(float *restrict dst, float a, const float *restrict o, int64_t n, int64_t sw)
{
    if (sw == 1)
        for (int64_t j = 0; j < n; j++) dst[j] += a * o[j];
    else if (sw == 2)
        for (int64_t j = 0; j < n; j++) dst[2 * j] += a * o[j];
    else
        for (int64_t j = 0; j < n; j++) dst[j * sw] += a * o[j];
}

/* Offset in an input plane of the first valid column of tap r at output row ho. */
static int64_t tap_offset(const conv_plan *p, const tap_range *r, int64_t ho)
{
    const lt_conv_geom *g = p->g;
    return (ho * g->stride_h + r->off_h) * g->w_in + r->w_lo * g->stride_w + r->off_w;
}

static void depthwise_forward(const conv_plan *p, const float *x, const float *w, const float *bias, float *y,
                              bool accumulate)
{
    const lt_conv_geom *g = p->g;
    const int64_t planes = g->batch * g->c_out, w_out = g->w_out;
#pragma omp parallel for schedule(static) if (planes * p->plane_out * p->taps > LT_PAR_MIN)
    for (int64_t pi = 0; pi < planes; pi++) {
        const int64_t n = pi / g->c_out, co = pi % g->c_out, ci = co / p->cout_g;
        const float *in = x + (n * g->c_in + ci) * p->plane_in, *wk = w + co * p->taps;
        float *out = y + pi * p->plane_out;
        const float b = bias ? bias[co] : 0.0f;
        for (int64_t j = 0; j < p->plane_out; j++) out[j] = (accumulate ? out[j] : 0.0f) + b;
        for (int64_t t = 0; t < p->taps; t++) {
            const tap_range *r = &p->tap[t];
            for (int64_t ho = r->h_lo; ho < r->h_hi; ho++)
                axpy_gather(out + ho * w_out + r->w_lo, wk[t], in + tap_offset(p, r, ho), r->w_hi - r->w_lo,
                            g->stride_w);
        }
    }
}

static void depthwise_backward_data(const conv_plan *p, const float *dy, const float *w, float *dx, bool accumulate)
{
    const lt_conv_geom *g = p->g;
    const int64_t planes = g->batch * g->c_in, w_out = g->w_out;
#pragma omp parallel for schedule(static) if (g->batch * g->c_out * p->plane_out * p->taps > LT_PAR_MIN)
    for (int64_t pi = 0; pi < planes; pi++) {
        const int64_t n = pi / g->c_in, ci = pi % g->c_in;
        float *in = dx + pi * p->plane_in;
        if (!accumulate) memset(in, 0, (size_t)p->plane_in * sizeof(float));
        for (int64_t m = 0; m < p->cout_g; m++) {
            const int64_t co = ci * p->cout_g + m;
            const float *out = dy + (n * g->c_out + co) * p->plane_out, *wk = w + co * p->taps;
            for (int64_t t = 0; t < p->taps; t++) {
                const tap_range *r = &p->tap[t];
                for (int64_t ho = r->h_lo; ho < r->h_hi; ho++)
                    axpy_scatter(in + tap_offset(p, r, ho), wk[t], out + ho * w_out + r->w_lo,
                                 r->w_hi - r->w_lo, g->stride_w);
            }
        }
    }
}

static void depthwise_backward_weight(const conv_plan *p, const float *x, const float *dy, float *dw)
{
    const lt_conv_geom *g = p->g;
    const int64_t w_out = g->w_out;
#pragma omp parallel for schedule(static) if (g->batch * g->c_out * p->plane_out * p->taps > LT_PAR_MIN)
    for (int64_t co = 0; co < g->c_out; co++) {
        const int64_t ci = co / p->cout_g;
        for (int64_t t = 0; t < p->taps; t++) {
            const tap_range *r = &p->tap[t];
            float s = 0.0f;
            for (int64_t n = 0; n < g->batch; n++) {
                const float *in = x + (n * g->c_in + ci) * p->plane_in, *out = dy + (n * g->c_out + co) * p->plane_out;
                for (int64_t ho = r->h_lo; ho < r->h_hi; ho++)
                    s += dot_strided(out + ho * w_out + r->w_lo, in + tap_offset(p, r, ho), r->w_hi - r->w_lo,
                                     g->stride_w);
            }
            dw[co * p->taps + t] += s;
        }
    }
}

/* ---------------- the backend ---------------- */

static int im2col_forward(const char *op, const lt_conv_geom *g, const float *x, const float *w, const float *bias,
                          float *y, bool accumulate)
{
    if (g->batch == 0) return 0;
    conv_plan p;
    make_plan(&p, g, PASS_FORWARD);
    scratch_mark mark = scratch_begin();
    if (is_depthwise(g)) {
        if (!plan_tables(op, &p, false)) return -1;
        depthwise_forward(&p, x, w, bias, y, accumulate);
        scratch_end(mark);
        return 0;
    }
    float *scratch = plan_tables(op, &p, true) ? plan_scratch(op, &p, 0) : NULL;
    if (!scratch) return -1;
    chunk_args a = {.p = &p, .x = x, .w = w, .bias = bias, .y = y, .accumulate = accumulate, .scratch = scratch};
    run_chunks(&p, forward_chunk, &a, false);
    scratch_end(mark);
    return 0;
}

static int im2col_backward_data(const char *op, const lt_conv_geom *g, const float *dy, const float *w, float *dx,
                                bool accumulate)
{
    if (g->batch == 0) return 0;
    conv_plan p;
    make_plan(&p, g, PASS_BACKWARD_DATA);
    scratch_mark mark = scratch_begin();
    if (is_depthwise(g)) {
        if (!plan_tables(op, &p, false)) return -1;
        depthwise_backward_data(&p, dy, w, dx, accumulate);
        scratch_end(mark);
        return 0;
    }
    float *scratch = plan_tables(op, &p, true) ? plan_scratch(op, &p, 0) : NULL;
    if (!scratch) return -1;
    chunk_args a = {.p = &p, .w = w, .dy = dy, .dx = dx, .accumulate = accumulate, .scratch = scratch};
    run_chunks(&p, backward_data_chunk, &a, false);
    scratch_end(mark);
    return 0;
}

/* dw += partials[0] + partials[1] + ..., in thread order. */
static void reduce_partials(float *dw, const float *partials, int threads, int64_t n)
{
#pragma omp parallel for schedule(static) if (n * threads > LT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float s = partials[i];
        for (int t = 1; t < threads; t++) s += partials[(int64_t)t * n + i];
        dw[i] += s;
    }
}

static int im2col_backward_weight(const char *op, const lt_conv_geom *g, const float *x, const float *dy, float *dw,
                                  float *db)
{
    if (g->batch == 0) return 0;
    if (db) lt__conv_bias_grad(dy, g->batch, g->c_out, g->h_out * g->w_out, db);
    if (!dw) return 0;
    conv_plan p;
    make_plan(&p, g, PASS_BACKWARD_WEIGHT);
    scratch_mark mark = scratch_begin();
    if (is_depthwise(g)) {
        if (!plan_tables(op, &p, false)) return -1;
        depthwise_backward_weight(&p, x, dy, dw);
        scratch_end(mark);
        return 0;
    }
    const int64_t dw_floats = g->c_out * p.k;
    float *scratch =
        plan_tables(op, &p, true) ? plan_scratch(op, &p, p.partial_dw ? dw_floats * p.threads : 0) : NULL;
    if (!scratch) return -1;
    chunk_args a = {.p = &p, .x = x, .dy = dy, .dw = dw, .scratch = scratch};
    if (p.partial_dw) {
        a.partials = scratch + slot_floats(&p) * p.threads;
        memset(a.partials, 0, sizeof(float) * (size_t)(dw_floats * p.threads));
        run_chunks(&p, backward_weight_chunk, &a, false);
        reduce_partials(dw, a.partials, p.threads, dw_floats);
    } else {
        run_chunks(&p, backward_weight_chunk, &a, p.threads > 1);
    }
    scratch_end(mark);
    return 0;
}

static bool always_available(void) { return true; }

const lt_conv_backend lt__conv_backend_im2col = {
    .name = "im2col",
    .available = always_available,
    .supports = NULL,
    .forward = im2col_forward,
    .backward_data = im2col_backward_data,
    .backward_weight = im2col_backward_weight,
};

/* ---------------- backend selection ---------------- */

/* In order of preference; the last entry must handle everything. */
static const lt_conv_backend *const conv_backends[] = {
    &lt__conv_backend_im2col,
};

static const lt_conv_backend *preferred_backend;
static pthread_once_t preferred_once = PTHREAD_ONCE_INIT;

static void choose_backend(void)
{
    const char *want = getenv("LTRAIN_CONV_BACKEND");
    const size_t n = sizeof conv_backends / sizeof conv_backends[0];
    preferred_backend = &lt__conv_backend_im2col;
    for (size_t i = 0; i < n; i++) {
        const lt_conv_backend *b = conv_backends[i];
        if (want && *want && strcmp(want, b->name) != 0) continue;
        if (b->available()) {
            preferred_backend = b;
            return;
        }
    }
}

static const lt_conv_backend *preferred(void)
{
    pthread_once(&preferred_once, choose_backend);
    return preferred_backend;
}

const lt_conv_backend *lt__conv_backend_for(const lt_conv_geom *g)
{
    const lt_conv_backend *b = preferred();
    if (b->supports && !b->supports(g)) return &lt__conv_backend_im2col;
    return b;
}

const char *lt__conv_backend_name(void) { return preferred()->name; }
