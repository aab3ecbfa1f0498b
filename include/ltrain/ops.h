/* ltrain SDK — differentiable tensor operations.
 *
 * Every op:
 *   - takes its tensor inputs by pointer (any lifetime) and returns a new step
 *     tensor in the current context (see tensor.h), or NULL on error with a
 *     message naming the op and the shapes/dtypes at fault (see common.h);
 *   - returns NULL at once, keeping the first error, when an input is NULL;
 *   - records itself for autograd when grad mode is on and an input requires
 *     grad (see autograd.h); gradients match PyTorch 1.13;
 *   - is deterministic: same inputs and thread count, same bits.
 * Float ops need LT_F32 inputs unless stated. "Broadcast" follows NumPy /
 * PyTorch rules (align trailing dimensions, size-1 dimensions stretch).
 * Parameter structs may be passed as NULL for PyTorch's defaults; zero
 * fields of stride/dilation/groups mean 1.
 */
#ifndef LTRAIN_OPS_H
#define LTRAIN_OPS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Op kinds, as recorded on the tape (and later exported). */
typedef enum lt_op {
    LT_OP_NONE = 0,
    /* linear algebra and convolution */
    LT_OP_CONV2D, LT_OP_CONV_TRANSPOSE2D, LT_OP_LINEAR, LT_OP_MATMUL,
    /* normalisation */
    LT_OP_BATCH_NORM2D, LT_OP_LAYER_NORM,
    /* broadcasting binary and scalar arithmetic */
    LT_OP_ADD, LT_OP_SUB, LT_OP_MUL, LT_OP_DIV, LT_OP_POW,
    LT_OP_ADD_SCALAR, LT_OP_MUL_SCALAR, LT_OP_RSUB_SCALAR, LT_OP_DIV_SCALAR, LT_OP_POW_SCALAR,
    LT_OP_NEG,
    /* unary */
    LT_OP_RELU, LT_OP_RELU6, LT_OP_LEAKY_RELU, LT_OP_SIGMOID, LT_OP_TANH, LT_OP_SILU,
    LT_OP_HARDSWISH, LT_OP_HARDSIGMOID, LT_OP_GELU, LT_OP_SOFTPLUS, LT_OP_EXP, LT_OP_LOG,
    LT_OP_SQRT, LT_OP_ABS, LT_OP_CLAMP,
    /* pooling and resampling */
    LT_OP_MAX_POOL2D, LT_OP_AVG_POOL2D, LT_OP_ADAPTIVE_AVG_POOL2D, LT_OP_INTERPOLATE,
    /* shape */
    LT_OP_CONCAT, LT_OP_SLICE, LT_OP_RESHAPE, LT_OP_PERMUTE, LT_OP_PAD, LT_OP_COPY,
    /* softmax and reductions */
    LT_OP_SOFTMAX, LT_OP_LOG_SOFTMAX, LT_OP_SUM, LT_OP_MEAN, LT_OP_MAX, LT_OP_ARGMAX,
    /* selection */
    LT_OP_WHERE, LT_OP_MASKED_FILL, LT_OP_GATHER, LT_OP_INDEX_SELECT,
    /* regularisation */
    LT_OP_DROPOUT,
    /* losses (loss.h) */
    LT_OP_CROSS_ENTROPY, LT_OP_BCE_WITH_LOGITS, LT_OP_MSE_LOSS, LT_OP_L1_LOSS, LT_OP_SMOOTH_L1_LOSS,
    /* dtype conversion (no gradient) */
    LT_OP_CAST,
    LT_OP_COUNT
} lt_op;

/* Lower-case PyTorch-like name of an op ("conv2d"); "?" when out of range. */
LT_API const char *lt_op_name(lt_op op);

/* ---------------- convolution and linear algebra ---------------- */

typedef struct lt_conv2d_params {
    int stride[2];   /* (h, w), 0 = 1 */
    int padding[2];  /* zero padding (h, w) */
    int dilation[2]; /* 0 = 1 */
    int groups;      /* 0 = 1; groups == in_channels with weight [C,1,kh,kw] is depthwise */
} lt_conv2d_params;

/* x [N,Cin,H,W], weight [Cout,Cin/groups,kh,kw], bias [Cout] or NULL -> [N,Cout,Ho,Wo]
 * with Ho = (H + 2*pad - dil*(kh-1) - 1) / stride + 1 (PyTorch's F.conv2d).
 * Fails when channels and groups disagree or the dilated kernel is larger
 * than the padded input. Runs through the conv backend (im2col + sgemm;
 * direct loops for depthwise). */
LT_API lt_tensor *lt_conv2d(lt_tensor *x, lt_tensor *weight, lt_tensor *bias, const lt_conv2d_params *p);

typedef struct lt_conv_transpose2d_params {
    int stride[2];
    int padding[2];
    int output_padding[2];
    int dilation[2];
    int groups;
} lt_conv_transpose2d_params;

/* x [N,Cin,H,W], weight [Cin,Cout/groups,kh,kw], bias [Cout] or NULL ->
 * [N,Cout,(H-1)*s-2p+d*(k-1)+output_padding+1, ...] (PyTorch's ConvTranspose2d).
 * output_padding must be smaller than stride or dilation (PyTorch's rule). */
LT_API lt_tensor *lt_conv_transpose2d(lt_tensor *x, lt_tensor *weight, lt_tensor *bias,
                                      const lt_conv_transpose2d_params *p);

/* x [..., in], weight [out, in], bias [out] or NULL -> [..., out]. */
LT_API lt_tensor *lt_linear(lt_tensor *x, lt_tensor *weight, lt_tensor *bias);

/* torch.matmul: [..., M, K] x [..., K, N] -> [..., M, N] with broadcast batch
 * dimensions. As in torch.matmul a 1-d a [K] acts as [1,K] and a 1-d b [K]
 * as [K,1], the added dimension being removed from the result (1-d x 1-d is
 * a dot product of shape []). */
LT_API lt_tensor *lt_matmul(lt_tensor *a, lt_tensor *b);

/* ---------------- normalisation ---------------- */

/* F.batch_norm on [N,C,H,W] (or [N,C], or any [N,C,...]). weight/bias [C] or NULL.
 * training: normalise with batch statistics (biased variance) and, when
 * running_mean/running_var are given, update them in place with `momentum`
 * (running = (1 - momentum) * running + momentum * batch; running_var gets
 * the unbiased variance). The update happens in no-grad mode too and is
 * never recorded. Needs more than one value per channel, as PyTorch.
 * Otherwise (eval) normalise with the running stats, which are required.
 * Gradients flow to x, weight and bias (training: through the batch stats). */
LT_API lt_tensor *lt_batch_norm(lt_tensor *x, lt_tensor *running_mean, lt_tensor *running_var,
                                lt_tensor *weight, lt_tensor *bias, bool training,
                                float momentum, float eps);

/* F.layer_norm over the last `normalized_ndim` dimensions; weight/bias of
 * that shape, or NULL. */
LT_API lt_tensor *lt_layer_norm(lt_tensor *x, int normalized_ndim, lt_tensor *weight,
                                lt_tensor *bias, float eps);

/* ---------------- arithmetic (broadcasting) ---------------- */

/* float32 only; each input's gradient is summed back to its own shape. */
LT_API lt_tensor *lt_add(lt_tensor *a, lt_tensor *b);
LT_API lt_tensor *lt_sub(lt_tensor *a, lt_tensor *b);
LT_API lt_tensor *lt_mul(lt_tensor *a, lt_tensor *b);
LT_API lt_tensor *lt_div(lt_tensor *a, lt_tensor *b);
/* a ** b (broadcast). Gradients as PyTorch's: d/da = b*a^(b-1), 0 where
 * b == 0; d/db = a^b*log(a), 0 where a == 0 and b >= 0. */
LT_API lt_tensor *lt_pow(lt_tensor *a, lt_tensor *b);

LT_API lt_tensor *lt_add_scalar(lt_tensor *x, float s);  /* x + s */
LT_API lt_tensor *lt_mul_scalar(lt_tensor *x, float s);  /* x * s */
LT_API lt_tensor *lt_rsub_scalar(lt_tensor *x, float s); /* s - x */
LT_API lt_tensor *lt_div_scalar(lt_tensor *x, float s);  /* x / s */
LT_API lt_tensor *lt_pow_scalar(lt_tensor *x, float e);  /* x ** e */
LT_API lt_tensor *lt_neg(lt_tensor *x);

/* ---------------- activations and unary math ---------------- */

LT_API lt_tensor *lt_relu(lt_tensor *x);
LT_API lt_tensor *lt_relu6(lt_tensor *x);
LT_API lt_tensor *lt_leaky_relu(lt_tensor *x, float negative_slope); /* PyTorch default 0.01 */
LT_API lt_tensor *lt_sigmoid(lt_tensor *x);
LT_API lt_tensor *lt_tanh(lt_tensor *x);
LT_API lt_tensor *lt_silu(lt_tensor *x);
LT_API lt_tensor *lt_hardswish(lt_tensor *x);
LT_API lt_tensor *lt_hardsigmoid(lt_tensor *x);
/* approximate: false = exact erf form, true = tanh approximation. */
LT_API lt_tensor *lt_gelu(lt_tensor *x, bool approximate_tanh);
/* PyTorch defaults: beta 1, threshold 20. */
LT_API lt_tensor *lt_softplus(lt_tensor *x, float beta, float threshold);
LT_API lt_tensor *lt_exp(lt_tensor *x);
LT_API lt_tensor *lt_log(lt_tensor *x);
LT_API lt_tensor *lt_sqrt(lt_tensor *x);
LT_API lt_tensor *lt_abs(lt_tensor *x);
/* Bounds may be -INFINITY / INFINITY for "none". Gradient passes where
 * min <= x <= max (PyTorch). */
LT_API lt_tensor *lt_clamp(lt_tensor *x, float min, float max);

/* ---------------- pooling and resampling ---------------- */

typedef struct lt_pool2d_params {
    int kernel[2];          /* required */
    int stride[2];          /* 0 = kernel (PyTorch's default) */
    int padding[2];
    int dilation[2];        /* max pool only; 0 = 1 */
    bool ceil_mode;
    bool exclude_pad;       /* avg pool: !count_include_pad (PyTorch default includes pad) */
} lt_pool2d_params;

/* Pooling takes x [N,C,H,W] or [C,H,W] and keeps its rank. Output size,
 * ceil_mode (the last window must start inside the input or left padding)
 * and the padding <= kernel/2 rule are PyTorch's; p is required.
 * max: NaN propagates (the last NaN of a window gets the gradient); ties
 * send the gradient to the first maximum in row-major order.
 * avg: with ceil_mode, windows are clipped to input + padding before
 * counting the divisor (PyTorch's rule). */
LT_API lt_tensor *lt_max_pool2d(lt_tensor *x, const lt_pool2d_params *p);
LT_API lt_tensor *lt_avg_pool2d(lt_tensor *x, const lt_pool2d_params *p);
/* PyTorch's adaptive bins: start = floor(i*H/Ho), end = ceil((i+1)*H/Ho).
 * x [N,C,H,W] or [C,H,W]; out_h, out_w >= 1. */
LT_API lt_tensor *lt_adaptive_avg_pool2d(lt_tensor *x, int64_t out_h, int64_t out_w);

typedef enum lt_interp_mode { LT_INTERP_NEAREST = 0, LT_INTERP_BILINEAR } lt_interp_mode;
typedef struct lt_interpolate_params {
    lt_interp_mode mode;
    int64_t size[2];        /* output (h, w); or 0 to use scale_factor */
    double scale_factor[2]; /* used when size is 0: out = floor(in * scale), and
                               the kernel maps with 1/scale (PyTorch's
                               recompute_scale_factor=None behaviour) */
    bool align_corners;     /* bilinear only */
} lt_interpolate_params;
/* F.interpolate on [N,C,H,W]; exactly one of size / scale_factor is set.
 * nearest is PyTorch's legacy 'nearest': src = min(floor(dst * s), in - 1)
 * with s = in/out, or 1/scale_factor. bilinear follows PyTorch's source
 * index rule for both align_corners settings. */
LT_API lt_tensor *lt_interpolate(lt_tensor *x, const lt_interpolate_params *p);

/* ---------------- shape ----------------
 * Dims may be negative (counting from the end). Every op here moves data of
 * any dtype; only float32 tensors get gradients. Views share the input's
 * storage (data pointer) and record a node that routes the gradient back. */

/* Concatenates n >= 1 tensors of one dtype along dim (all other dimensions
 * equal; 0-d tensors cannot be concatenated). A copy. */
LT_API lt_tensor *lt_concat(lt_tensor *const *xs, int n, int dim);
/* Splits along dim into n pieces of the given sizes (>= 0, summing to the
 * dim); writes n step tensors to out. Each piece is lt_slice of its range:
 * a view under the same condition. Returns 0 or -1. */
LT_API int lt_split(lt_tensor *x, const int64_t *sizes, int n, int dim, lt_tensor **out);
/* x[..., start:end:step, ...] along dim; negative start/end count from the
 * end and are clamped like Python slices (pass INT64_MAX for "to the end");
 * step >= 1. A view when the result is one contiguous block of x (every
 * dimension before dim is 1 and step is 1, or the whole of x), else a copy. */
LT_API lt_tensor *lt_slice(lt_tensor *x, int dim, int64_t start, int64_t end, int64_t step);
/* View with a new shape of the same numel; one entry may be -1 (inferred).
 * ndim 0 gives a 0-d tensor. */
LT_API lt_tensor *lt_reshape(lt_tensor *x, int ndim, const int64_t *shape);
/* View flattening dims start..end (inclusive, negative allowed); a 0-d
 * tensor flattens to [1]. */
LT_API lt_tensor *lt_flatten(lt_tensor *x, int start_dim, int end_dim);
/* View with a size-1 dimension inserted at dim, in [-ndim-1, ndim]. */
LT_API lt_tensor *lt_unsqueeze(lt_tensor *x, int dim);
/* View without dimension dim; as in PyTorch, an unchanged view when that
 * dimension is not 1. */
LT_API lt_tensor *lt_squeeze(lt_tensor *x, int dim);
/* Copy with dimensions reordered: out.shape[i] = x.shape[dims[i]]. */
LT_API lt_tensor *lt_permute(lt_tensor *x, const int *dims);
/* Copy with dim0 and dim1 swapped. */
LT_API lt_tensor *lt_transpose(lt_tensor *x, int dim0, int dim1);

typedef enum lt_pad_mode { LT_PAD_CONSTANT = 0, LT_PAD_REFLECT, LT_PAD_REPLICATE } lt_pad_mode;
/* F.pad: pads holds n_pads (even, <= 2*ndim) amounts in PyTorch's order
 * (last dim first: left, right, top, bottom, ...). Negative amounts crop.
 * Constant mode pads any dims of any dtype with `value` (truncated toward
 * zero for integer tensors; an error if it does not fit). Reflect and
 * replicate follow PyTorch's rules: they pad the last 1-3 dims of an input
 * with 1 or 2 leading (batch, channel) dims, reflect amounts must be less
 * than the padded dimension, and every padded output dim must be >= 1. */
LT_API lt_tensor *lt_pad(lt_tensor *x, const int64_t *pads, int n_pads, lt_pad_mode mode, float value);

/* ---------------- softmax and reductions ---------------- */

/* Numerically stable (log-)softmax along dim (negative counts from the end). */
LT_API lt_tensor *lt_softmax(lt_tensor *x, int dim);
LT_API lt_tensor *lt_log_softmax(lt_tensor *x, int dim);
/* Sum / mean over n_dims dimensions (n_dims == 0: all, giving shape [], or
 * all ones with keepdim). Accumulated in double; the mean of no elements is
 * NaN. A dim listed twice is an error. */
LT_API lt_tensor *lt_sum(lt_tensor *x, const int *dims, int n_dims, bool keepdim);
LT_API lt_tensor *lt_mean(lt_tensor *x, const int *dims, int n_dims, bool keepdim);
/* torch.max(x, dim): values; the gradient goes to the first maximum. NaN
 * counts as the maximum (the first NaN wins), as in PyTorch. If indices is
 * not NULL it receives the LT_I32 argmax step tensor. dim must not be empty. */
LT_API lt_tensor *lt_max(lt_tensor *x, int dim, bool keepdim, lt_tensor **indices);
/* LT_I32 index of the first maximum along dim (no gradient; same NaN rule). */
LT_API lt_tensor *lt_argmax(lt_tensor *x, int dim, bool keepdim);

/* ---------------- selection ---------------- */

/* cond (LT_U8, nonzero = true) ? a : b (float32), all broadcast together. */
LT_API lt_tensor *lt_where(lt_tensor *cond, lt_tensor *a, lt_tensor *b);
/* x with `value` where mask (LT_U8, broadcast to x) is nonzero. x may be of
 * any dtype: integer x gets the value truncated toward zero, and a value
 * outside the type's range (or NaN) is an error, as in PyTorch. */
LT_API lt_tensor *lt_masked_fill(lt_tensor *x, lt_tensor *mask, float value);
/* torch.gather: index (LT_I32) has x's ndim and is no larger than x outside
 * dim; out[i][j] = x[index[i][j]][j] for dim 0. Indices must lie in
 * [0, x.shape[dim]) (no negative indexing, as in PyTorch). x of any dtype;
 * the gradient is a deterministic scatter-add. */
LT_API lt_tensor *lt_gather(lt_tensor *x, int dim, lt_tensor *index);
/* torch.index_select: index is a 1-d LT_I32 tensor of values in
 * [0, x.shape[dim]). x of any dtype; the gradient is a deterministic
 * index_add (repeated indices sum in index order). */
LT_API lt_tensor *lt_index_select(lt_tensor *x, int dim, lt_tensor *index);

/* ---------------- regularisation ---------------- */

/* Inverted dropout with probability p when the context is training (and
 * p > 0): each element is kept with probability 1 - p and scaled by
 * 1 / (1 - p); p = 1 gives zeros. Otherwise the result is a view of x
 * (gradients pass unchanged). p outside [0, 1] is an error. The mask of the
 * d-th dropout call since lt_ctx_seed() is a hash of (seed, d, element
 * index): the same for any thread count. */
LT_API lt_tensor *lt_dropout(lt_tensor *x, float p);

/* ---------------- conversion ---------------- */

/* Copy converted to dtype (no gradient). Float to int truncates toward zero;
 * NaN, infinities and out-of-range floats give the type's minimum (uint8: the
 * low byte of the int64 value), as PyTorch on x86. Integer narrowing keeps
 * the low bits. */
LT_API lt_tensor *lt_cast(lt_tensor *x, lt_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
