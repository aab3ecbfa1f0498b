/* ltrain SDK — parameters and neural-network building blocks.
 *
 * Parameters and buffers live in an lt_params store under PyTorch
 * state_dict names ("layer1.0.conv1.weight", "bn1.running_mean",
 * "bn1.num_batches_tracked"), in registration order, so weights saved by
 * PyTorch load by name. The store owns every tensor it hands out; they live
 * until lt_params_free(). After a model is built, lt_params_pack() moves all
 * parameter data into one block and all gradients into another, so that
 * zeroing gradients is one memset and an optimizer walks flat memory.
 *
 * Blocks (lt_conv2d_block, ...) mirror torch.nn modules: *_init registers
 * the parameters under `prefix` with PyTorch's default initialisation
 * (kaiming_uniform(a=sqrt(5)) weights and U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * biases for conv and linear; ones/zeros for norm layers), *_forward applies
 * the op. A block struct is plain data the caller embeds in its own node
 * struct; it borrows its tensors from the store.
 */
#ifndef LTRAIN_NN_H
#define LTRAIN_NN_H

#include "ops.h"
#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- parameter store ---------------- */

typedef struct lt_params lt_params;

/* New empty store; parameters are initialised from `rng` by the blocks. */
LT_API lt_params *lt_params_new(void);
/* Frees the store and every tensor registered in it. NULL is ignored. */
LT_API void lt_params_free(lt_params *p);

/* Registers a zero-filled tensor named prefix + "." + name (or just name when
 * prefix is NULL or ""). trainable: a parameter with a gradient (LT_F32);
 * otherwise a buffer (no gradient). Fails on a duplicate name. Borrowed result. */
LT_API lt_tensor *lt_params_add(lt_params *p, const char *prefix, const char *name, lt_dtype dtype,
                                int ndim, const int64_t *shape, bool trainable);
/* Tensor by full name, or NULL (no error set). */
LT_API lt_tensor *lt_params_find(const lt_params *p, const char *name);
/* Number of registered tensors (parameters and buffers) and the i-th one in
 * registration order; its name is t->name. */
LT_API size_t lt_params_count(const lt_params *p);
LT_API lt_tensor *lt_params_at(const lt_params *p, size_t i);
/* Total number of elements of trainable parameters. */
LT_API int64_t lt_params_numel(const lt_params *p, bool trainable_only);
/* Moves data and gradients into one block each (idempotent; registering more
 * tensors afterwards un-packs until the next call). */
LT_API int lt_params_pack(lt_params *p);
/* Zeroes every parameter gradient. */
LT_API void lt_params_zero_grad(lt_params *p);
/* Sets requires_grad on every parameter whose name starts with `prefix`
 * (freezing). */
LT_API void lt_params_set_trainable(lt_params *p, const char *prefix, bool trainable);

/* ---------------- initialisation ---------------- */

/* Fills t from U(low, high). */
LT_API void lt_init_uniform(lt_tensor *t, lt_rng *rng, float low, float high);
/* Fills t from N(mean, std). */
LT_API void lt_init_normal(lt_tensor *t, lt_rng *rng, float mean, float std);
/* torch.nn.init.kaiming_uniform_(t, a, mode='fan_in', nonlinearity='leaky_relu'). */
LT_API void lt_init_kaiming_uniform(lt_tensor *t, lt_rng *rng, float a);
/* torch.nn.init.kaiming_normal_(t, mode, nonlinearity='relu'): fan_out when fan_out is true. */
LT_API void lt_init_kaiming_normal_relu(lt_tensor *t, lt_rng *rng, bool fan_out);
/* fan_in of a weight as PyTorch computes it: size(1) * prod(size(2:)). */
LT_API int64_t lt_fan_in(const lt_tensor *weight);
LT_API void lt_init_constant(lt_tensor *t, float value);

/* ---------------- blocks ---------------- */

typedef struct lt_conv2d_block {
    lt_tensor *weight; /* [out, in/groups, kh, kw] */
    lt_tensor *bias;   /* [out] or NULL */
    lt_conv2d_params params;
} lt_conv2d_block;

typedef struct lt_conv2d_options {
    int kernel[2];
    int stride[2], padding[2], dilation[2], groups; /* as lt_conv2d_params */
    bool no_bias;                                   /* bias=False */
} lt_conv2d_options;

LT_API int lt_conv2d_block_init(lt_conv2d_block *m, lt_params *p, const char *prefix, int64_t in_channels,
                                int64_t out_channels, const lt_conv2d_options *o, lt_rng *rng);
LT_API lt_tensor *lt_conv2d_block_forward(const lt_conv2d_block *m, lt_tensor *x);

typedef struct lt_conv_transpose2d_block {
    lt_tensor *weight; /* [in, out/groups, kh, kw] */
    lt_tensor *bias;
    lt_conv_transpose2d_params params;
} lt_conv_transpose2d_block;

typedef struct lt_conv_transpose2d_options {
    int kernel[2];
    int stride[2], padding[2], output_padding[2], dilation[2], groups;
    bool no_bias;
} lt_conv_transpose2d_options;

LT_API int lt_conv_transpose2d_block_init(lt_conv_transpose2d_block *m, lt_params *p, const char *prefix,
                                          int64_t in_channels, int64_t out_channels,
                                          const lt_conv_transpose2d_options *o, lt_rng *rng);
LT_API lt_tensor *lt_conv_transpose2d_block_forward(const lt_conv_transpose2d_block *m, lt_tensor *x);

typedef struct lt_linear_block {
    lt_tensor *weight; /* [out, in] */
    lt_tensor *bias;   /* [out] or NULL */
} lt_linear_block;

LT_API int lt_linear_block_init(lt_linear_block *m, lt_params *p, const char *prefix, int64_t in_features,
                                int64_t out_features, bool bias, lt_rng *rng);
LT_API lt_tensor *lt_linear_block_forward(const lt_linear_block *m, lt_tensor *x);

typedef struct lt_batch_norm2d_block {
    lt_tensor *weight, *bias;              /* [C], ones / zeros */
    lt_tensor *running_mean, *running_var; /* [C] buffers, zeros / ones */
    lt_tensor *num_batches_tracked;        /* [] LT_I64 buffer */
    float eps;                             /* 1e-5 */
    float momentum;                        /* 0.1 */
} lt_batch_norm2d_block;

LT_API int lt_batch_norm2d_block_init(lt_batch_norm2d_block *m, lt_params *p, const char *prefix,
                                      int64_t channels);
/* Training mode of the current context decides batch vs running statistics. */
LT_API lt_tensor *lt_batch_norm2d_block_forward(lt_batch_norm2d_block *m, lt_tensor *x);

typedef struct lt_layer_norm_block {
    lt_tensor *weight, *bias; /* normalized shape */
    int normalized_ndim;
    float eps;                /* 1e-5 */
} lt_layer_norm_block;

LT_API int lt_layer_norm_block_init(lt_layer_norm_block *m, lt_params *p, const char *prefix, int normalized_ndim,
                                    const int64_t *normalized_shape);
LT_API lt_tensor *lt_layer_norm_block_forward(const lt_layer_norm_block *m, lt_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
