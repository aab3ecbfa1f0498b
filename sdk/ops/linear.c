/* linear (F.linear) and matmul (torch.matmul): sgemm through lt__sgemm.
 *
 * linear:  y [R, out] = x [R, in] * W^T + b, R = product of x's leading dims.
 *   dx += dy * W;  dW += dy^T * x (one GEMM over all rows);  db += column sums.
 * matmul:  per output batch index, C [M, N] = A [M, K] * B [K, N], batch dims
 *   broadcast (NumPy rules); 1-d operands are promoted as in torch.matmul and
 *   the promoted dimension removed from the result.
 *   dA += dC * B^T, dB += A^T * dC, summed over broadcast batch dims in batch
 *   order. When B (or A) has no batch dims and the other operand's batches
 *   are contiguous, the batches fold into one tall GEMM.
 * All sums run in a fixed order: deterministic for a given thread count. */
#include "../internal.h"

#include <omp.h>
#include <string.h>

/* Column block for the bias-gradient reduction (stack accumulator). */
#define BIAS_BLOCK 64
/* Batched products smaller than this many multiply-adds run one per thread
 * (single-threaded GEMMs) instead of one after another with a threaded GEMM. */
#define SMALL_GEMM_MACS ((int64_t)1 << 21)

/* db[j] += sum over rows of g[r, j], rows summed in order. */
static void column_sums(const float *g, int64_t rows, int64_t cols, float *db)
{
    const int64_t blocks = (cols + BIAS_BLOCK - 1) / BIAS_BLOCK;
#pragma omp parallel for schedule(static) if (rows * cols > LT_PAR_MIN)
    for (int64_t blk = 0; blk < blocks; blk++) {
        const int64_t j0 = blk * BIAS_BLOCK, n = cols - j0 < BIAS_BLOCK ? cols - j0 : BIAS_BLOCK;
        float acc[BIAS_BLOCK] = {0};
        for (int64_t r = 0; r < rows; r++) {
            const float *row = g + r * cols + j0;
            for (int64_t j = 0; j < n; j++) acc[j] += row[j];
        }
        for (int64_t j = 0; j < n; j++) db[j0 + j] += acc[j];
    }
}

/* ---------------- linear ---------------- */

static const char *const LINEAR = "linear";

static void linear_backward(lt_node *node)
{
    lt_tensor *x = node->inputs[0], *w = node->inputs[1], *b = node->inputs[2];
    const float *g = node->out->grad;
    const int64_t out_f = w->shape[0], in_f = w->shape[1], rows = lt__numel(x->ndim - 1, x->shape);
    bool fresh;
    float *dx = lt__grad_begin(x, &fresh);
    if (dx && out_f) /* beta 0 on a fresh buffer: sgemm stores, no zeroing pass */
        lt__sgemm(false, false, rows, in_f, out_f, 1.0f, g, out_f, lt_f32(w), in_f, fresh ? 0.0f : 1.0f, dx, in_f);
    else if (dx && fresh)
        memset(dx, 0, (size_t)x->numel * sizeof(float));
    float *dw = lt__grad(w);
    if (dw && rows) lt__sgemm(true, false, out_f, in_f, rows, 1.0f, g, out_f, lt_f32(x), in_f, 1.0f, dw, in_f);
    float *db = lt__grad(b);
    if (db) column_sums(g, rows, out_f, db);
}

lt_tensor *lt_linear(lt_tensor *x, lt_tensor *weight, lt_tensor *bias)
{
    LT__PROFILE_OP(LT_OP_LINEAR);
    if (!x || !weight) return NULL;
    if (!lt__check_dtype(LINEAR, "input", x, LT_F32) || !lt__check_dtype(LINEAR, "weight", weight, LT_F32))
        return NULL;
    if (bias && !lt__check_dtype(LINEAR, "bias", bias, LT_F32)) return NULL;
    if (weight->ndim != 2 || x->ndim < 1) {
        lt__fail(LINEAR, "input %s must be [..., in_features] and weight %s [out_features, in_features]", lt__shp(x),
                 lt__shp(weight));
        return NULL;
    }
    const int64_t out_f = weight->shape[0], in_f = weight->shape[1];
    if (x->shape[x->ndim - 1] != in_f) {
        lt__fail(LINEAR, "input %s has %lld features but weight %s expects %lld", lt__shp(x),
                 (long long)x->shape[x->ndim - 1], lt__shp(weight), (long long)in_f);
        return NULL;
    }
    if (bias && (bias->ndim != 1 || bias->shape[0] != out_f)) {
        lt__fail(LINEAR, "bias %s must be [%lld] for weight %s", lt__shp(bias), (long long)out_f, lt__shp(weight));
        return NULL;
    }
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = out_f;
    lt_tensor *out = lt__result(LINEAR, LT_F32, x->ndim, shape);
    if (!out) return NULL;
    LT__PROFILE_FLOPS(2.0 * (double)out->numel * (double)in_f);
    const int64_t rows = lt__numel(x->ndim - 1, x->shape);
    float *y = lt_f32(out);
    /* The bias is the GEMM's initial C (beta 1), as in PyTorch's addmm. */
    if (bias) {
        const float *b = lt_f32(bias);
#pragma omp parallel for schedule(static) if (rows * out_f > LT_PAR_MIN)
        for (int64_t r = 0; r < rows; r++) memcpy(y + r * out_f, b, (size_t)out_f * sizeof(float));
    } else if (in_f == 0) {
        memset(y, 0, (size_t)out->numel * sizeof(float));
    }
    if (in_f)
        lt__sgemm(false, true, rows, out_f, in_f, 1.0f, lt_f32(x), in_f, lt_f32(weight), in_f, bias ? 1.0f : 0.0f, y,
                  out_f);
    lt_tensor *inputs[3] = {x, weight, bias};
    if (lt__wants_grad(3, inputs) && !lt__record(out, LT_OP_LINEAR, linear_backward, 3, inputs, 0)) return NULL;
    return out;
}

/* ---------------- matmul ---------------- */

static const char *const MATMUL = "matmul";

typedef struct mm_geom {
    int64_t m, n, k;
    int nd;                       /* batch dimensions of the output */
    int64_t shape[LT_MAX_DIMS];   /* output batch shape */
    int64_t stride_a[LT_MAX_DIMS]; /* per batch dim, in matrices; 0 where broadcast */
    int64_t stride_b[LT_MAX_DIMS];
    int64_t batch, batch_a, batch_b; /* matrices in the output, in a, in b */
} mm_geom;

/* Matrix index of batch entry `bi` in an operand with the given strides. */
static int64_t batch_offset(const mm_geom *g, const int64_t *strides, int64_t bi)
{
    int64_t off = 0;
    for (int d = g->nd - 1; d >= 0; d--) {
        off += (bi % g->shape[d]) * strides[d];
        bi /= g->shape[d];
    }
    return off;
}

/* Batch shape / strides of one operand whose matrix dims are the last two
 * of `ndim` (after vector promotion). */
static void operand_strides(const int64_t *shape, int ndim, const mm_geom *g, int64_t *strides)
{
    int64_t s = 1;
    for (int d = g->nd - 1; d >= 0; d--) {
        const int src = ndim - 2 - (g->nd - d);
        const int64_t dim = src >= 0 ? shape[src] : 1;
        strides[d] = dim == 1 ? 0 : s;
        s *= dim;
    }
}

static bool mm_geometry(const lt_tensor *a, const lt_tensor *b, mm_geom *g, int *out_ndim, int64_t *out_shape)
{
    /* Promote 1-d operands: a [K] -> [1,K], b [K] -> [K,1]. */
    int64_t sa[LT_MAX_DIMS + 1], sb[LT_MAX_DIMS + 1];
    int na = a->ndim, nb = b->ndim;
    if (na == 1) {
        sa[0] = 1;
        sa[1] = a->shape[0];
        na = 2;
    } else {
        memcpy(sa, a->shape, sizeof(int64_t) * (size_t)na);
    }
    if (nb == 1) {
        sb[0] = b->shape[0];
        sb[1] = 1;
        nb = 2;
    } else {
        memcpy(sb, b->shape, sizeof(int64_t) * (size_t)nb);
    }
    g->m = sa[na - 2];
    g->k = sa[na - 1];
    g->n = sb[nb - 1];
    if (sb[nb - 2] != g->k) {
        lt__fail(MATMUL, "a %s and b %s cannot be multiplied (%lld columns vs %lld rows)", lt__shp(a), lt__shp(b),
                 (long long)g->k, (long long)sb[nb - 2]);
        return false;
    }
    g->nd = (na > nb ? na : nb) - 2;
    if (g->nd + 2 > LT_MAX_DIMS) {
        lt__fail(MATMUL, "a %s and b %s give more than %d dimensions", lt__shp(a), lt__shp(b), LT_MAX_DIMS);
        return false;
    }
    g->batch = g->batch_a = g->batch_b = 1;
    for (int d = 0; d < g->nd; d++) {
        const int ia = na - 2 - g->nd + d, ib = nb - 2 - g->nd + d;
        const int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            lt__fail(MATMUL, "batch dimensions of a %s and b %s cannot be broadcast (%lld vs %lld)", lt__shp(a),
                     lt__shp(b), (long long)da, (long long)db);
            return false;
        }
        g->shape[d] = da == 1 ? db : da;
        g->batch *= g->shape[d];
        g->batch_a *= da;
        g->batch_b *= db;
    }
    operand_strides(sa, na, g, g->stride_a);
    operand_strides(sb, nb, g, g->stride_b);
    int nd = 0;
    for (int d = 0; d < g->nd; d++) out_shape[nd++] = g->shape[d];
    if (a->ndim > 1) out_shape[nd++] = g->m;
    if (b->ndim > 1) out_shape[nd++] = g->n;
    *out_ndim = nd;
    return true;
}

/* C_i (+)= op(A_i) * op(B_i) for every output batch i, with C indexed by
 * c_strides (0 on dims where C is broadcast: its batches accumulate in batch
 * order). One GEMM when both a side and C are contiguous over batches. */
typedef struct mm_call {
    bool ta, tb;
    int64_t m, n, k;            /* of each product */
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
    int64_t size_a, size_b, size_c; /* floats per matrix */
    const int64_t *sa, *sb, *sc;    /* batch strides (matrices) */
    float beta;
} mm_call;

static void run_product(const mm_geom *g, const mm_call *p, int64_t bi)
{
    const float *a = p->a + batch_offset(g, p->sa, bi) * p->size_a;
    const float *b = p->b + batch_offset(g, p->sb, bi) * p->size_b;
    float *c = p->c + batch_offset(g, p->sc, bi) * p->size_c;
    lt__sgemm(p->ta, p->tb, p->m, p->n, p->k, 1.0f, a, p->lda, b, p->ldb, p->beta, c, p->ldc);
}

static bool injective(const mm_geom *g, const int64_t *strides)
{
    for (int d = 0; d < g->nd; d++)
        if (strides[d] == 0 && g->shape[d] > 1) return false;
    return true;
}

static void run_batched(const mm_geom *g, const mm_call *p)
{
    if (p->k == 0) { /* empty products: C = beta * C */
        if (p->beta == 0.0f) {
            const int64_t total = g->batch * p->size_c;
            memset(p->c, 0, (size_t)total * sizeof(float));
        }
        return;
    }
    /* Many small products writing distinct C: one per thread (each GEMM then
     * runs single-threaded inside the parallel region). */
    const int64_t macs = p->m * p->n * p->k;
    if (injective(g, p->sc) && g->batch > 1 && macs < SMALL_GEMM_MACS && !omp_in_parallel()) {
#pragma omp parallel for schedule(static) if (g->batch * macs > LT_PAR_MIN)
        for (int64_t bi = 0; bi < g->batch; bi++) run_product(g, p, bi);
        return;
    }
    for (int64_t bi = 0; bi < g->batch; bi++) run_product(g, p, bi);
}

typedef struct mm_saved {
    mm_geom g;
} mm_saved;

static void matmul_backward(lt_node *node)
{
    const mm_geom *g = &((mm_saved *)node->saved)->g;
    lt_tensor *a = node->inputs[0], *b = node->inputs[1];
    const float *dc = node->out->grad, *av = lt_f32(a), *bv = lt_f32(b);
    const int64_t m = g->m, n = g->n, k = g->k;
    int64_t out_strides[LT_MAX_DIMS];
    for (int64_t d = g->nd - 1, s = 1; d >= 0; d--) {
        out_strides[d] = s;
        s *= g->shape[d];
    }
    float *da = lt__grad(a);
    if (da && n) {
        if (g->batch_b == 1 && g->batch_a == g->batch) /* all batches share B: one tall GEMM */
            lt__sgemm(false, true, g->batch * m, k, n, 1.0f, dc, n, bv, n, 1.0f, da, k);
        else
            run_batched(g, &(mm_call){.ta = false, .tb = true, .m = m, .n = k, .k = n, .a = dc, .b = bv, .c = da,
                                      .lda = n, .ldb = n, .ldc = k, .size_a = m * n, .size_b = k * n,
                                      .size_c = m * k, .sa = out_strides, .sb = g->stride_b, .sc = g->stride_a,
                                      .beta = 1.0f});
    }
    float *db = lt__grad(b);
    if (db && m) {
        if (g->batch_b == 1 && g->batch_a == g->batch) /* dB = A_all^T * dC_all */
            lt__sgemm(true, false, k, n, g->batch * m, 1.0f, av, k, dc, n, 1.0f, db, n);
        else
            run_batched(g, &(mm_call){.ta = true, .tb = false, .m = k, .n = n, .k = m, .a = av, .b = dc, .c = db,
                                      .lda = k, .ldb = n, .ldc = n, .size_a = m * k, .size_b = m * n,
                                      .size_c = k * n, .sa = g->stride_a, .sb = out_strides, .sc = g->stride_b,
                                      .beta = 1.0f});
    }
}

lt_tensor *lt_matmul(lt_tensor *a, lt_tensor *b)
{
    LT__PROFILE_OP(LT_OP_MATMUL);
    if (!a || !b) return NULL;
    if (!lt__check_dtype(MATMUL, "a", a, LT_F32) || !lt__check_dtype(MATMUL, "b", b, LT_F32)) return NULL;
    if (a->ndim < 1 || b->ndim < 1) {
        lt__fail(MATMUL, "both arguments need at least 1 dimension, got a %s and b %s", lt__shp(a), lt__shp(b));
        return NULL;
    }
    mm_geom g;
    int nd;
    int64_t shape[LT_MAX_DIMS];
    if (!mm_geometry(a, b, &g, &nd, shape)) return NULL;
    lt_tensor *out = lt__result(MATMUL, LT_F32, nd, shape);
    if (!out) return NULL;
    int64_t out_strides[LT_MAX_DIMS];
    for (int64_t d = g.nd - 1, s = 1; d >= 0; d--) {
        out_strides[d] = s;
        s *= g.shape[d];
    }
    if (g.batch_b == 1 && g.batch_a == g.batch && g.k) /* one tall GEMM */
        lt__sgemm(false, false, g.batch * g.m, g.n, g.k, 1.0f, lt_f32(a), g.k, lt_f32(b), g.n, 0.0f, lt_f32(out), g.n);
    else
        run_batched(&g, &(mm_call){.m = g.m, .n = g.n, .k = g.k, .a = lt_f32(a), .b = lt_f32(b), .c = lt_f32(out),
                                   .lda = g.k, .ldb = g.n, .ldc = g.n, .size_a = g.m * g.k, .size_b = g.k * g.n,
                                   .size_c = g.m * g.n, .sa = g.stride_a, .sb = g.stride_b, .sc = out_strides,
                                   .beta = 0.0f});
    lt_tensor *inputs[2] = {a, b};
    if (lt__wants_grad(2, inputs)) {
        lt_node *node = lt__record(out, LT_OP_MATMUL, matmul_backward, 2, inputs, sizeof(mm_saved));
        if (!node) return NULL;
        ((mm_saved *)node->saved)->g = g;
    }
    return out;
}
