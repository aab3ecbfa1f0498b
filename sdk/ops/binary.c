/* Broadcasting binary arithmetic: add, sub, mul, div, pow.
 *
 * Every call is first reduced to a plan: the broadcast output shape with its
 * size-1 dimensions dropped and neighbouring dimensions merged wherever both
 * inputs stay contiguous across them. The innermost planned dimension (a
 * "row") then has stride 1 or 0 in each input, and kernels run over blocks
 * of consecutive rows with compile-time inner strides:
 *   same shape               one long row, both sides contiguous;
 *   one side with numel 1    one long row against a constant;
 *   channel broadcast        [N,C,H,W] with [C,1,1]: N*C rows of H*W, each
 *                            against one constant;
 *   row broadcast            [...,K] with [K]: rows of K against the same K
 *                            values (one block, however short K is);
 *   anything else            the same blocks, walked by an odometer.
 * Work is split over threads by ranges of the flat output, so a single long
 * row is parallel too. Backward reuses the plan: an input with the output's
 * shape gets its gradient in place, range by range; a broadcast input sums
 * into one zeroed partial buffer per thread, and the partials are added in
 * thread order, so results are deterministic for a given thread count. */
#include "../internal.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Which inputs vary along a row (the other one is constant along it). */
enum { ROW_B = 1, ROW_A = 2, ROW_AB = 3 };

typedef struct bin_plan {
    int ndim;                       /* >= 1 */
    int64_t shape[LT_MAX_DIMS];     /* planned output dimensions, all > 1 except a lone [1] */
    int64_t stride[2][LT_MAX_DIMS]; /* element strides of a and b; 0 on broadcast dimensions */
    int64_t numel;
    int row_mode;                   /* ROW_* of the innermost dimension */
} bin_plan;

static void plan_build(bin_plan *p, const lt_tensor *a, const lt_tensor *b, int ndim, const int64_t *shape)
{
    int64_t st[2][LT_MAX_DIMS];
    lt__broadcast_strides(a, ndim, shape, st[0]);
    lt__broadcast_strides(b, ndim, shape, st[1]);
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        /* The previous planned dimension absorbs d when it steps, in both
         * inputs, exactly over one full run of d. */
        bool merge = n > 0 && p->stride[0][n - 1] == st[0][d] * shape[d] && p->stride[1][n - 1] == st[1][d] * shape[d];
        if (merge) {
            p->shape[n - 1] *= shape[d];
        } else {
            p->shape[n] = shape[d];
            n++;
        }
        p->stride[0][n - 1] = st[0][d];
        p->stride[1][n - 1] = st[1][d];
    }
    if (n == 0) { /* a single element */
        p->shape[0] = 1;
        p->stride[0][0] = p->stride[1][0] = 1;
        n = 1;
    }
    p->ndim = n;
    p->numel = lt__numel(ndim, shape);
    p->row_mode = (p->stride[0][n - 1] ? ROW_A : 0) | (p->stride[1][n - 1] ? ROW_B : 0);
}

/* ---- walking the plan in blocks of rows ---- */

/* A block is `rows` runs of `len` elements: consecutive in the output, and
 * stepping by step[k] per row in input k. Full rows come as many per block
 * as the second-innermost dimension allows, so short rows (e.g. [M,3] with
 * [3]) cost no per-row call; partial rows at range ends come alone. */
typedef struct block {
    int64_t pos, off[2]; /* output position, input offsets of the first element */
    int64_t rows, len;
    int64_t step[2];
} block;

typedef struct row_iter {
    const bin_plan *p;
    int64_t idx[LT_MAX_DIMS]; /* planned index of `pos` */
    int64_t pos, end;         /* flat output positions */
    int64_t off[2];           /* offsets of a and b at pos */
} row_iter;

static void iter_seek(row_iter *it, const bin_plan *p, int64_t start, int64_t end)
{
    it->p = p;
    it->pos = start;
    it->end = end;
    it->off[0] = it->off[1] = 0;
    int64_t rest = start;
    for (int d = p->ndim - 1; d >= 0; d--) {
        it->idx[d] = rest % p->shape[d];
        rest /= p->shape[d];
        for (int k = 0; k < 2; k++) it->off[k] += it->idx[d] * p->stride[k][d];
    }
}

/* Moves `n` steps along dimension d, carrying into the outer dimensions. */
static void iter_advance(row_iter *it, int d, int64_t n)
{
    const bin_plan *p = it->p;
    it->idx[d] += n;
    for (int k = 0; k < 2; k++) it->off[k] += n * p->stride[k][d];
    for (; d > 0 && it->idx[d] == p->shape[d]; d--) {
        it->idx[d] = 0;
        it->idx[d - 1]++;
        for (int k = 0; k < 2; k++) it->off[k] += p->stride[k][d - 1] - p->shape[d] * p->stride[k][d];
    }
}

/* The next block; false when the range is done. */
static bool iter_next(row_iter *it, block *b)
{
    const bin_plan *p = it->p;
    const int last = p->ndim - 1;
    const int64_t remaining = it->end - it->pos, row = p->shape[last];
    if (remaining <= 0) return false;
    b->pos = it->pos;
    b->off[0] = it->off[0];
    b->off[1] = it->off[1];
    if (last > 0 && it->idx[last] == 0 && remaining >= row) {
        int64_t rows = p->shape[last - 1] - it->idx[last - 1];
        if (rows > remaining / row) rows = remaining / row;
        b->rows = rows;
        b->len = row;
        b->step[0] = p->stride[0][last - 1];
        b->step[1] = p->stride[1][last - 1];
        it->pos += rows * row;
        iter_advance(it, last - 1, rows);
    } else {
        int64_t len = row - it->idx[last];
        b->rows = 1;
        b->len = len < remaining ? len : remaining;
        b->step[0] = b->step[1] = 0;
        it->pos += b->len;
        iter_advance(it, last, b->len);
    }
    return true;
}

/* Start of thread t's share of `total` (t == nt gives total); a multiple of
 * 16 elements so threads do not share cache lines. */
static int64_t share_start(int64_t total, int t, int nt)
{
    if (t >= nt) return total;
    int64_t s = total / nt * t + total % nt * t / nt;
    return s - s % 16;
}

/* ---- forward ---- */

/* Computes a block: rows of n outputs; a and b step by sa / sb per row. */
typedef void (*forward_fn)(float *restrict out, const float *restrict a, const float *restrict b, int64_t rows,
                           int64_t n, int64_t sa, int64_t sb, int mode);

#define FOR_ROWS(...)                                                                                           \
    for (int64_t r = 0; r < rows; r++, out += n, a += sa, b += sb) {                                            \
        __VA_ARGS__                                                                                             \
    }

/* out[j] = expr(x = a value, y = b value); the side constant along a row is
 * hoisted out of the row's loop. */
#define DEFINE_FORWARD(name, expr)                                                                              \
    static void name(float *restrict out, const float *restrict a, const float *restrict b, int64_t rows,      \
                     int64_t n, int64_t sa, int64_t sb, int mode)                                               \
    {                                                                                                           \
        if (mode == ROW_AB) {                                                                                   \
            FOR_ROWS(for (int64_t j = 0; j < n; j++) {                                                          \
                const float x = a[j], y = b[j];                                                                 \
                out[j] = (expr);                                                                                \
            })                                                                                                  \
        } else if (mode == ROW_A) {                                                                             \
            FOR_ROWS(const float y = b[0]; for (int64_t j = 0; j < n; j++) {                                    \
                const float x = a[j];                                                                           \
                out[j] = (expr);                                                                                \
            })                                                                                                  \
        } else {                                                                                                \
            FOR_ROWS(const float x = a[0]; for (int64_t j = 0; j < n; j++) {                                    \
                const float y = b[j];                                                                           \
                out[j] = (expr);                                                                                \
            })                                                                                                  \
        }                                                                                                       \
    }

DEFINE_FORWARD(forward_add, x + y)
DEFINE_FORWARD(forward_sub, x - y)
DEFINE_FORWARD(forward_mul, x * y)
DEFINE_FORWARD(forward_div, x / y)
DEFINE_FORWARD(forward_pow, powf(x, y))
/* pow with the constant exponent 2: powf rounds the exact square once, as
 * x * x does, so this is the same bits, vectorised. */
DEFINE_FORWARD(forward_square, ((void)y, x * x))

static void run_forward(forward_fn fn, const bin_plan *p, float *out, const float *a, const float *b)
{
    const int64_t total = p->numel;
#pragma omp parallel if (total > LT_PAR_MIN)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        row_iter it;
        iter_seek(&it, p, share_start(total, t, nt), share_start(total, t + 1, nt));
        block k;
        while (iter_next(&it, &k))
            fn(out + k.pos, a + k.off[0], b + k.off[1], k.rows, k.len, k.step[0], k.step[1], p->row_mode);
    }
}

/* ---- backward ---- */

/* Gradient contribution of a block to one input. `dst` is that input's
 * gradient at the block's offset and steps with it per row: when the input
 * varies along a row, dst[j] += term(j); when it is constant along it,
 * dst[0] += the row's sum of terms. Terms see go (upstream gradient),
 * x (a), y (b) and w (output). */
typedef void (*grad_fn)(float *restrict dst, const float *restrict g, const float *restrict a,
                        const float *restrict b, const float *restrict z, int64_t rows, int64_t n, int64_t sa,
                        int64_t sb, int mode);

#define GRAD_TERM(SA, SB, j)                                                                                    \
    const float go = g[j], x = a[(j) * (SA)], y = b[(j) * (SB)], w = z[j];                                     \
    (void)go, (void)x, (void)y, (void)w

#define GRAD_ADD(SA, SB, expr)                                                                                  \
    for (int64_t j = 0; j < n; j++) {                                                                           \
        GRAD_TERM(SA, SB, j);                                                                                   \
        dst[j] += (expr);                                                                                       \
    }

/* Sums in 16 independent lanes (vectorisable, and more accurate than one
 * running sum), then folds the lanes pairwise. */
#define GRAD_SUM(SA, SB, expr)                                                                                  \
    do {                                                                                                        \
        float lane[16] = {0};                                                                                   \
        int64_t j0 = 0;                                                                                         \
        for (; j0 + 16 <= n; j0 += 16)                                                                          \
            for (int k = 0; k < 16; k++) {                                                                      \
                GRAD_TERM(SA, SB, j0 + k);                                                                      \
                lane[k] += (expr);                                                                              \
            }                                                                                                   \
        for (int width = 8; width > 0; width /= 2)                                                              \
            for (int k = 0; k < width; k++) lane[k] += lane[k + width];                                         \
        float s = lane[0];                                                                                      \
        for (int64_t j = j0; j < n; j++) {                                                                      \
            GRAD_TERM(SA, SB, j);                                                                               \
            s += (expr);                                                                                        \
        }                                                                                                       \
        dst[0] += s;                                                                                            \
    } while (0)

/* Rows of a block; dst steps like the input it belongs to (SD: sa or sb). */
#define GRAD_ROWS(SD, body)                                                                                     \
    for (int64_t r = 0; r < rows; r++, dst += (SD), g += n, a += sa, b += sb, z += n) {                       \
        body;                                                                                                   \
    }

#define DEFINE_GRAD_A(name, expr)                                                                               \
    static void name(float *restrict dst, const float *restrict g, const float *restrict a,                    \
                     const float *restrict b, const float *restrict z, int64_t rows, int64_t n, int64_t sa,     \
                     int64_t sb, int mode)                                                                      \
    {                                                                                                           \
        if (mode == ROW_AB)                                                                                     \
            GRAD_ROWS(sa, GRAD_ADD(1, 1, expr))                                                                 \
        else if (mode == ROW_A)                                                                                 \
            GRAD_ROWS(sa, GRAD_ADD(1, 0, expr))                                                                 \
        else                                                                                                    \
            GRAD_ROWS(sa, GRAD_SUM(0, 1, expr))                                                                 \
    }

#define DEFINE_GRAD_B(name, expr)                                                                               \
    static void name(float *restrict dst, const float *restrict g, const float *restrict a,                    \
                     const float *restrict b, const float *restrict z, int64_t rows, int64_t n, int64_t sa,     \
                     int64_t sb, int mode)                                                                      \
    {                                                                                                           \
        if (mode == ROW_AB)                                                                                     \
            GRAD_ROWS(sb, GRAD_ADD(1, 1, expr))                                                                 \
        else if (mode == ROW_B)                                                                                 \
            GRAD_ROWS(sb, GRAD_ADD(0, 1, expr))                                                                 \
        else                                                                                                    \
            GRAD_ROWS(sb, GRAD_SUM(1, 0, expr))                                                                 \
    }

/* PyTorch 1.13's formulas (tools/autograd/derivatives.yaml), in its order of
 * operations. */
DEFINE_GRAD_A(grad_add_a, go)
DEFINE_GRAD_B(grad_add_b, go)
DEFINE_GRAD_A(grad_sub_a, go)
DEFINE_GRAD_B(grad_sub_b, -go)
DEFINE_GRAD_A(grad_mul_a, go * y)
DEFINE_GRAD_B(grad_mul_b, go * x)
DEFINE_GRAD_A(grad_div_a, go / y)
DEFINE_GRAD_B(grad_div_b, -go * ((x / y) / y))
/* d/da = b * a^(b-1), defined as 0 where b == 0 (even for a == 0). */
DEFINE_GRAD_A(grad_pow_a, y == 0.0f ? 0.0f : go * (y * powf(x, y - 1.0f)))
/* d/db = a^b * log(a), defined as 0 where a == 0 and b >= 0. */
DEFINE_GRAD_B(grad_pow_b, (x == 0.0f && y >= 0.0f) ? 0.0f : go * (w * logf(x)))

typedef struct binary_kind {
    forward_fn forward;
    grad_fn grad[2];
} binary_kind;

static const binary_kind *kind_of(lt_op op)
{
    static const binary_kind kinds[] = {
        [LT_OP_ADD - LT_OP_ADD] = {forward_add, {grad_add_a, grad_add_b}},
        [LT_OP_SUB - LT_OP_ADD] = {forward_sub, {grad_sub_a, grad_sub_b}},
        [LT_OP_MUL - LT_OP_ADD] = {forward_mul, {grad_mul_a, grad_mul_b}},
        [LT_OP_DIV - LT_OP_ADD] = {forward_div, {grad_div_a, grad_div_b}},
        [LT_OP_POW - LT_OP_ADD] = {forward_pow, {grad_pow_a, grad_pow_b}},
    };
    return &kinds[op - LT_OP_ADD];
}

/* Blocks of the plan into `base` (the gradient of input k, or a partial
 * of its shape) over output range [start, end). */
static void grad_range(const bin_plan *p, int k, grad_fn fn, float *base, const float *g, const float *a,
                       const float *b, const float *z, int64_t start, int64_t end)
{
    row_iter it;
    iter_seek(&it, p, start, end);
    block q;
    while (iter_next(&it, &q))
        fn(base + q.off[k], g + q.pos, a + q.off[0], b + q.off[1], z + q.pos, q.rows, q.len, q.step[0], q.step[1],
           p->row_mode);
}

/* Accumulates the gradient of input k (0: a, 1: b) into gi. */
static void grad_input(const bin_plan *p, int k, grad_fn fn, float *gi, int64_t in_numel, const float *g,
                       const float *a, const float *b, const float *z)
{
    const int64_t total = p->numel;
    int nt = total > LT_PAR_MIN ? omp_get_max_threads() : 1;
    if (in_numel == total || nt == 1) {
        /* Either every thread owns its range of gi, or there is one thread. */
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            grad_range(p, k, fn, gi, g, a, b, z, share_start(total, t, T), share_start(total, t + 1, T));
        }
        return;
    }
    /* Broadcast input: threads would collide on gi, so each sums into its
     * own partial, and the partials are added in thread order. */
    const int64_t pstride = (in_numel + 15) & ~(int64_t)15;
    float *part = lt__calloc("backward", sizeof(float) * (size_t)(pstride * nt));
    if (!part) { /* out of memory: fall back to one thread, straight into gi */
        grad_range(p, k, fn, gi, g, a, b, z, 0, total);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        grad_range(p, k, fn, part + t * pstride, g, a, b, z, share_start(total, t, T), share_start(total, t + 1, T));
    }
#pragma omp parallel for schedule(static) if (in_numel > LT_PAR_MIN)
    for (int64_t i = 0; i < in_numel; i++) {
        float s = part[i];
        for (int t = 1; t < nt; t++) s += part[t * pstride + i];
        gi[i] += s;
    }
}

static void binary_backward(lt_node *node)
{
    const bin_plan *p = node->saved;
    const binary_kind *kind = kind_of(node->op);
    lt_tensor *a = node->inputs[0], *b = node->inputs[1];
    const float *g = node->out->grad, *z = lt_f32(node->out);
    int k = 0;
    if (node->op == LT_OP_ADD && p->numel == node->out->numel && a->numel == p->numel && a != b &&
        lt__grad_share(a, (float *)g))
        k = 1; /* a's gradient is g itself (the residual connection's case) */
    for (; k < 2; k++) {
        lt_tensor *in = node->inputs[k];
        bool fresh;
        float *gi = lt__grad_begin(in, &fresh);
        if (gi && fresh && node->op == LT_OP_ADD && in->numel == p->numel) { /* gi = g */
            const int64_t n = p->numel;
            LT_FOR_CHUNKS(n, memcpy(gi + lo, g + lo, sizeof(float) * (size_t)(hi - lo)));
            continue;
        }
        if (gi && fresh) memset(gi, 0, sizeof(float) * (size_t)in->numel);
        if (gi && p->numel > 0) grad_input(p, k, kind->grad[k], gi, in->numel, g, lt_f32(a), lt_f32(b), z);
    }
}

/* ---- the ops ---- */

static lt_tensor *binary(lt_op op, lt_tensor *a, lt_tensor *b)
{
    LT__PROFILE_OP(op);
    const char *name = lt_op_name(op);
    if (!a || !b) return NULL;
    if (a->dtype != LT_F32 || b->dtype != LT_F32) {
        lt__fail(name, "needs float32 tensors, got a %s %s and b %s %s", lt__shp(a), lt_dtype_name(a->dtype),
                 lt__shp(b), lt_dtype_name(b->dtype));
        return NULL;
    }
    int ndim;
    int64_t shape[LT_MAX_DIMS];
    if (!lt__broadcast_shape(name, a, b, &ndim, shape)) return NULL;
    lt_tensor *out = lt__result(name, LT_F32, ndim, shape);
    if (!out) return NULL;
    bin_plan plan;
    plan_build(&plan, a, b, ndim, shape);
    if (plan.numel > 0) {
        forward_fn fn = kind_of(op)->forward;
        if (op == LT_OP_POW && b->numel == 1 && lt_f32(b)[0] == 2.0f) fn = forward_square;
        run_forward(fn, &plan, lt_f32(out), lt_f32(a), lt_f32(b));
    }
    lt_tensor *ins[2] = {a, b};
    if (lt__wants_grad(2, ins)) {
        lt_node *node = lt__record(out, op, binary_backward, 2, ins, sizeof plan);
        if (!node) return NULL;
        memcpy(node->saved, &plan, sizeof plan);
    }
    return out;
}

lt_tensor *lt_add(lt_tensor *a, lt_tensor *b) { return binary(LT_OP_ADD, a, b); }
lt_tensor *lt_sub(lt_tensor *a, lt_tensor *b) { return binary(LT_OP_SUB, a, b); }
lt_tensor *lt_mul(lt_tensor *a, lt_tensor *b) { return binary(LT_OP_MUL, a, b); }
lt_tensor *lt_div(lt_tensor *a, lt_tensor *b) { return binary(LT_OP_DIV, a, b); }
lt_tensor *lt_pow(lt_tensor *a, lt_tensor *b) { return binary(LT_OP_POW, a, b); }
