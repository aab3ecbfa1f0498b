/* Shape ops. reshape / flatten / squeeze / unsqueeze are views: they share the
 * input's storage and record a node whose backward adds the view's gradient
 * into the input's (LT_OP_RESHAPE). permute / transpose copy (tensors are
 * always contiguous); their kernel first merges dimensions that stay adjacent,
 * then either copies whole rows (innermost dimension kept) or runs a
 * cache-blocked 2-d transpose between the output's innermost dimension and the
 * input's, threaded over tiles. Any dtype is permuted; only float32 has
 * gradients. */
#include "../internal.h"

#include <string.h>

/* ---------------- views ---------------- */

static void view_backward(lt_node *node)
{
    /* The view's gradient is the input's: pass the buffer on when it can. */
    if (lt__grad_share(node->inputs[0], node->out->grad)) return;
    float *gi = lt__grad(node->inputs[0]);
    if (!gi) return;
    const float *g = node->out->grad;
    const int64_t n = node->out->numel;
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t i = 0; i < n; i++) gi[i] += g[i];
}

/* View of x with a new shape of the same numel, on the tape when needed. */
static lt_tensor *make_view(const char *op, lt_tensor *x, int ndim, const int64_t *shape)
{
    lt_tensor *v = lt__view(op, x, ndim, shape);
    if (!v) return NULL;
    if (lt__wants_grad(1, &x) && !lt__record(v, LT_OP_RESHAPE, view_backward, 1, &x, 0)) return NULL;
    return v;
}

lt_tensor *lt_reshape(lt_tensor *x, int ndim, const int64_t *shape)
{
    static const char op[] = "reshape";
    if (!x) return NULL;
    if (ndim < 0 || ndim > LT_MAX_DIMS)
        return lt__fail(op, "cannot reshape %s into %d dimensions (at most %d)", lt__shp(x), ndim, LT_MAX_DIMS),
               NULL;
    if (ndim > 0 && !shape) return lt__fail(op, "shape is NULL for %d dimensions (input %s)", ndim, lt__shp(x)), NULL;
    int64_t dims[LT_MAX_DIMS];
    int inferred = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = shape[i];
        if (shape[i] == -1) {
            if (inferred >= 0)
                return lt__fail(op, "cannot reshape %s into %s: only one dimension can be -1", lt__shp(x),
                                lt__shape_dims(ndim, shape)),
                       NULL;
            inferred = i;
        } else if (shape[i] < 0 || __builtin_mul_overflow(known, shape[i], &known)) {
            return lt__fail(op, "cannot reshape %s into %s: invalid size %lld at dimension %d", lt__shp(x),
                            lt__shape_dims(ndim, shape), (long long)shape[i], i),
                   NULL;
        }
    }
    if (inferred >= 0) {
        if (known == 0)
            return lt__fail(op, "cannot reshape %s into %s: with 0 elements the -1 dimension is ambiguous",
                            lt__shp(x), lt__shape_dims(ndim, shape)),
                   NULL;
        dims[inferred] = x->numel / known;
    }
    if (lt__numel(ndim, dims) != x->numel)
        return lt__fail(op, "cannot reshape %s (%lld elements) into %s", lt__shp(x), (long long)x->numel,
                        lt__shape_dims(ndim, shape)),
               NULL;
    return make_view(op, x, ndim, dims);
}

lt_tensor *lt_flatten(lt_tensor *x, int start_dim, int end_dim)
{
    static const char op[] = "flatten";
    if (!x) return NULL;
    int start, end;
    if (!lt__norm_dim(op, x->ndim, start_dim, &start) || !lt__norm_dim(op, x->ndim, end_dim, &end)) return NULL;
    if (start > end)
        return lt__fail(op, "start_dim %d comes after end_dim %d for input %s", start_dim, end_dim, lt__shp(x)),
               NULL;
    if (x->ndim == 0) { /* PyTorch: a 0-d tensor flattens to [1] */
        const int64_t one = 1;
        return make_view(op, x, 1, &one);
    }
    int64_t dims[LT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < start; i++) dims[nd++] = x->shape[i];
    dims[nd] = 1;
    for (int i = start; i <= end; i++) dims[nd] *= x->shape[i];
    nd++;
    for (int i = end + 1; i < x->ndim; i++) dims[nd++] = x->shape[i];
    return make_view(op, x, nd, dims);
}

lt_tensor *lt_squeeze(lt_tensor *x, int dim)
{
    static const char op[] = "squeeze";
    if (!x) return NULL;
    int d;
    if (!lt__norm_dim(op, x->ndim, dim, &d)) return NULL;
    if (x->ndim == 0 || x->shape[d] != 1) return make_view(op, x, x->ndim, x->shape); /* PyTorch: no-op */
    int64_t dims[LT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d) dims[nd++] = x->shape[i];
    return make_view(op, x, nd, dims);
}

lt_tensor *lt_unsqueeze(lt_tensor *x, int dim)
{
    static const char op[] = "unsqueeze";
    if (!x) return NULL;
    if (x->ndim >= LT_MAX_DIMS)
        return lt__fail(op, "input %s already has the maximum of %d dimensions", lt__shp(x), LT_MAX_DIMS), NULL;
    if (dim < -(x->ndim + 1) || dim > x->ndim)
        return lt__fail(op, "dim %d out of range [%d, %d] for input %s", dim, -(x->ndim + 1), x->ndim,
                        lt__shp(x)),
               NULL;
    const int d = dim < 0 ? dim + x->ndim + 1 : dim;
    int64_t dims[LT_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i == d) dims[nd++] = 1;
        dims[nd++] = x->shape[i];
    }
    if (d == x->ndim) dims[nd++] = 1;
    return make_view(op, x, nd, dims);
}

/* ---------------- permute kernel ---------------- */

/* Output elements per tile side: 32 x 32 floats = 4 KiB read + 4 KiB written. */
#define TILE 32
/* Elements per task when copying rows. */
#define ROWS_TASK_ELEMS 16384

/* dst[b*dst_b + a] (=|+=) src[a*src_a + b] for b < nb, a < na. Every
 * dst element is written once, by one task: no races, same bits whatever
 * the thread count. */
typedef void (*tile_fn)(void *restrict dst, const void *restrict src, int64_t nb, int64_t na, int64_t dst_b,
                        int64_t src_a);
/* dst[j] (=|+=) src[j] for j < n. */
typedef void (*row_fn)(void *restrict dst, const void *restrict src, int64_t n);

#define SET(d, s) ((d) = (s))
#define ADD(d, s) ((d) += (s))
#define DEFINE_SCALAR_TILE(NAME, T, STMT)                                                                        \
    static void NAME(void *restrict dst_, const void *restrict src_, int64_t nb, int64_t na, int64_t dst_b,     \
                     int64_t src_a)                                                                             \
    {                                                                                                           \
        T *restrict dst = dst_;                                                                                 \
        const T *restrict src = src_;                                                                           \
        for (int64_t b = 0; b < nb; b++)                                                                        \
            for (int64_t a = 0; a < na; a++) STMT(dst[b * dst_b + a], src[a * src_a + b]);                      \
    }
#define DEFINE_ROW(NAME, T, STMT)                                                                                \
    static void NAME(void *restrict dst_, const void *restrict src_, int64_t n)                                 \
    {                                                                                                           \
        T *restrict dst = dst_;                                                                                 \
        const T *restrict src = src_;                                                                           \
        for (int64_t j = 0; j < n; j++) STMT(dst[j], src[j]);                                                   \
    }

DEFINE_SCALAR_TILE(tile_copy8, uint8_t, SET)
DEFINE_SCALAR_TILE(tile_copy64, uint64_t, SET)
DEFINE_SCALAR_TILE(scalar_tile_copy32, uint32_t, SET)
DEFINE_SCALAR_TILE(scalar_tile_add_f32, float, ADD)
DEFINE_ROW(row_copy8, uint8_t, SET)
DEFINE_ROW(row_copy32, uint32_t, SET)
DEFINE_ROW(row_copy64, uint64_t, SET)
DEFINE_ROW(row_add_f32, float, ADD)

#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define HAVE_SHUFFLEVECTOR 1
#endif
#endif

#ifdef HAVE_SHUFFLEVECTOR
/* 32-bit elements go through 8x8 register transposes: a scalar transpose
 * moves about one element per cycle, the register one several. */
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));

/* r[i][j] -> r[j][i]: interleave 32-bit, then 64-bit pairs, then 128-bit halves. */
static inline void transpose8(v8u r[8])
{
    v8u t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[j + 4] = __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* One 8x8 block: dst[j*dst_b + i] (=|+=) src[i*src_a + j]. */
static inline __attribute__((always_inline)) void block8(uint32_t *restrict dst, const uint32_t *restrict src,
                                                         int64_t dst_b, int64_t src_a, bool add)
{
    v8u r[8];
    for (int i = 0; i < 8; i++) memcpy(&r[i], src + i * src_a, sizeof r[i]);
    transpose8(r);
    for (int j = 0; j < 8; j++) {
        if (add) {
            v8f d;
            memcpy(&d, dst + j * dst_b, sizeof d);
            d += (v8f)r[j];
            memcpy(dst + j * dst_b, &d, sizeof d);
        } else {
            memcpy(dst + j * dst_b, &r[j], sizeof r[j]);
        }
    }
}

static inline __attribute__((always_inline)) void tile32(void *restrict dst_, const void *restrict src_, int64_t nb,
                                                         int64_t na, int64_t dst_b, int64_t src_a, bool add)
{
    uint32_t *restrict dst = dst_;
    const uint32_t *restrict src = src_;
    const int64_t nb8 = nb & ~(int64_t)7, na8 = na & ~(int64_t)7;
    for (int64_t b = 0; b < nb8; b += 8)
        for (int64_t a = 0; a < na8; a += 8) block8(dst + b * dst_b + a, src + a * src_a + b, dst_b, src_a, add);
    /* ragged edges: the a tail of every row, then the b tail */
    void (*scalar)(void *restrict, const void *restrict, int64_t, int64_t, int64_t, int64_t) =
        add ? scalar_tile_add_f32 : scalar_tile_copy32;
    if (na8 < na) scalar(dst + na8, src + na8 * src_a, nb8, na - na8, dst_b, src_a);
    if (nb8 < nb) scalar(dst + nb8 * dst_b, src + nb8, nb - nb8, na, dst_b, src_a);
}

static void tile_copy32(void *restrict dst, const void *restrict src, int64_t nb, int64_t na, int64_t dst_b,
                        int64_t src_a)
{
    tile32(dst, src, nb, na, dst_b, src_a, false);
}

static void tile_add_f32(void *restrict dst, const void *restrict src, int64_t nb, int64_t na, int64_t dst_b,
                         int64_t src_a)
{
    tile32(dst, src, nb, na, dst_b, src_a, true);
}
#else
#define tile_copy32 scalar_tile_copy32
#define tile_add_f32 scalar_tile_add_f32
#endif

typedef struct mover {
    tile_fn tile;
    row_fn row;
    size_t esize;
} mover;

static mover copy_mover(lt_dtype dtype)
{
    switch (lt_dtype_size(dtype)) {
    case 1: return (mover){tile_copy8, row_copy8, 1};
    case 8: return (mover){tile_copy64, row_copy64, 8};
    default: return (mover){tile_copy32, row_copy32, 4};
    }
}

static const mover add_mover = {tile_add_f32, row_add_f32, 4};

/* A permutation reduced to its essentials: output dims of size 1 dropped and
 * runs of dims that are adjacent in both tensors merged into one. */
typedef struct perm_plan {
    int nd;
    int64_t size[LT_MAX_DIMS];    /* output dims, outermost first */
    int64_t src[LT_MAX_DIMS];     /* source stride of each output dim */
    int64_t dst[LT_MAX_DIMS];     /* destination (row-major) stride */
    int64_t numel;
} perm_plan;

/* Plan for out[i0..] = in[...] with out.shape[i] = in_shape[perm[i]]. */
static void plan_permute(int ndim, const int64_t *in_shape, const int *perm, perm_plan *p)
{
    int64_t in_stride[LT_MAX_DIMS];
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        in_stride[d] = s;
        s *= in_shape[d];
    }
    p->numel = s;
    p->nd = 0;
    for (int i = 0; i < ndim; i++) {
        const int64_t n = in_shape[perm[i]], st = in_stride[perm[i]];
        if (n == 1) continue;
        if (p->nd > 0 && p->src[p->nd - 1] == st * n) { /* continues the previous dim in the source too */
            p->size[p->nd - 1] *= n;
            p->src[p->nd - 1] = st;
        } else {
            p->size[p->nd] = n;
            p->src[p->nd] = st;
            p->nd++;
        }
    }
    s = 1;
    for (int i = p->nd - 1; i >= 0; i--) {
        p->dst[i] = s;
        s *= p->size[i];
    }
}

/* Source and destination offsets of flat index `flat` over the listed dims. */
static void offsets_of(const perm_plan *p, const int *dims, int n_dims, int64_t flat, int64_t *src_off,
                       int64_t *dst_off)
{
    int64_t so = 0, dof = 0;
    for (int k = n_dims - 1; k >= 0; k--) {
        const int d = dims[k];
        const int64_t i = flat % p->size[d];
        flat /= p->size[d];
        so += i * p->src[d];
        dof += i * p->dst[d];
    }
    *src_off = so;
    *dst_off = dof;
}

/* The innermost dimension is kept: copy whole rows, walking the outer dims
 * with an odometer inside each task. */
static void permute_rows(const perm_plan *p, const char *src, char *dst, mover mv)
{
    const int last = p->nd - 1;
    const int64_t len = p->size[last], rows = p->numel / len;
    const int64_t per_task = len >= ROWS_TASK_ELEMS ? 1 : ROWS_TASK_ELEMS / len;
    const int64_t n_tasks = (rows + per_task - 1) / per_task;
    int outer_dims[LT_MAX_DIMS];
    for (int d = 0; d < last; d++) outer_dims[d] = d;
#pragma omp parallel for schedule(static) if (p->numel > LT_PAR_MIN)
    for (int64_t t = 0; t < n_tasks; t++) {
        const int64_t r0 = t * per_task, r1 = r0 + per_task < rows ? r0 + per_task : rows;
        int64_t idx[LT_MAX_DIMS], so, dof, rest = r0;
        offsets_of(p, outer_dims, last, r0, &so, &dof);
        for (int d = last - 1; d >= 0; d--) {
            idx[d] = rest % p->size[d];
            rest /= p->size[d];
        }
        for (int64_t r = r0; r < r1; r++) {
            mv.row(dst + (size_t)(r * len) * mv.esize, src + (size_t)so * mv.esize, len);
            for (int d = last - 1; d >= 0; d--) { /* odometer step */
                so += p->src[d];
                if (++idx[d] < p->size[d]) break;
                so -= p->src[d] * p->size[d];
                idx[d] = 0;
            }
        }
    }
}

/* The innermost dimension changes: 2-d tiles between the output's innermost
 * dim `a` and the output dim `b` that is innermost in the source. One task
 * per (outer index, b tile, a tile). */
static void permute_tiles(const perm_plan *p, const char *src, char *dst, mover mv)
{
    const int a = p->nd - 1;
    int b = 0;
    while (p->src[b] != 1) b++;
    int outer_dims[LT_MAX_DIMS], n_outer_dims = 0;
    for (int d = 0; d < p->nd; d++)
        if (d != a && d != b) outer_dims[n_outer_dims++] = d;
    const int64_t na = p->size[a], nb = p->size[b];
    const int64_t src_a = p->src[a], dst_b = p->dst[b];
    /* Keep tiles near TILE*TILE elements when the b side is short (e.g. 3 channels). */
    const int64_t tb = nb < TILE ? nb : TILE, ta = TILE * TILE / tb;
    const int64_t n_tb = (nb + tb - 1) / tb, n_ta = (na + ta - 1) / ta;
    const int64_t n_outer = p->numel / (na * nb), n_tasks = n_outer * n_tb * n_ta;
#pragma omp parallel for schedule(static) if (p->numel > LT_PAR_MIN)
    for (int64_t t = 0; t < n_tasks; t++) {
        const int64_t ia = t % n_ta, ib = (t / n_ta) % n_tb, o = t / (n_ta * n_tb);
        int64_t so, dof;
        offsets_of(p, outer_dims, n_outer_dims, o, &so, &dof);
        const int64_t a0 = ia * ta, b0 = ib * tb;
        const int64_t la = na - a0 < ta ? na - a0 : ta, lb = nb - b0 < tb ? nb - b0 : tb;
        so += a0 * src_a + b0;
        dof += b0 * dst_b + a0;
        mv.tile(dst + (size_t)dof * mv.esize, src + (size_t)so * mv.esize, lb, la, dst_b, src_a);
    }
}

/* dst (the permuted shape) (=|+=) src permuted by perm. */
static void permute_run(int ndim, const int64_t *src_shape, const int *perm, const void *src, void *dst, mover mv)
{
    perm_plan p;
    plan_permute(ndim, src_shape, perm, &p);
    if (p.numel == 0) return;
    if (p.nd == 0) { /* a single element */
        mv.row(dst, src, 1);
        return;
    }
    if (p.src[p.nd - 1] == 1)
        permute_rows(&p, src, dst, mv);
    else
        permute_tiles(&p, src, dst, mv);
}

/* ---------------- permute / transpose ---------------- */

typedef struct permute_saved {
    int inverse[LT_MAX_DIMS];
} permute_saved;

static void permute_backward(lt_node *node)
{
    lt_tensor *in = node->inputs[0];
    float *gi = lt__grad(in);
    if (!gi) return;
    const permute_saved *s = node->saved;
    permute_run(node->out->ndim, node->out->shape, s->inverse, node->out->grad, gi, add_mover);
}

static lt_tensor *permute_impl(const char *op, lt_tensor *x, const int *perm)
{
    int64_t shape[LT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
    lt_tensor *out = lt__result(op, x->dtype, x->ndim, shape);
    if (!out) return NULL;
    permute_run(x->ndim, x->shape, perm, x->data, out->data, copy_mover(x->dtype));
    if (x->dtype == LT_F32 && lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_PERMUTE, permute_backward, 1, &x, sizeof(permute_saved));
        if (!node) return NULL;
        permute_saved *s = node->saved;
        for (int i = 0; i < x->ndim; i++) s->inverse[perm[i]] = i;
    }
    return out;
}

lt_tensor *lt_permute(lt_tensor *x, const int *dims)
{
    LT__PROFILE_OP(LT_OP_PERMUTE);
    static const char op[] = "permute";
    if (!x) return NULL;
    if (x->ndim > 0 && !dims) return lt__fail(op, "dims is NULL for input %s", lt__shp(x)), NULL;
    int perm[LT_MAX_DIMS];
    bool seen[LT_MAX_DIMS] = {false};
    for (int i = 0; i < x->ndim; i++) {
        const int d = dims[i] < 0 ? dims[i] + x->ndim : dims[i];
        if (d < 0 || d >= x->ndim || seen[d]) {
            int64_t given[LT_MAX_DIMS];
            for (int k = 0; k < x->ndim; k++) given[k] = dims[k];
            return lt__fail(op, "dims %s are not a permutation of the %d dimensions of input %s",
                            lt__shape_dims(x->ndim, given), x->ndim, lt__shp(x)),
                   NULL;
        }
        seen[d] = true;
        perm[i] = d;
    }
    return permute_impl(op, x, perm);
}

lt_tensor *lt_transpose(lt_tensor *x, int dim0, int dim1)
{
    static const char op[] = "transpose";
    if (!x) return NULL;
    int d0, d1;
    if (!lt__norm_dim(op, x->ndim, dim0, &d0) || !lt__norm_dim(op, x->ndim, dim1, &d1)) return NULL;
    int perm[LT_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    if (x->ndim > 0) {
        perm[d0] = d1;
        perm[d1] = d0;
    }
    return permute_impl(op, x, perm);
}
