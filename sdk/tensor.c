/* Tensor creation, lifetimes and queries (see tensor.h). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const size_t dtype_sizes[LT_DTYPE_COUNT] = {4, 4, 1, 8};
static const char *const dtype_names[LT_DTYPE_COUNT] = {"float32", "int32", "uint8", "int64"};
static_assert(sizeof dtype_names / sizeof dtype_names[0] == LT_DTYPE_COUNT, "dtype name table");

size_t lt_dtype_size(lt_dtype dtype) { return (unsigned)dtype < LT_DTYPE_COUNT ? dtype_sizes[dtype] : 0; }

const char *lt_dtype_name(lt_dtype dtype) { return (unsigned)dtype < LT_DTYPE_COUNT ? dtype_names[dtype] : "?"; }

static bool valid_shape(const char *op, lt_dtype dtype, int ndim, const int64_t *shape)
{
    if ((unsigned)dtype >= LT_DTYPE_COUNT) return lt__fail(op, "unknown dtype %d", (int)dtype), false;
    if (ndim < 0 || ndim > LT_MAX_DIMS)
        return lt__fail(op, "ndim %d outside 0..%d", ndim, LT_MAX_DIMS), false;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) return lt__fail(op, "negative dimension in shape %s", lt__shape_dims(ndim, shape)), false;
    return true;
}

static void set_shape(lt_tensor *t, lt_dtype dtype, int ndim, const int64_t *shape)
{
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < LT_MAX_DIMS; i++) {
        t->shape[i] = i < ndim ? shape[i] : 1;
        if (i < ndim) t->numel *= shape[i];
    }
}

lt_tensor *lt_tensor_new(lt_dtype dtype, int ndim, const int64_t *shape)
{
    if (!valid_shape("lt_tensor_new", dtype, ndim, shape)) return NULL;
    lt_tensor *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    set_shape(t, dtype, ndim, shape);
    size_t bytes = (size_t)t->numel * lt_dtype_size(dtype);
    t->data = calloc(bytes ? bytes : 1, 1);
    if (!t->data) {
        free(t);
        goto oom;
    }
    t->flags = LT_OWNED;
    return t;
oom:
    lt_set_error("lt_tensor_new: out of memory for shape %s", lt__shape_dims(ndim, shape));
    return NULL;
}

void lt_tensor_free(lt_tensor *t)
{
    if (!t) return;
    if (!(t->flags & LT_OWNED)) {
        lt_set_error("lt_tensor_free: %s tensor is a step tensor; it is released by lt_ctx_reset()", lt__shp(t));
        return;
    }
    free(t->data);
    free(t->grad);
    free(t);
}

lt_tensor *lt_tensor_clone_owned(const lt_tensor *t)
{
    if (!t) return NULL;
    lt_tensor *c = lt_tensor_new(t->dtype, t->ndim, t->shape);
    if (c) memcpy(c->data, t->data, (size_t)t->numel * lt_dtype_size(t->dtype));
    return c;
}

int lt_tensor_set_requires_grad(lt_tensor *t, bool requires_grad)
{
    if (!t) return -1;
    if (requires_grad && t->dtype != LT_F32)
        return lt_set_error("requires_grad: only float32 tensors can require grad, %s tensor is %s", lt__shp(t),
                            lt_dtype_name(t->dtype));
    if (requires_grad && (t->flags & LT_OWNED) && !t->grad) {
        t->grad = calloc((size_t)(t->numel ? t->numel : 1), sizeof(float));
        if (!t->grad) return lt_set_error("requires_grad: out of memory for the gradient of %s", lt__shp(t));
    }
    if (requires_grad)
        t->flags |= LT_REQUIRES_GRAD;
    else
        t->flags &= ~(uint32_t)LT_REQUIRES_GRAD;
    return 0;
}

void lt_tensor_zero_grad(lt_tensor *t)
{
    if (t && t->grad) memset(t->grad, 0, (size_t)t->numel * sizeof(float));
}

lt_tensor *lt__result(const char *op, lt_dtype dtype, int ndim, const int64_t *shape)
{
    if (!valid_shape(op, dtype, ndim, shape)) return NULL;
    lt_tensor *t = lt__alloc(op, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    set_shape(t, dtype, ndim, shape);
    t->data = lt__alloc(op, (size_t)t->numel * lt_dtype_size(dtype));
    return t->data ? t : NULL;
}

lt_tensor *lt__view(const char *op, lt_tensor *base, int ndim, const int64_t *shape)
{
    if (!valid_shape(op, base->dtype, ndim, shape)) return NULL;
    if (lt__numel(ndim, shape) != base->numel) {
        lt__fail(op, "cannot view %s (%lld elements) as %s", lt__shp(base), (long long)base->numel,
                 lt__shape_dims(ndim, shape));
        return NULL;
    }
    lt_tensor *t = lt__alloc(op, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    set_shape(t, base->dtype, ndim, shape);
    t->data = base->data;
    t->flags = LT_VIEW;
    return t;
}

lt_tensor *lt_empty(lt_dtype dtype, int ndim, const int64_t *shape)
{
    return lt__result("lt_empty", dtype, ndim, shape);
}

lt_tensor *lt_zeros(lt_dtype dtype, int ndim, const int64_t *shape)
{
    lt_tensor *t = lt__result("lt_zeros", dtype, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * lt_dtype_size(dtype));
    return t;
}

lt_tensor *lt_full(int ndim, const int64_t *shape, float value)
{
    lt_tensor *t = lt__result("lt_full", LT_F32, ndim, shape);
    if (t)
        for (int64_t i = 0; i < t->numel; i++) lt_f32(t)[i] = value;
    return t;
}

lt_tensor *lt_from_data(lt_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    lt_tensor *t = lt__result("lt_from_data", dtype, ndim, shape);
    if (t) memcpy(t->data, data, (size_t)t->numel * lt_dtype_size(dtype));
    return t;
}

lt_tensor *lt_scalar(float value) { return lt_full(0, NULL, value); }

lt_tensor *lt_copy(const lt_tensor *t)
{
    if (!t) return NULL;
    return lt_from_data(t->dtype, t->ndim, t->shape, t->data);
}

int64_t lt_dim(const lt_tensor *t, int dim)
{
    if (dim < 0) dim += t->ndim;
    return dim >= 0 && dim < t->ndim ? t->shape[dim] : 1;
}

bool lt_same_shape(const lt_tensor *a, const lt_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

char *lt_shape_str(const lt_tensor *t, char *buf, size_t size)
{
    snprintf(buf, size, "%s", lt__shp(t));
    return buf;
}

float lt_item(const lt_tensor *t)
{
    if (!t || t->numel < 1) return 0.0f;
    switch (t->dtype) {
    case LT_F32: return lt_f32(t)[0];
    case LT_I32: return (float)lt_i32(t)[0];
    case LT_U8: return (float)lt_u8(t)[0];
    case LT_I64: return (float)((int64_t *)t->data)[0];
    default: return 0.0f;
    }
}
