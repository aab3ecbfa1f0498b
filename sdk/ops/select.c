/* Selection ops: where, masked_fill, gather, index_select.
 *
 * where and masked_fill walk their broadcast output as rows of the innermost
 * dimension (each operand then has stride 1 or 0 along a row), with a flat
 * loop when nothing is broadcast. gather and index_select move whole
 * contiguous runs; their backward passes are scatter-adds that stay
 * deterministic by giving each thread a disjoint block of the gradient and
 * adding the contributions to one element in index order. The indices are
 * LT_I32 and must lie in [0, size) as in PyTorch (no negative indexing). */
#include "../internal.h"

#include <string.h>

/* Gradient columns handled by one scatter-add work item. */
#define SCATTER_BLOCK 256

/* ---- broadcast layout: rows of the innermost output dimension ---- */

typedef struct row_layout {
    int ndim;                       /* >= 1 (a 0-d output is laid out as [1]) */
    int64_t shape[LT_MAX_DIMS];
    int64_t numel, inner, rows;
    int64_t stride[3][LT_MAX_DIMS]; /* per operand, 0 on broadcast dimensions */
    bool full[3];                   /* operand has the output's element order */
} row_layout;

static void layout_init(row_layout *l, int ndim, const int64_t *shape, int n, lt_tensor *const *ts)
{
    l->ndim = ndim > 0 ? ndim : 1;
    for (int d = 0; d < l->ndim; d++) l->shape[d] = ndim > 0 ? shape[d] : 1;
    l->numel = lt__numel(l->ndim, l->shape);
    l->inner = l->shape[l->ndim - 1];
    l->rows = l->inner ? l->numel / l->inner : 0;
    for (int k = 0; k < n; k++) {
        lt__broadcast_strides(ts[k], l->ndim, l->shape, l->stride[k]);
        l->full[k] = ts[k]->numel == l->numel;
    }
}

/* Offset of row r's first element in operand k. */
static int64_t row_offset(const row_layout *l, int k, int64_t r)
{
    int64_t off = 0;
    for (int d = l->ndim - 2; d >= 0; d--) {
        off += r % l->shape[d] * l->stride[k][d];
        r /= l->shape[d];
    }
    return off;
}

/* Broadcast shape of n tensors; on failure *bad is the offending dimension
 * (counted from the end). */
static bool broadcast_shapes(int n, lt_tensor *const *ts, int *ndim, int64_t *shape, int *bad)
{
    int nd = 0;
    for (int k = 0; k < n; k++) nd = ts[k]->ndim > nd ? ts[k]->ndim : nd;
    for (int d = 0; d < nd; d++) {
        int64_t size = 1;
        for (int k = 0; k < n; k++) {
            int dk = ts[k]->ndim - nd + d;
            int64_t s = dk >= 0 ? ts[k]->shape[dk] : 1;
            if (s == 1) continue;
            if (size != 1 && s != size) {
                *bad = d - nd;
                return false;
            }
            size = s;
        }
        shape[d] = size;
    }
    *ndim = nd;
    return true;
}

/* ---------------- where ---------------- */

/* gi += g where (cond != 0) == take, reduced to gi's shape. */
static void where_grad(const row_layout *l, const uint8_t *cond, const float *g, bool take, float *gi, int k,
                       const lt_tensor *in)
{
    const int64_t n = l->numel, inner = l->inner;
    if (l->full[0] && l->full[k]) {
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
        for (int64_t i = 0; i < n; i++) gi[i] += (cond[i] != 0) == take ? g[i] : 0.0f;
        return;
    }
    /* Mask the gradient at the output's shape, then sum over broadcast dims. */
    float *masked = l->full[k] ? gi : lt__calloc("backward", sizeof(float) * (size_t)n);
    if (!masked) return;
    const int64_t sc = l->stride[0][l->ndim - 1];
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t r = 0; r < l->rows; r++) {
        const uint8_t *c = cond + row_offset(l, 0, r);
        const float *gr = g + r * inner;
        float *mr = masked + r * inner;
        for (int64_t j = 0; j < inner; j++) mr[j] += (c[j * sc] != 0) == take ? gr[j] : 0.0f;
    }
    if (masked != gi) lt__reduce_broadcast(masked, l->ndim, l->shape, gi, in);
}

static void where_backward(lt_node *node)
{
    const row_layout *l = node->saved;
    const uint8_t *cond = lt_u8(node->inputs[0]);
    const float *g = node->out->grad;
    float *ga = lt__grad(node->inputs[1]);
    if (ga) where_grad(l, cond, g, true, ga, 1, node->inputs[1]);
    float *gb = lt__grad(node->inputs[2]);
    if (gb) where_grad(l, cond, g, false, gb, 2, node->inputs[2]);
}

static void where_forward(const row_layout *l, const uint8_t *cond, const float *a, const float *b, float *out)
{
    const int64_t n = l->numel, inner = l->inner;
    if (l->full[0] && l->full[1] && l->full[2]) {
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
        for (int64_t i = 0; i < n; i++) out[i] = cond[i] ? a[i] : b[i];
        return;
    }
    const int last = l->ndim - 1;
    const int64_t sc = l->stride[0][last], sa = l->stride[1][last], sb = l->stride[2][last];
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t r = 0; r < l->rows; r++) {
        const uint8_t *c = cond + row_offset(l, 0, r);
        const float *ar = a + row_offset(l, 1, r), *br = b + row_offset(l, 2, r);
        float *o = out + r * inner;
        for (int64_t j = 0; j < inner; j++) o[j] = c[j * sc] ? ar[j * sa] : br[j * sb];
    }
}

lt_tensor *lt_where(lt_tensor *cond, lt_tensor *a, lt_tensor *b)
{
    LT__PROFILE_OP(LT_OP_WHERE);
    const char *name = "where";
    if (!cond || !a || !b) return NULL;
    if (cond->dtype != LT_U8 || a->dtype != LT_F32 || b->dtype != LT_F32) {
        lt__fail(name, "needs a uint8 cond and float32 a and b, got cond %s %s, a %s %s, b %s %s", lt__shp(cond),
                 lt_dtype_name(cond->dtype), lt__shp(a), lt_dtype_name(a->dtype), lt__shp(b), lt_dtype_name(b->dtype));
        return NULL;
    }
    lt_tensor *ins[3] = {cond, a, b};
    int ndim, bad;
    int64_t shape[LT_MAX_DIMS] = {0};
    if (!broadcast_shapes(3, ins, &ndim, shape, &bad)) {
        lt__fail(name, "cond %s, a %s and b %s cannot be broadcast together (dimension %d)", lt__shp(cond),
                 lt__shp(a), lt__shp(b), bad);
        return NULL;
    }
    lt_tensor *out = lt__result(name, LT_F32, ndim, shape);
    if (!out) return NULL;
    row_layout l;
    layout_init(&l, ndim, shape, 3, ins);
    if (l.numel > 0) where_forward(&l, lt_u8(cond), lt_f32(a), lt_f32(b), lt_f32(out));
    if (lt__wants_grad(3, ins)) {
        lt_node *node = lt__record(out, LT_OP_WHERE, where_backward, 3, ins, sizeof l);
        if (!node) return NULL;
        memcpy(node->saved, &l, sizeof l);
    }
    return out;
}

/* ---------------- masked_fill ---------------- */

static void masked_fill_backward(lt_node *node)
{
    const row_layout *l = node->saved;
    float *gx = lt__grad(node->inputs[0]);
    if (!gx) return;
    const uint8_t *mask = lt_u8(node->inputs[1]);
    const float *g = node->out->grad;
    const int64_t n = l->numel, inner = l->inner, sm = l->stride[0][l->ndim - 1];
    if (l->full[0]) {
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
        for (int64_t i = 0; i < n; i++) gx[i] += mask[i] ? 0.0f : g[i];
        return;
    }
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t r = 0; r < l->rows; r++) {
        const uint8_t *m = mask + row_offset(l, 0, r);
        for (int64_t j = 0; j < inner; j++) gx[r * inner + j] += m[j * sm] ? 0.0f : g[r * inner + j];
    }
}

/* out = mask ? fill : x for one element type T. */
#define DEFINE_MASKED_FILL(name, T)                                                                             \
    static void name(const row_layout *l, const uint8_t *mask, const T *x, T fill, T *out)                     \
    {                                                                                                           \
        const int64_t n = l->numel, inner = l->inner, sm = l->stride[0][l->ndim - 1];                           \
        if (l->full[0]) {                                                                                       \
            _Pragma("omp parallel for schedule(static) if (n > LT_PAR_MIN)")                                    \
            for (int64_t i = 0; i < n; i++) out[i] = mask[i] ? fill : x[i];                                     \
            return;                                                                                             \
        }                                                                                                       \
        _Pragma("omp parallel for schedule(static) if (n > LT_PAR_MIN)")                                        \
        for (int64_t r = 0; r < l->rows; r++) {                                                                 \
            const uint8_t *m = mask + row_offset(l, 0, r);                                                      \
            for (int64_t j = 0; j < inner; j++) out[r * inner + j] = m[j * sm] ? fill : x[r * inner + j];      \
        }                                                                                                       \
    }

DEFINE_MASKED_FILL(masked_fill_f32, float)
DEFINE_MASKED_FILL(masked_fill_i32, int32_t)
DEFINE_MASKED_FILL(masked_fill_u8, uint8_t)
DEFINE_MASKED_FILL(masked_fill_i64, int64_t)

/* PyTorch's rule for a fill value of an integer tensor: it must lie within
 * the type's range as a float (no wrap; NaN never fits), then truncates. */
static bool fill_fits(lt_dtype dtype, float value)
{
    const double v = value;
    switch (dtype) {
    case LT_I32: return v >= INT32_MIN && v <= INT32_MAX;
    case LT_U8: return v >= 0 && v <= UINT8_MAX;
    case LT_I64: return v >= -9223372036854775808.0 && v < 9223372036854775808.0;
    default: return true;
    }
}

/* True when `mask` broadcasts to `x`'s shape without growing it. */
static bool broadcasts_to(const lt_tensor *mask, const lt_tensor *x)
{
    if (mask->ndim > x->ndim) return false;
    for (int d = 0; d < mask->ndim; d++) {
        int64_t m = mask->shape[mask->ndim - 1 - d];
        if (m != 1 && m != x->shape[x->ndim - 1 - d]) return false;
    }
    return true;
}

lt_tensor *lt_masked_fill(lt_tensor *x, lt_tensor *mask, float value)
{
    LT__PROFILE_OP(LT_OP_MASKED_FILL);
    const char *name = "masked_fill";
    if (!x || !mask) return NULL;
    if (!lt__check_dtype(name, "mask", mask, LT_U8)) return NULL;
    if (!broadcasts_to(mask, x)) {
        lt__fail(name, "mask %s cannot be broadcast to x %s", lt__shp(mask), lt__shp(x));
        return NULL;
    }
    if (!fill_fits(x->dtype, value)) {
        lt__fail(name, "value %g does not fit in %s x %s", value, lt_dtype_name(x->dtype), lt__shp(x));
        return NULL;
    }
    lt_tensor *out = lt__result(name, x->dtype, x->ndim, x->shape);
    if (!out) return NULL;
    row_layout l;
    layout_init(&l, x->ndim, x->shape, 1, &mask);
    const uint8_t *m = lt_u8(mask);
    const int64_t ivalue = (int64_t)value; /* in range: checked above */
    if (l.numel > 0) {
        switch (x->dtype) {
        case LT_F32: masked_fill_f32(&l, m, lt_f32(x), value, lt_f32(out)); break;
        case LT_I32: masked_fill_i32(&l, m, lt_i32(x), (int32_t)ivalue, lt_i32(out)); break;
        case LT_U8: masked_fill_u8(&l, m, lt_u8(x), (uint8_t)ivalue, lt_u8(out)); break;
        case LT_I64: masked_fill_i64(&l, m, (const int64_t *)x->data, ivalue, (int64_t *)out->data); break;
        default: lt__fail(name, "x %s has unknown dtype %d", lt__shp(x), (int)x->dtype); return NULL;
        }
    }
    lt_tensor *ins[2] = {x, mask};
    if (lt__wants_grad(2, ins)) {
        lt_node *node = lt__record(out, LT_OP_MASKED_FILL, masked_fill_backward, 2, ins, sizeof l);
        if (!node) return NULL;
        memcpy(node->saved, &l, sizeof l);
    }
    return out;
}

/* ---------------- index checks ---------------- */

/* Fails unless every index is in [0, size), naming an offending value: the
 * smallest if one is negative, else the largest. */
static bool check_indices(const char *op, const lt_tensor *x, const lt_tensor *index, int dim, int64_t size)
{
    const int32_t *idx = lt_i32(index);
    const int64_t n = index->numel;
    int32_t lo = 0, hi = 0;
#pragma omp parallel for schedule(static) reduction(min : lo) reduction(max : hi) if (n > LT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        lo = idx[i] < lo ? idx[i] : lo;
        hi = idx[i] > hi ? idx[i] : hi;
    }
    if (n == 0 || (lo >= 0 && hi < size)) return true;
    lt__fail(op, "index %d is out of bounds for dimension %d with size %lld (x %s, index %s)", lo < 0 ? lo : hi,
             dim, (long long)size, lt__shp(x), lt__shp(index));
    return false;
}

/* Instantiates MACRO(T) for an unsigned type of the element size: copies
 * do not care about the dtype, so one kernel serves them all. */
#define FOR_ELEMENT_SIZE(es, MACRO)                                                                             \
    switch (es) {                                                                                               \
    case 1: MACRO(uint8_t); break;                                                                              \
    case 4: MACRO(uint32_t); break;                                                                             \
    default: MACRO(uint64_t); break;                                                                            \
    }

/* ---------------- gather ---------------- */

/* Index (and output) elements are (o, i, q): o over the dimensions before
 * dim, i along dim, q over those after. In x the same element sits at
 * x_outer(o) + index * x_inner + x_col(q); those maps are plain
 * multiplications when index matches x outside dim (the usual case). */
typedef struct gather_geom {
    int dim, ndim;
    int64_t outer, along, inner; /* of index */
    int64_t x_along, x_inner;    /* x.shape[dim], x's stride of dim */
    bool outer_same, inner_same;
    int64_t ishape[LT_MAX_DIMS], xstride[LT_MAX_DIMS];
} gather_geom;

/* Offset in x of position p of index's dimensions [from, to). */
static int64_t gather_sub_offset(const gather_geom *g, int from, int to, int64_t p)
{
    int64_t off = 0;
    for (int d = to - 1; d >= from; d--) {
        off += p % g->ishape[d] * g->xstride[d];
        p /= g->ishape[d];
    }
    return off;
}

static int64_t gather_x_outer(const gather_geom *g, int64_t o)
{
    return g->outer_same ? o * g->x_along * g->x_inner : gather_sub_offset(g, 0, g->dim, o);
}

static int64_t gather_x_col(const gather_geom *g, int64_t q)
{
    return g->inner_same ? q : gather_sub_offset(g, g->dim + 1, g->ndim, q);
}

static void gather_geom_init(gather_geom *g, const lt_tensor *x, const lt_tensor *index, int dim)
{
    g->dim = dim;
    g->ndim = x->ndim > 0 ? x->ndim : 1;
    int64_t s = 1;
    for (int d = g->ndim - 1; d >= 0; d--) {
        g->xstride[d] = s;
        s *= x->shape[d];
        g->ishape[d] = index->shape[d];
    }
    g->outer = lt__numel(dim, index->shape);
    g->along = index->shape[dim];
    g->inner = lt__numel(g->ndim - dim - 1, index->shape + dim + 1);
    g->x_along = x->shape[dim];
    g->x_inner = g->xstride[dim];
    g->outer_same = g->outer == lt__numel(dim, x->shape);
    g->inner_same = g->inner == g->x_inner;
}

#define GATHER_ROWS(T)                                                                                          \
    do {                                                                                                        \
        const T *xs = x->data;                                                                                  \
        T *os = out->data;                                                                                      \
        _Pragma("omp parallel for schedule(static) if (out->numel > LT_PAR_MIN)")                               \
        for (int64_t r = 0; r < g->outer * g->along; r++) {                                                     \
            const int64_t xo = gather_x_outer(g, r / g->along);                                                 \
            const int32_t *ir = idx + r * g->inner;                                                             \
            T *orow = os + r * g->inner;                                                                        \
            if (g->inner_same)                                                                                  \
                for (int64_t q = 0; q < g->inner; q++) orow[q] = xs[xo + ir[q] * g->x_inner + q];               \
            else                                                                                                \
                for (int64_t q = 0; q < g->inner; q++)                                                          \
                    orow[q] = xs[xo + ir[q] * g->x_inner + gather_x_col(g, q)];                                 \
        }                                                                                                       \
    } while (0)

static void gather_forward(const gather_geom *g, const lt_tensor *x, const int32_t *idx, lt_tensor *out)
{
    FOR_ELEMENT_SIZE(lt_dtype_size(x->dtype), GATHER_ROWS)
}

static void gather_backward(lt_node *node)
{
    const gather_geom *g = node->saved;
    float *gx = lt__grad(node->inputs[0]);
    if (!gx) return;
    const int32_t *idx = lt_i32(node->inputs[1]);
    const float *go = node->out->grad;
    /* Work item (o, column block): elements with different (o, q) never
     * meet in x, and within an item rows are added in index order. */
    const int64_t blocks = (g->inner + SCATTER_BLOCK - 1) / SCATTER_BLOCK;
#pragma omp parallel for schedule(static) if (node->out->numel > LT_PAR_MIN)
    for (int64_t item = 0; item < g->outer * blocks; item++) {
        const int64_t o = item / blocks, q0 = item % blocks * SCATTER_BLOCK;
        const int64_t q1 = q0 + SCATTER_BLOCK < g->inner ? q0 + SCATTER_BLOCK : g->inner;
        const int64_t xo = gather_x_outer(g, o);
        for (int64_t i = 0; i < g->along; i++) {
            const int64_t e = (o * g->along + i) * g->inner;
            for (int64_t q = q0; q < q1; q++) gx[xo + idx[e + q] * g->x_inner + gather_x_col(g, q)] += go[e + q];
        }
    }
}

lt_tensor *lt_gather(lt_tensor *x, int dim, lt_tensor *index)
{
    LT__PROFILE_OP(LT_OP_GATHER);
    const char *name = "gather";
    if (!x || !index) return NULL;
    if (!lt__check_dtype(name, "index", index, LT_I32)) return NULL;
    if (index->ndim != x->ndim) {
        lt__fail(name, "index %s must have as many dimensions as x %s", lt__shp(index), lt__shp(x));
        return NULL;
    }
    int d;
    if (!lt__norm_dim(name, x->ndim, dim, &d)) return NULL;
    for (int k = 0; k < x->ndim; k++)
        if (k != d && index->shape[k] > x->shape[k]) {
            lt__fail(name, "index %s is larger than x %s in dimension %d (only dimension %d may be)", lt__shp(index),
                     lt__shp(x), k, d);
            return NULL;
        }
    if (!check_indices(name, x, index, d, x->shape[d])) return NULL;
    lt_tensor *out = lt__result(name, x->dtype, index->ndim, index->shape);
    if (!out) return NULL;
    gather_geom geom;
    gather_geom_init(&geom, x, index, d);
    if (out->numel > 0) gather_forward(&geom, x, lt_i32(index), out);
    lt_tensor *ins[2] = {x, index};
    if (lt__wants_grad(2, ins)) {
        lt_node *node = lt__record(out, LT_OP_GATHER, gather_backward, 2, ins, sizeof geom);
        if (!node) return NULL;
        memcpy(node->saved, &geom, sizeof geom);
    }
    return out;
}

/* ---------------- index_select ---------------- */

/* x viewed as [outer, x_along, inner], out as [outer, n_index, inner]. */
typedef struct index_select_geom {
    int64_t outer, x_along, n_index, inner;
} index_select_geom;

static void index_select_backward(lt_node *node)
{
    const index_select_geom *s = node->saved;
    float *gx = lt__grad(node->inputs[0]);
    if (!gx) return;
    const int32_t *idx = lt_i32(node->inputs[1]);
    const float *go = node->out->grad;
    /* index_add: work item (o, column block), rows added in index order, so
     * repeated indices sum deterministically. */
    const int64_t blocks = (s->inner + SCATTER_BLOCK - 1) / SCATTER_BLOCK;
#pragma omp parallel for schedule(static) if (node->out->numel > LT_PAR_MIN)
    for (int64_t item = 0; item < s->outer * blocks; item++) {
        const int64_t o = item / blocks, q0 = item % blocks * SCATTER_BLOCK;
        const int64_t len = q0 + SCATTER_BLOCK < s->inner ? SCATTER_BLOCK : s->inner - q0;
        for (int64_t k = 0; k < s->n_index; k++) {
            float *dst = gx + (o * s->x_along + idx[k]) * s->inner + q0;
            const float *src = go + (o * s->n_index + k) * s->inner + q0;
            for (int64_t q = 0; q < len; q++) dst[q] += src[q];
        }
    }
}

lt_tensor *lt_index_select(lt_tensor *x, int dim, lt_tensor *index)
{
    LT__PROFILE_OP(LT_OP_INDEX_SELECT);
    const char *name = "index_select";
    if (!x || !index) return NULL;
    if (!lt__check_dtype(name, "index", index, LT_I32)) return NULL;
    if (index->ndim > 1) {
        lt__fail(name, "index %s must be 1-d (x %s)", lt__shp(index), lt__shp(x));
        return NULL;
    }
    int d;
    if (!lt__norm_dim(name, x->ndim, dim, &d)) return NULL;
    if (x->ndim == 0 && index->numel != 1) {
        lt__fail(name, "index %s into a 0-d x %s must hold exactly one value", lt__shp(index), lt__shp(x));
        return NULL;
    }
    if (!check_indices(name, x, index, d, x->shape[d])) return NULL;
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    if (x->ndim > 0) shape[d] = index->numel;
    lt_tensor *out = lt__result(name, x->dtype, x->ndim, shape);
    if (!out) return NULL;
    index_select_geom s = {
        .outer = lt__numel(d, x->shape),
        .x_along = x->shape[d],
        .n_index = index->numel,
        .inner = x->ndim > 0 ? lt__numel(x->ndim - d - 1, x->shape + d + 1) : 1,
    };
    const size_t row_bytes = (size_t)s.inner * lt_dtype_size(x->dtype);
    const int32_t *idx = lt_i32(index);
    const char *xs = x->data;
    char *os = out->data;
#pragma omp parallel for schedule(static) if (out->numel > LT_PAR_MIN)
    for (int64_t r = 0; r < s.outer * s.n_index; r++) {
        const int64_t o = r / s.n_index, k = r % s.n_index;
        memcpy(os + (size_t)r * row_bytes, xs + (size_t)(o * s.x_along + idx[k]) * row_bytes, row_bytes);
    }
    lt_tensor *ins[2] = {x, index};
    if (lt__wants_grad(2, ins)) {
        lt_node *node = lt__record(out, LT_OP_INDEX_SELECT, index_select_backward, 2, ins, sizeof s);
        if (!node) return NULL;
        memcpy(node->saved, &s, sizeof s);
    }
    return out;
}
