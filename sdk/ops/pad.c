/* F.pad: constant (negative amounts crop), reflect and replicate padding of
 * the trailing dimensions, in PyTorch's order (last dim first) and with its
 * limits. Every padded dimension gets a table from output index to input
 * index (-1: the constant), so one row kernel serves all modes: fill / copy
 * the borders through the table and memcpy the middle of each row.
 * Backward adds each output gradient into the input element it was read from;
 * reflect and replicate read some inputs several times, so their backward
 * threads over the unpadded leading dims (N*C), where no two tasks touch the
 * same input element. Forward works for every dtype; float32 records
 * gradients. */
#include "../internal.h"

#include <math.h>
#include <string.h>

/* Output elements per forward task. */
#define ROWS_TASK_ELEMS 16384

typedef struct pad_plan {
    int k;                          /* padded trailing dims (>= 1) */
    lt_pad_mode mode;
    int64_t outer;                  /* product of the unpadded leading dims */
    int64_t in[LT_MAX_DIMS];        /* padded dims of the input, outermost first */
    int64_t out[LT_MAX_DIMS];       /* and of the output */
    int64_t in_stride[LT_MAX_DIMS]; /* input stride of each padded dim (elements) */
    int64_t *map[LT_MAX_DIMS];      /* output index -> input index, or -1 */
    int64_t in_block, out_block;    /* elements per outer index */
    int64_t rows;                   /* output rows (runs of the last dim) per outer index */
    /* last dim: output [head, head + mid) copies input [src0, src0 + mid) */
    int64_t head, mid, src0;
} pad_plan;

static const char *const mode_names[] = {"constant", "reflect", "replicate"};

/* ---------------- validation and plan ---------------- */

static bool check_pads(const char *op, const lt_tensor *x, const int64_t *pads, int n_pads, lt_pad_mode mode)
{
    if ((unsigned)mode > LT_PAD_REPLICATE)
        return lt__fail(op, "unknown mode %d for input %s", (int)mode, lt__shp(x)), false;
    if (n_pads < 0 || n_pads % 2)
        return lt__fail(op, "the number of padding values must be even, got %d for input %s", n_pads, lt__shp(x)),
               false;
    if (n_pads > 0 && !pads) return lt__fail(op, "pads is NULL for %d values (input %s)", n_pads, lt__shp(x)), false;
    const int k = n_pads / 2;
    if (k > x->ndim)
        return lt__fail(op, "pads %s pad %d dimensions but input %s has %d", lt__shape_dims(n_pads, pads), k,
                        lt__shp(x), x->ndim),
               false;
    if (mode != LT_PAD_CONSTANT && (k < 1 || k > 3 || x->ndim < k + 1 || x->ndim > k + 2))
        return lt__fail(op, "%s mode pads the last 1-3 dimensions of an input with 1 or 2 leading (batch, "
                            "channel) dimensions; got pads %s for input %s",
                        mode_names[mode], lt__shape_dims(n_pads, pads), lt__shp(x)),
               false;
    for (int i = 0; i < k; i++) {
        const int d = x->ndim - 1 - i;
        const int64_t n = x->shape[d], l = pads[2 * i], r = pads[2 * i + 1], out = n + l + r;
        if (mode == LT_PAD_REFLECT && (l >= n || r >= n))
            return lt__fail(op, "reflect padding (%lld, %lld) of dimension %d must be less than its size in input %s",
                            (long long)l, (long long)r, d, lt__shp(x)),
                   false;
        if (mode != LT_PAD_CONSTANT && n == 0)
            return lt__fail(op, "%s mode cannot pad the empty dimension %d of input %s", mode_names[mode], d,
                            lt__shp(x)),
                   false;
        if (out < (mode == LT_PAD_CONSTANT ? 0 : 1))
            return lt__fail(op, "padding (%lld, %lld) of dimension %d makes input %s %lld long", (long long)l,
                            (long long)r, d, lt__shp(x), (long long)out),
                   false;
    }
    return true;
}

static int64_t source_index(lt_pad_mode mode, int64_t j, int64_t left, int64_t n)
{
    const int64_t i = j - left;
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case LT_PAD_REFLECT: return i < 0 ? -i : 2 * (n - 1) - i;
    case LT_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    default: return -1;
    }
}

/* Fills p and out_shape. A 0-d input, or no pads, is planned as a zero pad
 * of the last dim so the kernels always have one. */
static bool build_plan(const char *op, const lt_tensor *x, const int64_t *pads, int n_pads, lt_pad_mode mode,
                       pad_plan *p, int64_t *out_shape)
{
    memset(p, 0, sizeof *p);
    const int nd = x->ndim > 0 ? x->ndim : 1; /* x->shape[0] is 1 for a 0-d tensor */
    p->k = n_pads / 2 > 0 ? n_pads / 2 : 1;
    p->mode = mode;
    memcpy(out_shape, x->shape, sizeof x->shape[0] * LT_MAX_DIMS);
    p->outer = 1;
    for (int d = 0; d < nd - p->k; d++) p->outer *= x->shape[d];
    p->in_block = p->out_block = 1;
    for (int j = p->k - 1; j >= 0; j--) {
        const int d = nd - p->k + j, i = p->k - 1 - j; /* i: index of the pad pair */
        const int64_t l = i < n_pads / 2 ? pads[2 * i] : 0, r = i < n_pads / 2 ? pads[2 * i + 1] : 0;
        p->in[j] = x->shape[d];
        p->out[j] = out_shape[d] = x->shape[d] + l + r;
        p->in_stride[j] = p->in_block;
        p->in_block *= p->in[j];
        p->out_block *= p->out[j];
        p->map[j] = lt__alloc(op, sizeof(int64_t) * (size_t)(p->out[j] > 0 ? p->out[j] : 1));
        if (!p->map[j]) return false;
        for (int64_t o = 0; o < p->out[j]; o++) p->map[j][o] = source_index(mode, o, l, p->in[j]);
        if (j == p->k - 1) {
            const int64_t begin = l > 0 ? l : 0, end = x->shape[d] + l < p->out[j] ? x->shape[d] + l : p->out[j];
            p->head = begin < p->out[j] ? begin : p->out[j];
            p->mid = end > begin ? end - begin : 0;
            p->src0 = begin - l;
        }
    }
    p->rows = p->out[p->k - 1] > 0 ? p->out_block / p->out[p->k - 1] : 0;
    return true;
}

/* Input offset (within one outer block) of output row rr, or -1 when the
 * row lies in the constant padding. */
static int64_t source_row(const pad_plan *p, int64_t rr)
{
    int64_t off = 0;
    for (int j = p->k - 2; j >= 0; j--) {
        const int64_t s = p->map[j][rr % p->out[j]];
        rr /= p->out[j];
        if (s < 0) return -1;
        off += s * p->in_stride[j];
    }
    return off;
}

/* ---------------- forward ---------------- */

/* One output row from its source row (NULL: all fill). */
typedef void (*pad_row_fn)(void *dst, const void *src, const pad_plan *p, const void *fill);

#define DEFINE_PAD_ROW(NAME, T)                                                                                  \
    static void NAME(void *dst_, const void *src_, const pad_plan *p, const void *fill_)                         \
    {                                                                                                            \
        T *restrict dst = dst_;                                                                                  \
        const T v = *(const T *)fill_;                                                                           \
        const int64_t w = p->out[p->k - 1];                                                                      \
        if (!src_) {                                                                                             \
            for (int64_t j = 0; j < w; j++) dst[j] = v;                                                          \
            return;                                                                                              \
        }                                                                                                        \
        const T *restrict src = src_;                                                                            \
        const int64_t *map = p->map[p->k - 1];                                                                   \
        for (int64_t j = 0; j < p->head; j++) dst[j] = map[j] < 0 ? v : src[map[j]];                             \
        if (p->mid > 0) memcpy(dst + p->head, src + p->src0, sizeof(T) * (size_t)p->mid);                        \
        for (int64_t j = p->head + p->mid; j < w; j++) dst[j] = map[j] < 0 ? v : src[map[j]];                    \
    }

DEFINE_PAD_ROW(pad_row8, uint8_t)
DEFINE_PAD_ROW(pad_row32, uint32_t)
DEFINE_PAD_ROW(pad_row64, uint64_t)

static void pad_forward(const pad_plan *p, const char *src, char *dst, size_t es, const void *fill)
{
    const pad_row_fn row = es == 1 ? pad_row8 : (es == 8 ? pad_row64 : pad_row32);
    const int64_t w = p->out[p->k - 1], n_rows = p->outer * p->rows;
    if (n_rows == 0) return;
    const int64_t per_task = w >= ROWS_TASK_ELEMS ? 1 : ROWS_TASK_ELEMS / w;
    const int64_t n_tasks = (n_rows + per_task - 1) / per_task;
#pragma omp parallel for schedule(static) if (n_rows * w > LT_PAR_MIN)
    for (int64_t t = 0; t < n_tasks; t++) {
        const int64_t r1 = (t + 1) * per_task < n_rows ? (t + 1) * per_task : n_rows;
        for (int64_t r = t * per_task; r < r1; r++) {
            const int64_t o = r / p->rows, off = source_row(p, r % p->rows);
            const char *s = off < 0 ? NULL : src + (size_t)(o * p->in_block + off) * es;
            row(dst + (size_t)(r * w) * es, s, p, fill);
        }
    }
}

/* ---------------- backward ---------------- */

static void add_row(float *restrict gi, const float *restrict g, const pad_plan *p)
{
    const int64_t w = p->out[p->k - 1], *map = p->map[p->k - 1];
    for (int64_t j = 0; j < p->head; j++)
        if (map[j] >= 0) gi[map[j]] += g[j];
    if (p->mid > 0) {
        float *restrict gm = gi + p->src0;
        const float *restrict gg = g + p->head;
        for (int64_t j = 0; j < p->mid; j++) gm[j] += gg[j];
    }
    for (int64_t j = p->head + p->mid; j < w; j++)
        if (map[j] >= 0) gi[map[j]] += g[j];
}

/* Rows [r0, r1) of the output gradient into gi, in row order. */
static void add_rows(const pad_plan *p, const float *g, float *gi, int64_t r0, int64_t r1)
{
    const int64_t w = p->out[p->k - 1];
    for (int64_t r = r0; r < r1; r++) {
        const int64_t off = source_row(p, r % p->rows);
        if (off >= 0) add_row(gi + (r / p->rows) * p->in_block + off, g + r * w, p);
    }
}

static void pad_backward(lt_node *node)
{
    float *gi = lt__grad(node->inputs[0]);
    if (!gi) return;
    const pad_plan *p = node->saved;
    const float *g = node->out->grad;
    const int64_t n = node->out->numel;
    if (n == 0) return;
    /* Constant padding reads each input element at most once, so any split of
     * the rows is race-free; reflect/replicate rows of one outer block may
     * share inputs, so there a task owns whole blocks. */
    const int64_t n_rows = p->outer * p->rows;
    const int64_t per_task = p->mode == LT_PAD_CONSTANT ? (p->rows < 64 ? p->rows : 64) : p->rows;
    const int64_t n_tasks = (n_rows + per_task - 1) / per_task;
#pragma omp parallel for schedule(static) if (n > LT_PAR_MIN)
    for (int64_t t = 0; t < n_tasks; t++)
        add_rows(p, g, gi, t * per_task, (t + 1) * per_task < n_rows ? (t + 1) * per_task : n_rows);
}

/* ---------------- entry ---------------- */

typedef union fill_value {
    float f;
    int32_t i32;
    uint8_t u8;
    int64_t i64;
} fill_value;

static bool convert_fill(const char *op, const lt_tensor *x, float value, fill_value *out)
{
    memset(out, 0, sizeof *out);
    if (x->dtype == LT_F32) {
        out->f = value;
        return true;
    }
    const double v = trunc((double)value);
    const double lo = x->dtype == LT_U8 ? 0.0 : (x->dtype == LT_I32 ? -2147483648.0 : -9223372036854775808.0);
    const double hi = x->dtype == LT_U8 ? 255.0 : (x->dtype == LT_I32 ? 2147483647.0 : 9223372036854774784.0);
    if (!(v >= lo && v <= hi))
        return lt__fail(op, "value %g cannot be converted to %s without overflow (input %s)", (double)value,
                        lt_dtype_name(x->dtype), lt__shp(x)),
               false;
    switch (x->dtype) {
    case LT_I32: out->i32 = (int32_t)v; break;
    case LT_U8: out->u8 = (uint8_t)v; break;
    default: out->i64 = (int64_t)v; break;
    }
    return true;
}

lt_tensor *lt_pad(lt_tensor *x, const int64_t *pads, int n_pads, lt_pad_mode mode, float value)
{
    LT__PROFILE_OP(LT_OP_PAD);
    static const char op[] = "pad";
    if (!x) return NULL;
    fill_value fill;
    if (!check_pads(op, x, pads, n_pads, mode) || !convert_fill(op, x, value, &fill)) return NULL;
    pad_plan plan;
    int64_t shape[LT_MAX_DIMS];
    if (!build_plan(op, x, pads, n_pads, mode, &plan, shape)) return NULL;
    lt_tensor *out = lt__result(op, x->dtype, x->ndim, shape);
    if (!out) return NULL;
    pad_forward(&plan, x->data, out->data, lt_dtype_size(x->dtype), &fill);
    if (x->dtype == LT_F32 && lt__wants_grad(1, &x)) {
        lt_node *node = lt__record(out, LT_OP_PAD, pad_backward, 1, &x, sizeof plan);
        if (!node) return NULL;
        memcpy(node->saved, &plan, sizeof plan);
    }
    return out;
}
