/* Slicing, concatenation and splitting along one dimension.
 *
 * All three see a tensor as [outer, size, inner] around `dim`, so every
 * transfer is a set of rows: contiguous runs of `inner` (or more) elements.
 * Rows are copied by one parallel kernel that also cuts long rows into
 * chunks, so the hot case — channel concat of NCHW with a batch of 1 or 2 —
 * still uses every thread. A slice whose elements are one contiguous block
 * (all dims before `dim` are 1, step 1) is a view; split builds its pieces
 * as slices. Forward works for every dtype; float32 records gradients. */
#include "../internal.h"

#include <string.h>

/* Elements per task of the row kernel (large rows are split). */
#define CHUNK 16384

/* dst[j*dst_step] (=|+=) src[j*src_step] for j < n. */
typedef void (*run_fn)(void *restrict dst, int64_t dst_step, const void *restrict src, int64_t src_step,
                       int64_t n);

#define SET(d, s) ((d) = (s))
#define ADD(d, s) ((d) += (s))
#define DEFINE_RUN(NAME, T, STMT)                                                                               \
    static void NAME(void *restrict dst_, int64_t dst_step, const void *restrict src_, int64_t src_step,       \
                     int64_t n)                                                                                \
    {                                                                                                          \
        T *restrict dst = dst_;                                                                                \
        const T *restrict src = src_;                                                                          \
        if (dst_step == 1 && src_step == 1)                                                                    \
            for (int64_t j = 0; j < n; j++) STMT(dst[j], src[j]);                                              \
        else if (dst_step == 1 && src_step == 2) /* x[..., ::2]: a stride the compiler can vectorise */        \
            for (int64_t j = 0; j < n; j++) STMT(dst[j], src[2 * j]);                                          \
        else if (dst_step == 2 && src_step == 1)                                                               \
            for (int64_t j = 0; j < n; j++) STMT(dst[2 * j], src[j]);                                          \
        else                                                                                                   \
            for (int64_t j = 0; j < n; j++) STMT(dst[j * dst_step], src[j * src_step]);                        \
    }

DEFINE_RUN(run_copy8, uint8_t, SET)
DEFINE_RUN(run_copy32, uint32_t, SET)
DEFINE_RUN(run_copy64, uint64_t, SET)
DEFINE_RUN(run_add_f32, float, ADD)

static run_fn copy_run(lt_dtype dtype)
{
    switch (lt_dtype_size(dtype)) {
    case 1: return run_copy8;
    case 8: return run_copy64;
    default: return run_copy32;
    }
}

/* Rows indexed by (o, m): row (o, m) holds `len` elements at
 * src + o*src_o + m*src_m (element step src_e) and goes to
 * dst + o*dst_o + m*dst_m (step dst_e). Offsets are in elements. */
typedef struct rows {
    int64_t n_o, n_m, len;
    int64_t src_o, src_m, src_e;
    int64_t dst_o, dst_m, dst_e;
} rows;

/* Moves every row with `fn`; tasks are (row, chunk of CHUNK elements). Each
 * destination element is written by exactly one task: deterministic. */
static void move_rows(const rows *r, char *dst, const char *src, size_t esize, run_fn fn)
{
    const int64_t n_rows = r->n_o * r->n_m;
    if (n_rows == 0 || r->len == 0) return;
    const int64_t chunks = (r->len + CHUNK - 1) / CHUNK, n_tasks = n_rows * chunks;
    const int64_t total = n_rows * r->len;
#pragma omp parallel for schedule(static) if (total > LT_PAR_MIN)
    for (int64_t t = 0; t < n_tasks; t++) {
        const int64_t row = t / chunks, c = t % chunks;
        const int64_t o = row / r->n_m, m = row % r->n_m;
        const int64_t j0 = c * CHUNK, n = r->len - j0 < CHUNK ? r->len - j0 : CHUNK;
        const int64_t so = o * r->src_o + m * r->src_m + j0 * r->src_e;
        const int64_t dof = o * r->dst_o + m * r->dst_m + j0 * r->dst_e;
        fn(dst + (size_t)dof * esize, r->dst_e, src + (size_t)so * esize, r->src_e, n);
    }
}

/* [outer, size, inner] around dim d. */
static void split_dims(const lt_tensor *x, int d, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < d; i++) *outer *= x->shape[i];
    for (int i = d + 1; i < x->ndim; i++) *inner *= x->shape[i];
}

/* ---------------- slice ---------------- */

typedef struct slice_saved {
    int dim;
    int64_t start, step;
} slice_saved;

/* The rows of x[..., start:start+len*step:step, ...] relative to the slice's
 * first element, with x as the source (or as the destination, with swap). */
static rows slice_rows(const lt_tensor *x, int d, int64_t len, int64_t step, bool swap)
{
    int64_t outer, inner;
    split_dims(x, d, &outer, &inner);
    const int64_t size = x->shape[d];
    rows r;
    if (step == 1) { /* one run of len*inner per outer index */
        r = (rows){outer, 1, len * inner, size * inner, 0, 1, len * inner, 0, 1};
    } else if (inner == 1) { /* strided run along the last dim */
        r = (rows){outer, 1, len, size, 0, step, len, 0, 1};
    } else { /* one run of inner per (outer, slice index) */
        r = (rows){outer, len, inner, size * inner, step * inner, 1, len * inner, inner, 1};
    }
    if (swap) {
        rows s = r;
        r.src_o = s.dst_o, r.src_m = s.dst_m, r.src_e = s.dst_e;
        r.dst_o = s.src_o, r.dst_m = s.src_m, r.dst_e = s.src_e;
    }
    return r;
}

static void slice_backward(lt_node *node)
{
    lt_tensor *in = node->inputs[0], *out = node->out;
    float *gi = lt__grad(in);
    if (!gi) return;
    const slice_saved *s = node->saved;
    rows r = slice_rows(in, s->dim, out->shape[s->dim], s->step, true);
    int64_t inner, outer;
    split_dims(in, s->dim, &outer, &inner);
    move_rows(&r, (char *)(gi + s->start * inner), (const char *)out->grad, sizeof(float), run_add_f32);
}

/* Python slice bounds: negative counts from the end, then clamp to [0, size]. */
static int64_t clamp_bound(int64_t v, int64_t size)
{
    if (v < 0) v += size;
    return v < 0 ? 0 : (v > size ? size : v);
}

/* True when the slice is one contiguous block of x. */
static bool slice_is_block(const lt_tensor *x, int d, int64_t len, int64_t step)
{
    if (step != 1 && len > 1) return false;
    for (int i = 0; i < d; i++)
        if (x->shape[i] != 1) return len == x->shape[d]; /* the whole dim: identity */
    return true;
}

/* lt__view keeps numel, so take a full view and narrow its header. */
static lt_tensor *slice_view(const char *op, lt_tensor *x, int d, int64_t start, int64_t len)
{
    lt_tensor *v = lt__view(op, x, x->ndim, x->shape);
    if (!v) return NULL;
    int64_t outer, inner;
    split_dims(x, d, &outer, &inner);
    v->shape[d] = len;
    v->numel = outer * len * inner;
    v->data = (char *)x->data + (size_t)(start * inner) * lt_dtype_size(x->dtype);
    return v;
}

static lt_tensor *slice_impl(const char *op, lt_tensor *x, int d, int64_t start, int64_t len, int64_t step)
{
    lt_tensor *out;
    if (slice_is_block(x, d, len, step) && x->numel > 0) {
        out = slice_view(op, x, d, start, len);
        if (!out) return NULL;
    } else {
        int64_t shape[LT_MAX_DIMS];
        memcpy(shape, x->shape, sizeof shape);
        shape[d] = len;
        out = lt__result(op, x->dtype, x->ndim, shape);
        if (!out) return NULL;
        int64_t outer, inner;
        split_dims(x, d, &outer, &inner);
        rows r = slice_rows(x, d, len, step, false);
        const size_t es = lt_dtype_size(x->dtype);
        move_rows(&r, out->data, (const char *)x->data + (size_t)(start * inner) * es, es, copy_run(x->dtype));
    }
    if (x->dtype == LT_F32 && lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_SLICE, slice_backward, 1, &x, sizeof(slice_saved));
        if (!node) return NULL;
        slice_saved *s = node->saved;
        s->dim = d;
        s->start = start;
        s->step = step;
    }
    return out;
}

lt_tensor *lt_slice(lt_tensor *x, int dim, int64_t start, int64_t end, int64_t step)
{
    LT__PROFILE_OP(LT_OP_SLICE);
    static const char op[] = "slice";
    if (!x) return NULL;
    if (x->ndim == 0) return lt__fail(op, "cannot slice the 0-d tensor %s", lt__shp(x)), NULL;
    int d;
    if (!lt__norm_dim(op, x->ndim, dim, &d)) return NULL;
    if (step < 1)
        return lt__fail(op, "step must be >= 1, got %lld (input %s, dim %d)", (long long)step, lt__shp(x), dim),
               NULL;
    const int64_t size = x->shape[d];
    start = clamp_bound(start, size);
    end = clamp_bound(end, size);
    const int64_t len = end > start ? (end - start + step - 1) / step : 0;
    return slice_impl(op, x, d, start, len, step);
}

int lt_split(lt_tensor *x, const int64_t *sizes, int n, int dim, lt_tensor **out)
{
    LT__PROFILE_OP(LT_OP_SLICE);
    static const char op[] = "split";
    if (!x) return -1;
    if (n < 1 || !sizes || !out)
        return lt__fail(op, "needs n >= 1 sizes and an output array, got n=%d (input %s)", n, lt__shp(x));
    if (x->ndim == 0) return lt__fail(op, "cannot split the 0-d tensor %s", lt__shp(x));
    int d;
    if (!lt__norm_dim(op, x->ndim, dim, &d)) return -1;
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0)
            return lt__fail(op, "size %lld of piece %d is negative (input %s, dim %d)", (long long)sizes[i], i,
                            lt__shp(x), dim);
        sum += sizes[i];
    }
    if (sum != x->shape[d])
        return lt__fail(op, "sizes %s sum to %lld but dim %d of input %s is %lld", lt__shape_dims(n, sizes),
                        (long long)sum, dim, lt__shp(x), (long long)x->shape[d]);
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        out[i] = slice_impl(op, x, d, start, sizes[i], 1);
        if (!out[i]) return -1;
        start += sizes[i];
    }
    return 0;
}

/* ---------------- concat ---------------- */

typedef struct concat_saved {
    int dim;
} concat_saved;

/* Rows of input k (size_k along dim) inside the concatenated output. */
static rows concat_rows(int64_t outer, int64_t inner, int64_t size_k, int64_t total, bool to_output)
{
    rows r = {outer, 1, size_k * inner, size_k * inner, 0, 1, total * inner, 0, 1};
    if (!to_output) {
        r.src_o = total * inner;
        r.dst_o = size_k * inner;
    }
    return r;
}

static void concat_backward(lt_node *node)
{
    const concat_saved *s = node->saved;
    lt_tensor *out = node->out;
    int64_t outer, inner;
    split_dims(out, s->dim, &outer, &inner);
    const int64_t total = out->shape[s->dim];
    int64_t offset = 0;
    /* One input at a time: the same tensor may appear twice in the list. */
    for (int k = 0; k < node->n_inputs; k++) {
        lt_tensor *in = node->inputs[k];
        const int64_t size_k = in->shape[s->dim];
        bool fresh;
        float *gi = lt__grad_begin(in, &fresh);
        if (gi) { /* every element of gi is written: a fresh one is copied into */
            rows r = concat_rows(outer, inner, size_k, total, false);
            move_rows(&r, (char *)gi, (const char *)(out->grad + offset * inner), sizeof(float),
                      fresh ? run_copy32 : run_add_f32);
        }
        offset += size_k;
    }
}

static bool concat_check(const char *op, lt_tensor *const *xs, int n, int dim, int *d)
{
    const lt_tensor *x0 = xs[0];
    if (x0->ndim == 0) return lt__fail(op, "tensor 0 %s is 0-d and cannot be concatenated", lt__shp(x0)), false;
    if (!lt__norm_dim(op, x0->ndim, dim, d)) return false;
    for (int k = 1; k < n; k++) {
        const lt_tensor *x = xs[k];
        if (x->dtype != x0->dtype)
            return lt__fail(op, "tensor %d %s is %s but tensor 0 %s is %s", k, lt__shp(x), lt_dtype_name(x->dtype),
                            lt__shp(x0), lt_dtype_name(x0->dtype)),
                   false;
        bool same = x->ndim == x0->ndim;
        for (int i = 0; same && i < x0->ndim; i++) same = i == *d || x->shape[i] == x0->shape[i];
        if (!same)
            return lt__fail(op, "tensor %d %s does not match tensor 0 %s outside dim %d", k, lt__shp(x),
                            lt__shp(x0), dim),
                   false;
    }
    return true;
}

lt_tensor *lt_concat(lt_tensor *const *xs, int n, int dim)
{
    LT__PROFILE_OP(LT_OP_CONCAT);
    static const char op[] = "concat";
    if (n < 1 || !xs) return lt__fail(op, "needs at least one tensor, got n=%d", n), NULL;
    for (int k = 0; k < n; k++)
        if (!xs[k]) return NULL;
    int d;
    if (!concat_check(op, xs, n, dim, &d)) return NULL;
    const lt_tensor *x0 = xs[0];
    int64_t shape[LT_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[d] = 0;
    for (int k = 0; k < n; k++) shape[d] += xs[k]->shape[d];
    lt_tensor *out = lt__result(op, x0->dtype, x0->ndim, shape);
    if (!out) return NULL;

    int64_t outer, inner;
    split_dims(out, d, &outer, &inner);
    const size_t es = lt_dtype_size(x0->dtype);
    const run_fn copy = copy_run(x0->dtype);
    int64_t offset = 0;
    for (int k = 0; k < n; k++) {
        rows r = concat_rows(outer, inner, xs[k]->shape[d], shape[d], true);
        move_rows(&r, (char *)out->data + (size_t)(offset * inner) * es, xs[k]->data, es, copy);
        offset += xs[k]->shape[d];
    }
    if (x0->dtype == LT_F32 && lt__wants_grad(n, xs)) {
        lt_node *node = lt__record(out, LT_OP_CONCAT, concat_backward, n, xs, sizeof(concat_saved));
        if (!node) return NULL;
        ((concat_saved *)node->saved)->dim = d;
    }
    return out;
}
