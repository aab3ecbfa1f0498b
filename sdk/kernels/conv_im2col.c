/* The portable convolution backend: im2col / col2im + OpenBLAS sgemm, plus
 * direct loops for depthwise convolutions (one input channel per output
 * channel, where a GEMM would have depth kh*kw and waste the machine).
 *
 * GEMM layout, per group, for a chunk of nb images (L = nb*h_out*w_out):
 *   col [K, L]          K = c_in/groups*k_h*k_w rows (channel, ki, kj); the
 *                       columns are the output positions of the chunk
 *   forward             Y    [c_out_g, L] = W_g [c_out_g, K] * col
 *   backward data       dcol [K, L]       = W_g^T * dY [c_out_g, L], then col2im
 *   backward weight     dW_g [c_out_g, K] += dY * col^T
 * Column order is one of:
 *   one image (nb == 1)   the GEMM reads and writes NCHW planes in place; a
 *                         1x1 stride-1 unpadded conv needs no im2col at all;
 *   image-major           (image, ho, wo): planes are gathered / scattered
 *                         with row copies (planes of moderate size);
 *   batch-inner           (ho, wo, image): for small planes, where rows are
 *                         too short to copy well, the chunk's input and
 *                         gradients are transposed once (16x16 register
 *                         tiles with AVX-512) so that every im2col / col2im
 *                         move is a run of nb contiguous floats.
 * Moves: with stride 1 and equal widths a tap of one plane is the input
 * shifted, so its im2col is one contiguous copy plus zeroing the columns
 * that wrapped between rows. Strided convs with long rows first split each
 * input plane into its stride phases (even/odd rows and columns for stride
 * 2), where every tap is again a stride-1 shift.
 *
 * Threads: every thread takes whole chunks and runs single-threaded GEMMs
 * on them (OpenBLAS runs single-threaded inside an OpenMP parallel region)
 * whenever each thread can get a chunk with enough work: each thread's col
 * buffer stays in its own cache and there is no fork/join per GEMM. Small
 * problems run their chunks one after another instead, with a threaded GEMM
 * and OpenMP im2col/col2im ("serial" chunks). The weight gradient then sums
 * per-thread partial gradients in thread order. Every output element is
 * produced in a fixed order: results depend only on the inputs and the thread
 * count.
 *
 * Scratch comes from the step arena and is handed back when a pass returns
 * (lt__arena_mark / lt__arena_rewind), so a network of many convs does not grow
 * the step's memory by one col buffer per conv. */
#include "backend.h"

/* The loops here move a few floats at a time (padding gaps, short rows,
 * runs of nb floats); GCC would turn them into memset/memcpy calls that cost
 * more than the moves. Long moves call memset/memcpy explicitly. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- tuning ---------------- */

/* A chunk's GEMM gets at least this many columns (images are added until it
 * does), and more images while its col buffer stays within about half a
 * core's L2 (then im2col writes and the GEMM reads it from cache). */
#define MIN_COLS 512
#define COL_BYTES ((int64_t)1 << 20)
/* Chunks may shrink to this many GEMM columns to give every thread one. */
#define MIN_COLS_SPLIT 64
/* Below this many multiply-adds per chunk, a thread per chunk is not worth it. */
#define MIN_MACS_THREAD ((int64_t)1 << 20)
/* Per-thread partial weight gradients need this many GEMM columns per thread
 * (each partial costs one extra add per gradient element). */
#define MIN_INNER_PARTIAL 2048
/* Output rows shorter than this (when not one contiguous span) use an index
 * table per tap, and the batch-inner layout when a chunk has at least
 * BATCH_INNER_MIN images. */
#define SHORT_ROW 16
#define MAX_INDEX_PLANE 4096
#define BATCH_INNER_MIN 8

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

/* Whether a loop of `work` elements runs on the team: never inside another
 * parallel region (a chunk thread), so per-thread buffers stay private even
 * with nested parallelism enabled. */
static inline bool par(int64_t work) { return work > LT_PAR_MIN && !omp_in_parallel(); }

void lt__conv_add_bias(float *out, const float *bias, int64_t n, int64_t channels, int64_t plane)
{
    const int64_t planes = n * channels;
#pragma omp parallel for schedule(static) if (par(planes * plane))
    for (int64_t i = 0; i < planes; i++) {
        const float b = bias[i % channels];
        float *o = out + i * plane;
        for (int64_t j = 0; j < plane; j++) o[j] += b;
    }
}

void lt__conv_bias_grad(const float *g, int64_t n, int64_t channels, int64_t plane, float *db)
{
#pragma omp parallel for schedule(static) if (par(n * channels * plane))
    for (int64_t c = 0; c < channels; c++) {
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += sum_floats(g + (i * channels + c) * plane, plane);
        db[c] += s;
    }
}

/* ---------------- plan ---------------- */

/* Where kernel tap (ki, kj) reads: input row ho*stride_h + off_h for ho in
 * [h_lo, h_hi), column wo*stride_w + off_w for wo in [w_lo, w_hi); outside
 * these ranges the tap sees padding. In a phased plan (below) the tap reads
 * phase plane `phase` at row ho + off_h, column wo + off_w instead. */
typedef struct tap_range {
    int64_t off_h, off_w, h_lo, h_hi, w_lo, w_hi, phase;
} tap_range;

typedef struct conv_plan {
    const lt_conv_geom *g;
    bool depthwise;              /* direct loops: only the tap table is used */
    int64_t cin_g, cout_g;       /* channels per group */
    int64_t k;                   /* GEMM depth: cin_g * k_h * k_w */
    int64_t taps;                /* k_h * k_w */
    int64_t plane_in, plane_out; /* h*w of input and output */
    bool pointwise;              /* 1x1, stride 1, no padding: x is its own col matrix */
    bool batch_inner;            /* columns ordered (ho, wo, image) */
    bool phased;                 /* strided with long rows: split input planes into stride phases */
    int64_t phase_h, phase_w;    /* phase plane size (the largest phase; row stride phase_w) */
    float *phases;               /* per-thread phase buffers of sh*sw planes */
    int64_t chunk;               /* images per GEMM */
    int64_t n_chunks;            /* per group */
    int threads;                 /* chunks running at once (1: serial chunks) */
    bool partial_dw;             /* backward weight: per-thread partial sums */
    int64_t col_floats;          /* scratch per running chunk: col, GEMM-layout dY / Y, transposed x / dx */
    int64_t tmp_floats;
    int64_t xt_floats;
    tap_range *tap;              /* [taps] */
    int32_t *index;              /* [taps * plane_out] input offset or -1, or NULL */
} conv_plan;

typedef enum conv_pass { PASS_FORWARD, PASS_BACKWARD_DATA, PASS_BACKWARD_WEIGHT } conv_pass;

/* One input channel per output channel: direct loops, no GEMM. */
static bool is_depthwise(const lt_conv_geom *g) { return g->groups > 1 && g->c_in == g->groups; }

static int64_t clamp_images(int64_t want, int64_t batch) { return want < 1 ? 1 : (want > batch ? batch : want); }

/* Images per chunk and how threads share the chunks. */
static void plan_chunks(conv_plan *p, conv_pass pass)
{
    const lt_conv_geom *g = p->g;
    const int64_t batch = g->batch > 0 ? g->batch : 1;
    const int64_t col_per_image = p->k * p->plane_out * (int64_t)sizeof(float);
    const int threads = threads_here();

    /* enough images for a GEMM of MIN_COLS columns, more while the col
     * buffer stays within a core's cache */
    int64_t nb = (MIN_COLS + p->plane_out - 1) / p->plane_out;
    const int64_t fit = COL_BYTES / (col_per_image ? col_per_image : 1);
    nb = clamp_images(nb > fit ? nb : fit, batch);
    const int64_t serial_nb = nb;

    /* Threads take whole chunks when every thread gets one with enough work:
     * smaller chunks than above are fine for that (down to MIN_COLS_SPLIT
     * columns), as a fork/join and a threaded GEMM per chunk cost more. */
    const int64_t want_chunks = (threads + g->groups - 1) / g->groups;
    if (threads > 1 && (batch + nb - 1) / nb < want_chunks) {
        const int64_t split = (batch + want_chunks - 1) / want_chunks;
        if (split * p->plane_out >= MIN_COLS_SPLIT) nb = split;
    }
    int64_t chunks = (batch + nb - 1) / nb;
    bool per_thread = threads > 1 && chunks * g->groups >= threads &&
                      p->cout_g * p->k * p->plane_out * nb >= MIN_MACS_THREAD;
    /* Backward weight then sums per-thread partial gradients unless every
     * thread owns whole groups. */
    if (pass == PASS_BACKWARD_WEIGHT && per_thread && g->groups < threads) {
        per_thread = batch * p->plane_out >= (int64_t)threads * MIN_INNER_PARTIAL;
        p->partial_dw = per_thread;
    }
    if (!per_thread) nb = serial_nb;
    chunks = (batch + nb - 1) / nb;
    if (per_thread && g->groups == 1 && chunks % threads) { /* balance */
        chunks = (chunks + threads - 1) / threads * threads;
        nb = (batch + chunks - 1) / chunks;
    }
    p->threads = per_thread ? threads : 1;
    p->chunk = nb;
    p->n_chunks = (g->batch + nb - 1) / nb;
}

/* Column order, im2col flavour and scratch sizes of one chunk. */
static void plan_layout(conv_plan *p)
{
    const lt_conv_geom *g = p->g;
    const int64_t cols = p->chunk * p->plane_out;
    p->batch_inner =
        !p->pointwise && g->w_out < SHORT_ROW && p->plane_out <= MAX_INDEX_PLANE && p->chunk >= BATCH_INNER_MIN;
    /* Strided convs with long rows split each input plane into its
     * stride_h*stride_w phases (input rows/columns of one residue), where
     * every tap reads contiguous rows: a stride-1 conv per phase. */
    p->phased = (g->stride_h > 1 || g->stride_w > 1) && !p->batch_inner && !p->pointwise && g->w_out >= SHORT_ROW;
    p->phase_h = (g->h_in + g->stride_h - 1) / g->stride_h;
    p->phase_w = (g->w_in + g->stride_w - 1) / g->stride_w;
    p->col_floats = p->pointwise && p->chunk == 1 ? 0 : p->k * cols;
    p->tmp_floats = p->chunk > 1 ? p->cout_g * cols : 0;
    /* The batch-inner input is transposed once when its col matrix is at
     * least as big as the input; smaller ones (1x1 strided) read x directly. */
    const bool transpose_x = p->k * p->plane_out >= p->cin_g * p->plane_in;
    p->xt_floats = p->batch_inner && transpose_x ? p->cin_g * p->plane_in * p->chunk : 0;
}

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
    p->threads = 1;
    p->chunk = 1;
    if (is_depthwise(g)) { /* direct loops: only the tap table */
        p->depthwise = true;
        return;
    }
    plan_chunks(p, pass);
    plan_layout(p);
}

/* Tap ranges and, for short strided rows, the per-tap index tables. */
static bool plan_tables(const char *op, conv_plan *p)
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
        if (p->phased) { /* row ho*s + off = (ho + floor(off/s))*s + (off mod s) */
            const int64_t a = ((r->off_h % g->stride_h) + g->stride_h) % g->stride_h;
            const int64_t b = ((r->off_w % g->stride_w) + g->stride_w) % g->stride_w;
            r->phase = a * g->stride_w + b;
            r->off_h = (r->off_h - a) / g->stride_h;
            r->off_w = (r->off_w - b) / g->stride_w;
            /* the valid ranges stay those computed on the full plane */
        }
    }
    p->index = NULL;
    if (p->depthwise || p->pointwise || g->w_out >= SHORT_ROW || p->plane_out > MAX_INDEX_PLANE ||
        p->plane_in > INT32_MAX)
        return true;
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

/* Scratch of one running chunk (col, tmp, xt), rounded to whole cache lines
 * so threads never share one. */
static int64_t slot_floats(const conv_plan *p)
{
    const int64_t per = (p->col_floats + p->tmp_floats + p->xt_floats + 15) & ~(int64_t)15;
    return per ? per : 16;
}

static int64_t phase_floats(const conv_plan *p)
{
    const int64_t n = p->g->stride_h * p->g->stride_w * p->phase_h * p->phase_w;
    return (n + 15) & ~(int64_t)15;
}

/* Tables, phase buffers, then every thread's chunk scratch, then `extra` floats. */
static float *plan_scratch(const char *op, conv_plan *p, int64_t extra_floats)
{
    if (!plan_tables(op, p)) return NULL;
    if (p->phased) {
        /* one per chunk thread, or per thread of im2col's own loop */
        const int64_t buffers = p->threads > omp_get_max_threads() ? p->threads : omp_get_max_threads();
        p->phases = lt__alloc(op, (size_t)(phase_floats(p) * buffers) * sizeof(float));
        if (!p->phases) return NULL;
    }
    return lt__alloc(op, (size_t)(slot_floats(p) * p->threads + extra_floats) * sizeof(float));
}

static float *slot_col(const conv_plan *p, float *scratch, int slot) { return scratch + slot_floats(p) * slot; }
static float *slot_tmp(const conv_plan *p, float *scratch, int slot)
{
    return slot_col(p, scratch, slot) + p->col_floats;
}
static float *slot_xt(const conv_plan *p, float *scratch, int slot)
{
    return slot_tmp(p, scratch, slot) + p->tmp_floats;
}

/* ---------------- layout moves ---------------- */

/* dst [rows, nb*plane] <- planes (n0+i, c0+r) of an [*, channels, plane] tensor. */
static void gather_planes(const float *src, int64_t n0, int64_t nb, int64_t channels, int64_t c0, int64_t rows,
                          int64_t plane, float *dst)
{
#pragma omp parallel for collapse(2) schedule(static) if (par(rows * nb * plane))
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < nb; i++)
            memcpy(dst + (r * nb + i) * plane, src + ((n0 + i) * channels + c0 + r) * plane,
                   (size_t)plane * sizeof(float));
}

/* planes (n0+i, c0+r) (+)= src [rows, nb*plane] (+ bias[r]). */
static void scatter_planes(const float *src, float *dst, int64_t n0, int64_t nb, int64_t channels, int64_t c0,
                           int64_t rows, int64_t plane, const float *bias, bool accumulate)
{
#pragma omp parallel for collapse(2) schedule(static) if (par(rows * nb * plane))
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

/* Square tiles of TRANSPOSE_TILE floats: a 16x16 tile is one AVX-512
 * register per row, transposed in registers when the build targets
 * AVX-512; otherwise (and at the edges) a plain loop. */
#define TRANSPOSE_TILE 16

#if defined(__AVX512F__)
#include <immintrin.h>

/* dst[j*ld_dst + i] (+)= src[i*ld_src + j] for a full 16x16 tile. */
static inline void transpose_tile16(const float *src, int64_t ld_src, float *dst, int64_t ld_dst, bool accumulate)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ld_src);
    for (int i = 0; i < 16; i += 2) { /* interleave row pairs */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* 4x4 blocks inside each 128-bit lane */
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) { /* then move the 128-bit lanes */
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
        r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);
    }
    for (int j = 0; j < 16; j++) {
        float *d = dst + j * ld_dst;
        _mm512_storeu_ps(d, accumulate ? _mm512_add_ps(_mm512_loadu_ps(d), r[j]) : r[j]);
    }
}
#endif

/* dst[j*ld_dst + i] (+)= src[i*ld_src + j] for i in [i0, i1), j in [j0, j1). */
static void transpose_block(const float *restrict src, int64_t ld_src, float *restrict dst, int64_t ld_dst,
                            int64_t i0, int64_t i1, int64_t j0, int64_t j1, bool accumulate)
{
#if defined(__AVX512F__)
    if (i1 - i0 == 16 && j1 - j0 == 16) {
        transpose_tile16(src + i0 * ld_src + j0, ld_src, dst + j0 * ld_dst + i0, ld_dst, accumulate);
        return;
    }
#endif
    for (int64_t j = j0; j < j1; j++) {
        float *d = dst + j * ld_dst;
        if (accumulate)
            for (int64_t i = i0; i < i1; i++) d[i] += src[i * ld_src + j];
        else
            for (int64_t i = i0; i < i1; i++) d[i] = src[i * ld_src + j];
    }
}

/* dst[j*ld_dst + i] (+)= src[i*ld_src + j] for i < rows, j < cols. */
static void transpose(const float *src, int64_t rows, int64_t cols, int64_t ld_src, float *dst, int64_t ld_dst,
                      bool accumulate)
{
    const int64_t col_tiles = (cols + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
#pragma omp parallel for schedule(static) if (par(rows * cols))
    for (int64_t jt = 0; jt < col_tiles; jt++) {
        const int64_t j0 = jt * TRANSPOSE_TILE, j1 = j0 + TRANSPOSE_TILE < cols ? j0 + TRANSPOSE_TILE : cols;
        for (int64_t i0 = 0; i0 < rows; i0 += TRANSPOSE_TILE)
            transpose_block(src, ld_src, dst, ld_dst, i0, i0 + TRANSPOSE_TILE < rows ? i0 + TRANSPOSE_TILE : rows, j0,
                            j1, accumulate);
    }
}

/* Row moves of im2col / col2im: o[j] = src[j*sw] and dst[j*sw] += o[j] for
 * j < n (strides 1 and 2 get their own loops so they vectorise). */
static inline void copy_strided(float *restrict o, const float *restrict src, int64_t n, int64_t sw)
{
    if (sw == 1)
        for (int64_t j = 0; j < n; j++) o[j] = src[j];
    else if (sw == 2)
        for (int64_t j = 0; j < n; j++) o[j] = src[2 * j];
    else
        for (int64_t j = 0; j < n; j++) o[j] = src[j * sw];
}

static inline void add_strided(float *restrict dst, const float *restrict o, int64_t n, int64_t sw)
{
    if (sw == 1)
        for (int64_t j = 0; j < n; j++) dst[j] += o[j];
    else if (sw == 2)
        for (int64_t j = 0; j < n; j++) dst[2 * j] += o[j];
    else
        for (int64_t j = 0; j < n; j++) dst[j * sw] += o[j];
}

/* Zeroes a short gap (padded columns between two rows). */
static inline void zero_gap(float *restrict o, int64_t n)
{
    for (int64_t j = 0; j < n; j++) o[j] = 0.0f;
}

/* ---------------- one tap of one plane ---------------- */

/* Tap r of a source plane whose rows are `ld` floats apart, read at row
 * ho*row_step + off_h and column wo*col_step + off_w:
 * out[ho*w_out + wo] = src[...] inside the tap's valid ranges, 0 outside. */
static void tap_copy(const tap_range *r, int64_t h_out, int64_t w_out, const float *restrict src, int64_t row_step,
                     int64_t ld, int64_t col_step, float *restrict out)
{
    const int64_t lo = r->w_lo, hi = r->w_hi;
    if (r->h_lo >= r->h_hi || lo >= hi) {
        memset(out, 0, (size_t)(h_out * w_out) * sizeof(float));
        return;
    }
    if (row_step == 1 && col_step == 1 && ld == w_out) {
        /* the tap is the source shifted by delta: one contiguous copy, then
         * zero the columns that wrapped around between rows */
        const int64_t a = r->h_lo * w_out + lo, b = (r->h_hi - 1) * w_out + hi;
        const int64_t delta = r->off_h * w_out + r->off_w;
        memset(out, 0, (size_t)a * sizeof(float));
        memcpy(out + a, src + a + delta, (size_t)(b - a) * sizeof(float));
        memset(out + b, 0, (size_t)(h_out * w_out - b) * sizeof(float));
        if (lo > 0 || hi < w_out)
            for (int64_t ho = r->h_lo; ho < r->h_hi - 1; ho++) zero_gap(out + ho * w_out + hi, w_out - hi + lo);
        return;
    }
    memset(out, 0, (size_t)(r->h_lo * w_out) * sizeof(float));
    for (int64_t ho = r->h_lo; ho < r->h_hi; ho++) {
        float *o = out + ho * w_out;
        zero_gap(o, lo);
        copy_strided(o + lo, src + (ho * row_step + r->off_h) * ld + lo * col_step + r->off_w, hi - lo, col_step);
        zero_gap(o + hi, w_out - hi);
    }
    memset(out + r->h_hi * w_out, 0, (size_t)((h_out - r->h_hi) * w_out) * sizeof(float));
}

/* The adjoint: src[...] += out[...] over the same positions. May zero
 * entries of `out` that fall on padding. */
static void tap_add(const tap_range *r, int64_t w_out, float *restrict out, float *restrict src, int64_t row_step,
                    int64_t ld, int64_t col_step)
{
    const int64_t lo = r->w_lo, hi = r->w_hi;
    if (r->h_lo >= r->h_hi || lo >= hi) return;
    if (row_step == 1 && col_step == 1 && ld == w_out) {
        /* one contiguous add after zeroing the padded columns between rows */
        const int64_t a = r->h_lo * w_out + lo, b = (r->h_hi - 1) * w_out + hi;
        const int64_t delta = r->off_h * w_out + r->off_w;
        if (lo > 0 || hi < w_out)
            for (int64_t ho = r->h_lo; ho < r->h_hi - 1; ho++) zero_gap(out + ho * w_out + hi, w_out - hi + lo);
        add_strided(src + a + delta, out + a, b - a, 1);
        return;
    }
    for (int64_t ho = r->h_lo; ho < r->h_hi; ho++)
        add_strided(src + (ho * row_step + r->off_h) * ld + lo * col_step + r->off_w, out + ho * w_out + lo, hi - lo,
                    col_step);
}

/* ---------------- im2col / col2im, image-major columns ---------------- */

/* Tap t of input plane `in` for one image. */
static void im2col_plane(const conv_plan *p, int64_t t, const float *restrict in, float *restrict out)
{
    const lt_conv_geom *g = p->g;
    if (p->index) {
        const int32_t *idx = p->index + t * p->plane_out;
        for (int64_t q = 0; q < p->plane_out; q++) out[q] = idx[q] >= 0 ? in[idx[q]] : 0.0f;
        return;
    }
    tap_copy(&p->tap[t], g->h_out, g->w_out, in, g->stride_h, g->w_in, g->stride_w, out);
}

/* The adjoint of im2col_plane (may zero entries of `out` on padding). */
static void col2im_plane(const conv_plan *p, int64_t t, float *restrict out, float *restrict in)
{
    const lt_conv_geom *g = p->g;
    if (p->index) {
        const int32_t *idx = p->index + t * p->plane_out;
        for (int64_t q = 0; q < p->plane_out; q++)
            if (idx[q] >= 0) in[idx[q]] += out[q];
        return;
    }
    tap_add(&p->tap[t], g->w_out, out, in, g->stride_h, g->w_in, g->stride_w);
}

/* col [k, nb*plane_out] <- patches of images n0.. of group grp. */
static void im2col(const conv_plan *p, const float *x, int64_t grp, int64_t n0, int64_t nb, float *col)
{
    const lt_conv_geom *g = p->g;
    const int64_t k = p->k, cols = nb * p->plane_out;
#pragma omp parallel for collapse(2) schedule(static) if (par(k * cols))
    for (int64_t r = 0; r < k; r++)
        for (int64_t i = 0; i < nb; i++) {
            const int64_t c = r / p->taps, t = r % p->taps;
            const float *in = x + ((n0 + i) * g->c_in + grp * p->cin_g + c) * p->plane_in;
            im2col_plane(p, t, in, col + r * cols + i * p->plane_out);
        }
}

/* dx planes of images n0.. of group grp (+)= col2im(col). */
static void col2im(const conv_plan *p, float *col, int64_t grp, int64_t n0, int64_t nb, float *dx, bool accumulate)
{
    const lt_conv_geom *g = p->g;
    const int64_t cols = nb * p->plane_out;
#pragma omp parallel for collapse(2) schedule(static) if (par(p->k * cols))
    for (int64_t i = 0; i < nb; i++)
        for (int64_t c = 0; c < p->cin_g; c++) {
            float *in = dx + ((n0 + i) * g->c_in + grp * p->cin_g + c) * p->plane_in;
            if (!accumulate) memset(in, 0, (size_t)p->plane_in * sizeof(float));
            for (int64_t t = 0; t < p->taps; t++)
                col2im_plane(p, t, col + (c * p->taps + t) * cols + i * p->plane_out, in);
        }
}

/* ---------------- im2col / col2im of strided convs, by phases ---------------- */

/* phases[(a*sw + b)][r][c] = in[r*sh + a][c*sw + b], phase planes of
 * phase_h x phase_w; a smaller phase (odd sizes) is padded with zeros. */
static void split_phases(const conv_plan *p, const float *restrict in, float *restrict phases)
{
    const lt_conv_geom *g = p->g;
    const int64_t sh = g->stride_h, sw = g->stride_w, size = p->phase_h * p->phase_w;
    for (int64_t a = 0; a < sh; a++)
        for (int64_t b = 0; b < sw; b++) {
            float *ph = phases + (a * sw + b) * size;
            const int64_t rows = (g->h_in - a + sh - 1) / sh, cols = (g->w_in - b + sw - 1) / sw;
            for (int64_t r = 0; r < rows; r++) {
                copy_strided(ph + r * p->phase_w, in + (r * sh + a) * g->w_in + b, cols, sw);
                zero_gap(ph + r * p->phase_w + cols, p->phase_w - cols);
            }
            zero_gap(ph + rows * p->phase_w, (p->phase_h - rows) * p->phase_w);
        }
}

/* The adjoint: in[...] (+)= phases[...]. */
static void merge_phases(const conv_plan *p, const float *restrict phases, float *restrict in, bool accumulate)
{
    const lt_conv_geom *g = p->g;
    const int64_t sh = g->stride_h, sw = g->stride_w, size = p->phase_h * p->phase_w;
    if (!accumulate) memset(in, 0, (size_t)p->plane_in * sizeof(float));
    for (int64_t a = 0; a < sh; a++)
        for (int64_t b = 0; b < sw; b++) {
            const float *ph = phases + (a * sw + b) * size;
            const int64_t rows = (g->h_in - a + sh - 1) / sh, cols = (g->w_in - b + sw - 1) / sw;
            for (int64_t r = 0; r < rows; r++)
                add_strided(in + (r * sh + a) * g->w_in + b, ph + r * p->phase_w, cols, sw);
        }
}

/* im2col of a chunk, one (image, channel) plane at a time: split, then every
 * tap as a stride-1 tap of its phase plane. `slot` picks the phase buffer of
 * a chunk thread. */
static void im2col_phased(const conv_plan *p, const float *x, int64_t grp, int64_t n0, int64_t nb, float *col,
                          int slot)
{
    const lt_conv_geom *g = p->g;
    const int64_t cols = nb * p->plane_out;
#pragma omp parallel for collapse(2) schedule(static) if (par(p->k * cols))
    for (int64_t i = 0; i < nb; i++)
        for (int64_t c = 0; c < p->cin_g; c++) {
            float *phases = p->phases + (slot + omp_get_thread_num()) * phase_floats(p);
            split_phases(p, x + ((n0 + i) * g->c_in + grp * p->cin_g + c) * p->plane_in, phases);
            for (int64_t t = 0; t < p->taps; t++)
                tap_copy(&p->tap[t], g->h_out, g->w_out, phases + p->tap[t].phase * p->phase_h * p->phase_w, 1,
                         p->phase_w, 1, col + (c * p->taps + t) * cols + i * p->plane_out);
        }
}

static void col2im_phased(const conv_plan *p, float *col, int64_t grp, int64_t n0, int64_t nb, float *dx,
                          bool accumulate, int slot)
{
    const lt_conv_geom *g = p->g;
    const int64_t cols = nb * p->plane_out;
#pragma omp parallel for collapse(2) schedule(static) if (par(p->k * cols))
    for (int64_t i = 0; i < nb; i++)
        for (int64_t c = 0; c < p->cin_g; c++) {
            float *phases = p->phases + (slot + omp_get_thread_num()) * phase_floats(p);
            memset(phases, 0, (size_t)phase_floats(p) * sizeof(float));
            for (int64_t t = 0; t < p->taps; t++)
                tap_add(&p->tap[t], g->w_out, col + (c * p->taps + t) * cols + i * p->plane_out,
                        phases + p->tap[t].phase * p->phase_h * p->phase_w, 1, p->phase_w, 1);
            merge_phases(p, phases, dx + ((n0 + i) * g->c_in + grp * p->cin_g + c) * p->plane_in, accumulate);
        }
}

/* ---------------- im2col / col2im, batch-inner columns ---------------- */

/* col[r][q][i] = xt[c][s][i] for the input position s of tap t at output q
 * (0 on padding); xt is the chunk's input as [cin_g][plane_in][nb]. */
static void im2col_batch_inner(const conv_plan *p, const float *xt, int64_t nb, float *col)
{
    const int64_t plane = p->plane_out, cols = nb * plane;
#pragma omp parallel for schedule(static) if (par(p->k * cols))
    for (int64_t r = 0; r < p->k; r++) {
        const int32_t *idx = p->index + (r % p->taps) * plane;
        const float *src = xt + (r / p->taps) * p->plane_in * nb;
        float *dst = col + r * cols;
        for (int64_t q = 0; q < plane; q++) {
            float *restrict d = dst + q * nb;
            if (idx[q] < 0) {
                for (int64_t i = 0; i < nb; i++) d[i] = 0.0f;
            } else {
                const float *restrict s = src + idx[q] * nb;
                for (int64_t i = 0; i < nb; i++) d[i] = s[i];
            }
        }
    }
}

/* The adjoint: dxt[c][s][:] = sum over taps of col[r][q][:] (overwrites dxt). */
static void col2im_batch_inner(const conv_plan *p, const float *col, int64_t nb, float *dxt)
{
    const int64_t plane = p->plane_out, cols = nb * plane;
#pragma omp parallel for schedule(static) if (par(p->k * cols))
    for (int64_t c = 0; c < p->cin_g; c++) {
        float *dst = dxt + c * p->plane_in * nb;
        memset(dst, 0, (size_t)(p->plane_in * nb) * sizeof(float));
        for (int64_t t = 0; t < p->taps; t++) {
            const int32_t *idx = p->index + t * plane;
            const float *src = col + (c * p->taps + t) * cols;
            for (int64_t q = 0; q < plane; q++) {
                if (idx[q] < 0) continue;
                float *restrict d = dst + idx[q] * nb;
                const float *restrict s = src + q * nb;
                for (int64_t i = 0; i < nb; i++) d[i] += s[i];
            }
        }
    }
}

/* Batch-inner im2col reading x directly, for convs whose col matrix is
 * smaller than their input (1x1 strided), where transposing the whole input
 * first would cost more. Images are the middle loop: consecutive moves stay
 * in one input plane and one col row, as image planes are often a power of
 * two apart and would thrash one cache set. */
static void im2col_batch_inner_direct(const conv_plan *p, const float *x, int64_t grp, int64_t n0, int64_t nb,
                                      float *col)
{
    const lt_conv_geom *g = p->g;
    const int64_t plane = p->plane_out, cols = nb * plane;
#pragma omp parallel for schedule(static) if (par(p->k * cols))
    for (int64_t r = 0; r < p->k; r++) {
        const int32_t *idx = p->index + (r % p->taps) * plane;
        float *dst = col + r * cols;
        for (int64_t i = 0; i < nb; i++) {
            const float *src = x + ((n0 + i) * g->c_in + grp * p->cin_g + r / p->taps) * p->plane_in;
            for (int64_t q = 0; q < plane; q++) dst[q * nb + i] = idx[q] < 0 ? 0.0f : src[idx[q]];
        }
    }
}

/* Its adjoint, adding into dx directly. */
static void col2im_batch_inner_direct(const conv_plan *p, const float *col, int64_t grp, int64_t n0, int64_t nb,
                                      float *dx, bool accumulate)
{
    const lt_conv_geom *g = p->g;
    const int64_t plane = p->plane_out, cols = nb * plane;
#pragma omp parallel for schedule(static) if (par(p->k * cols))
    for (int64_t c = 0; c < p->cin_g; c++)
        for (int64_t i = 0; i < nb; i++) {
            float *dst = dx + ((n0 + i) * g->c_in + grp * p->cin_g + c) * p->plane_in;
            if (!accumulate) memset(dst, 0, (size_t)p->plane_in * sizeof(float));
            for (int64_t t = 0; t < p->taps; t++) {
                const int32_t *idx = p->index + t * plane;
                const float *src = col + (c * p->taps + t) * cols + i;
                for (int64_t q = 0; q < plane; q++)
                    if (idx[q] >= 0) dst[idx[q]] += src[q * nb];
            }
        }
}

/* ---------------- a chunk's GEMM operands ---------------- */

/* The col matrix of a chunk: x itself (pointwise, one image), gathered x
 * planes (pointwise), or im2col. Returns it and its row stride. */
static const float *chunk_col(const conv_plan *p, const float *x, int64_t grp, int64_t n0, int64_t nb, float *col,
                              float *xt, int slot, int64_t *ld)
{
    const lt_conv_geom *g = p->g;
    const float *xc = x + (n0 * g->c_in + grp * p->cin_g) * p->plane_in;
    if (p->pointwise && nb == 1) {
        *ld = p->plane_in;
        return xc;
    }
    *ld = nb * p->plane_out;
    if (p->pointwise) {
        gather_planes(x, n0, nb, g->c_in, grp * p->cin_g, p->cin_g, p->plane_in, col);
    } else if (p->batch_inner && !p->xt_floats) {
        im2col_batch_inner_direct(p, x, grp, n0, nb, col);
    } else if (p->batch_inner) {
        transpose(xc, nb, p->cin_g * p->plane_in, g->c_in * p->plane_in, xt, nb, false);
        im2col_batch_inner(p, xt, nb, col);
    } else if (p->phased) {
        im2col_phased(p, x, grp, n0, nb, col, slot);
    } else {
        im2col(p, x, grp, n0, nb, col);
    }
    return col;
}

/* dY of a chunk in GEMM layout [cout_g, nb*plane_out]: in place for one image. */
static const float *chunk_dy(const conv_plan *p, const float *dy, int64_t grp, int64_t n0, int64_t nb, float *tmp,
                             int64_t *ld)
{
    const lt_conv_geom *g = p->g;
    const float *dyc = dy + (n0 * g->c_out + grp * p->cout_g) * p->plane_out;
    if (nb == 1) {
        *ld = p->plane_out;
        return dyc;
    }
    *ld = nb * p->plane_out;
    if (p->batch_inner)
        transpose(dyc, nb, p->cout_g * p->plane_out, g->c_out * p->plane_out, tmp, nb, false);
    else
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
    float *yc = a->y + (n0 * g->c_out + grp * p->cout_g) * p->plane_out;
    int64_t ldc;
    const float *col =
        chunk_col(p, a->x, grp, n0, nb, slot_col(p, a->scratch, slot), slot_xt(p, a->scratch, slot), slot, &ldc);
    if (nb == 1) {
        lt__sgemm(false, false, p->cout_g, p->plane_out, p->k, 1.0f, wg, p->k, col, ldc, a->accumulate ? 1.0f : 0.0f,
                  yc, p->plane_out);
        if (bias) lt__conv_add_bias(yc, bias, 1, p->cout_g, p->plane_out);
        return;
    }
    float *tmp = slot_tmp(p, a->scratch, slot);
    const int64_t cols = nb * p->plane_out;
    lt__sgemm(false, false, p->cout_g, cols, p->k, 1.0f, wg, p->k, col, ldc, 0.0f, tmp, cols);
    if (!p->batch_inner) {
        scatter_planes(tmp, a->y, n0, nb, g->c_out, grp * p->cout_g, p->cout_g, p->plane_out, bias, a->accumulate);
        return;
    }
    transpose(tmp, p->cout_g * p->plane_out, nb, nb, yc, g->c_out * p->plane_out, a->accumulate);
    if (bias)
        for (int64_t i = 0; i < nb; i++)
            lt__conv_add_bias(yc + i * g->c_out * p->plane_out, bias, 1, p->cout_g, p->plane_out);
}

static void backward_data_chunk(const chunk_args *a, int64_t grp, int64_t n0, int64_t nb, int slot)
{
    const conv_plan *p = a->p;
    const lt_conv_geom *g = p->g;
    const float *wg = a->w + grp * p->cout_g * p->k;
    float *dxc = a->dx + (n0 * g->c_in + grp * p->cin_g) * p->plane_in;
    int64_t ldy;
    const float *dyc = chunk_dy(p, a->dy, grp, n0, nb, slot_tmp(p, a->scratch, slot), &ldy);
    const int64_t cols = nb * p->plane_out;
    if (p->pointwise && nb == 1) {
        lt__sgemm(true, false, p->cin_g, cols, p->cout_g, 1.0f, wg, p->k, dyc, ldy, a->accumulate ? 1.0f : 0.0f, dxc,
                  p->plane_in);
        return;
    }
    float *col = slot_col(p, a->scratch, slot);
    lt__sgemm(true, false, p->k, cols, p->cout_g, 1.0f, wg, p->k, dyc, ldy, 0.0f, col, cols);
    if (p->pointwise) {
        scatter_planes(col, a->dx, n0, nb, g->c_in, grp * p->cin_g, p->cin_g, p->plane_in, NULL, a->accumulate);
    } else if (p->batch_inner && !p->xt_floats) {
        col2im_batch_inner_direct(p, col, grp, n0, nb, a->dx, a->accumulate);
    } else if (p->batch_inner) {
        float *dxt = slot_xt(p, a->scratch, slot);
        col2im_batch_inner(p, col, nb, dxt);
        transpose(dxt, p->cin_g * p->plane_in, nb, nb, dxc, g->c_in * p->plane_in, a->accumulate);
    } else if (p->phased) {
        col2im_phased(p, col, grp, n0, nb, a->dx, a->accumulate, slot);
    } else {
        col2im(p, col, grp, n0, nb, a->dx, a->accumulate);
    }
}

static void backward_weight_chunk(const chunk_args *a, int64_t grp, int64_t n0, int64_t nb, int slot)
{
    const conv_plan *p = a->p;
    int64_t ldy, ldc;
    const float *dyc = chunk_dy(p, a->dy, grp, n0, nb, slot_tmp(p, a->scratch, slot), &ldy);
    const float *col =
        chunk_col(p, a->x, grp, n0, nb, slot_col(p, a->scratch, slot), slot_xt(p, a->scratch, slot), slot, &ldc);
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
#pragma omp parallel for schedule(static) if (par(planes * p->plane_out * p->taps))
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
#pragma omp parallel for schedule(static) if (par(g->batch * g->c_out * p->plane_out * p->taps))
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
                    axpy_scatter(in + tap_offset(p, r, ho), wk[t], out + ho * w_out + r->w_lo, r->w_hi - r->w_lo,
                                 g->stride_w);
            }
        }
    }
}

static void depthwise_backward_weight(const conv_plan *p, const float *x, const float *dy, float *dw)
{
    const lt_conv_geom *g = p->g;
    const int64_t w_out = g->w_out;
#pragma omp parallel for schedule(static) if (par(g->batch * g->c_out * p->plane_out * p->taps))
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
    lt_arena_mark mark = lt__arena_mark();
    float *scratch = plan_scratch(op, &p, 0);
    if (scratch && p.depthwise) {
        depthwise_forward(&p, x, w, bias, y, accumulate);
    } else if (scratch) {
        chunk_args a = {.p = &p, .x = x, .w = w, .bias = bias, .y = y, .accumulate = accumulate, .scratch = scratch};
        run_chunks(&p, forward_chunk, &a, false);
    }
    lt__arena_rewind(mark);
    return scratch ? 0 : -1;
}

static int im2col_backward_data(const char *op, const lt_conv_geom *g, const float *dy, const float *w, float *dx,
                                bool accumulate)
{
    if (g->batch == 0) return 0;
    conv_plan p;
    make_plan(&p, g, PASS_BACKWARD_DATA);
    lt_arena_mark mark = lt__arena_mark();
    float *scratch = plan_scratch(op, &p, 0);
    if (scratch && p.depthwise) {
        depthwise_backward_data(&p, dy, w, dx, accumulate);
    } else if (scratch) {
        chunk_args a = {.p = &p, .w = w, .dy = dy, .dx = dx, .accumulate = accumulate, .scratch = scratch};
        run_chunks(&p, backward_data_chunk, &a, false);
    }
    lt__arena_rewind(mark);
    return scratch ? 0 : -1;
}

/* dw += partials[0] + partials[1] + ..., in thread order. */
static void reduce_partials(float *dw, const float *partials, int threads, int64_t n)
{
#pragma omp parallel for schedule(static) if (par(n * threads))
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
    const int64_t dw_floats = g->c_out * p.k, partial_floats = p.partial_dw ? dw_floats * p.threads : 0;
    lt_arena_mark mark = lt__arena_mark();
    float *scratch = plan_scratch(op, &p, partial_floats);
    if (scratch && p.depthwise) {
        depthwise_backward_weight(&p, x, dy, dw);
    } else if (scratch) {
        chunk_args a = {.p = &p, .x = x, .dy = dy, .dw = dw, .scratch = scratch};
        if (p.partial_dw) {
            a.partials = scratch + slot_floats(&p) * p.threads;
            memset(a.partials, 0, sizeof(float) * (size_t)partial_floats);
        }
        run_chunks(&p, backward_weight_chunk, &a, p.threads > 1 && !p.partial_dw);
        if (p.partial_dw) reduce_partials(dw, a.partials, p.threads, dw_floats);
    }
    lt__arena_rewind(mark);
    return scratch ? 0 : -1;
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
#ifdef LTRAIN_HAVE_ONEDNN
    &lt__conv_backend_onednn,
#endif
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
