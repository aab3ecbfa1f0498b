/* ltrain SDK — tensors.
 *
 * A tensor is an N-d array (N <= LT_MAX_DIMS) of one dtype, stored
 * contiguously in row-major order (NCHW for images). Kernels therefore never
 * deal with strides; "views" are tensors that share another tensor's storage
 * without copying, and only exist where sharing keeps the data contiguous:
 * reshape / flatten / squeeze / unsqueeze / detach, and slices along the
 * outermost dimension (lt_narrow on dim 0). permute / transpose copy.
 *
 * Ownership — there are exactly two lifetimes:
 *
 *   Step tensors  are created by ops, by lt_empty()/lt_zeros()/lt_full()/
 *                 lt_from_data() and by lt_detach(). Header, data and gradient
 *                 live in the current context's arena (see context.h) and are
 *                 all released at once by lt_ctx_reset(). Never free them.
 *
 *   Owned tensors are created by lt_tensor_new() (parameters, buffers, dataset
 *                 storage, fixtures). The caller owns them and releases them
 *                 with lt_tensor_free(). Parameters are owned by an lt_params
 *                 store (nn.h) instead and freed with it.
 *
 * A view of an owned tensor is a step tensor: it must not outlive the step,
 * nor the tensor it views.
 *
 * Gradients are always float32 with the tensor's shape. `grad` is NULL until
 * backward produces one; for owned tensors that require grad it is allocated
 * (zeroed) by lt_tensor_set_requires_grad() and accumulates across backward
 * calls until lt_tensor_zero_grad().
 */
#ifndef LTRAIN_TENSOR_H
#define LTRAIN_TENSOR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LT_MAX_DIMS 8

typedef enum lt_dtype {
    LT_F32 = 0, /* activations, parameters, gradients */
    LT_I32,     /* class indices, label maps */
    LT_U8,      /* masks, images */
    LT_I64,     /* only for state_dict compatibility (num_batches_tracked) */
    LT_DTYPE_COUNT
} lt_dtype;

/* Tensor flags. */
enum {
    LT_REQUIRES_GRAD = 1u << 0, /* backward computes a gradient for it */
    LT_OWNED = 1u << 1,         /* heap tensor, freed by lt_tensor_free */
    LT_VIEW = 1u << 2,          /* shares `data` with another tensor */
    LT_PARAMETER = 1u << 3,     /* trainable parameter of an lt_params store */
    LT_BUFFER = 1u << 4,        /* non-trainable state of an lt_params store */
};

struct lt_node;

typedef struct lt_tensor {
    void *data;                   /* numel elements of dtype, contiguous */
    float *grad;                  /* NULL, or numel floats (see above) */
    struct lt_node *grad_fn;      /* op that produced it in this step; NULL for leaves */
    const char *name;             /* parameter name (borrowed), or NULL */
    int64_t shape[LT_MAX_DIMS];   /* entries past ndim are 1 */
    int64_t numel;
    int32_t ndim;
    lt_dtype dtype;
    uint32_t flags;
    uint32_t version;             /* bumped by in-place writes of optimizers */
} lt_tensor;

/* Size of one element of `dtype` in bytes; name such as "float32". */
LT_API size_t lt_dtype_size(lt_dtype dtype);
LT_API const char *lt_dtype_name(lt_dtype dtype);

/* ---- owned tensors ---- */

/* New zero-filled owned tensor. Returns NULL (with an error) on a bad shape
 * (ndim outside 0..LT_MAX_DIMS, a negative dimension) or out of memory. */
LT_API lt_tensor *lt_tensor_new(lt_dtype dtype, int ndim, const int64_t *shape);
/* Frees an owned tensor and its gradient. NULL is ignored. Passing a step
 * tensor is a programming error and is ignored with an error message. */
LT_API void lt_tensor_free(lt_tensor *t);
/* Owned deep copy (data only; no gradient, no graph). */
LT_API lt_tensor *lt_tensor_clone_owned(const lt_tensor *t);

/* Marks a leaf tensor as requiring a gradient (or not). For owned tensors
 * allocates the zeroed gradient buffer. Fails on non-float tensors. */
LT_API int lt_tensor_set_requires_grad(lt_tensor *t, bool requires_grad);
LT_API void lt_tensor_zero_grad(lt_tensor *t);

/* ---- step tensors (arena of the current context) ---- */

/* Uninitialised / zero / constant-filled step tensors. */
LT_API lt_tensor *lt_empty(lt_dtype dtype, int ndim, const int64_t *shape);
LT_API lt_tensor *lt_zeros(lt_dtype dtype, int ndim, const int64_t *shape);
LT_API lt_tensor *lt_full(int ndim, const int64_t *shape, float value);
/* Step tensor holding a copy of `numel` elements at `data`. */
LT_API lt_tensor *lt_from_data(lt_dtype dtype, int ndim, const int64_t *shape, const void *data);
/* Step tensor of shape [] holding `value`. */
LT_API lt_tensor *lt_scalar(float value);
/* Step tensor that copies `t` (any lifetime); records no graph. */
LT_API lt_tensor *lt_copy(const lt_tensor *t);

/* ---- queries ---- */

static inline float *lt_f32(const lt_tensor *t) { return (float *)t->data; }
static inline int32_t *lt_i32(const lt_tensor *t) { return (int32_t *)t->data; }
static inline uint8_t *lt_u8(const lt_tensor *t) { return (uint8_t *)t->data; }
static inline bool lt_requires_grad(const lt_tensor *t) { return (t->flags & LT_REQUIRES_GRAD) != 0; }

/* Dimension `dim` (negative counts from the end). */
LT_API int64_t lt_dim(const lt_tensor *t, int dim);
/* True when both tensors have the same ndim and dimensions. */
LT_API bool lt_same_shape(const lt_tensor *a, const lt_tensor *b);
/* Writes "[2,3,8,8]" into buf (always NUL-terminated) and returns buf. */
LT_API char *lt_shape_str(const lt_tensor *t, char *buf, size_t size);
/* Value of a one-element float tensor (0 for NULL). */
LT_API float lt_item(const lt_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
