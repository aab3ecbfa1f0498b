/* Broadcasting shapes and the reduction of gradients back to input shapes. */
#include "internal.h"

#include <string.h>

bool lt__broadcast_shape(const char *op, const lt_tensor *a, const lt_tensor *b, int *ndim, int64_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int ia = a->ndim - n + i, ib = b->ndim - n + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            lt__fail(op, "shapes %s and %s cannot be broadcast (dimension %d: %lld vs %lld)", lt__shp(a),
                     lt__shp(b), i - n, (long long)da, (long long)db);
            return false;
        }
        shape[i] = da == 1 ? db : da;
    }
    *ndim = n;
    return true;
}

void lt__broadcast_strides(const lt_tensor *t, int ndim, const int64_t *out_shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int it = t->ndim - ndim + i;
        int64_t d = it >= 0 ? t->shape[it] : 1;
        strides[i] = (d == 1 && out_shape[i] != 1) ? 0 : s;
        s *= d;
    }
}

void lt__reduce_broadcast(const float *g, int out_ndim, const int64_t *out_shape, float *acc, const lt_tensor *in)
{
    int64_t total = lt__numel(out_ndim, out_shape);
    if (in->numel == total) { /* same element order: no broadcast happened */
        for (int64_t i = 0; i < total; i++) acc[i] += g[i];
        return;
    }
    int64_t strides[LT_MAX_DIMS] = {0};
    lt__broadcast_strides(in, out_ndim, out_shape, strides);
    /* Walk the output with an odometer; the inner dimension is contiguous. */
    int64_t idx[LT_MAX_DIMS] = {0};
    int last = out_ndim - 1;
    int64_t inner = out_shape[last], inner_stride = strides[last];
    for (int64_t o = 0; o < total; o += inner) {
        int64_t off = 0;
        for (int d = 0; d < last; d++) off += idx[d] * strides[d];
        const float *gr = g + o;
        if (inner_stride == 0) {
            float s = 0.0f;
            for (int64_t j = 0; j < inner; j++) s += gr[j];
            acc[off] += s;
        } else {
            for (int64_t j = 0; j < inner; j++) acc[off + j] += gr[j];
        }
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < out_shape[d]) break;
            idx[d] = 0;
        }
    }
}
