/* torch.nn-like blocks (see nn.h): parameter registration under PyTorch's
 * state_dict names with PyTorch's default initialisation, and forward. */
#include "../internal.h"

#include <math.h>
#include <string.h>

static int pos_or_one(int v) { return v > 0 ? v : 1; }

/* Weight kaiming_uniform(a=sqrt(5)) => U(-1/sqrt(fan_in), 1/sqrt(fan_in));
 * bias from the same bound (0 when fan_in is 0), as reset_parameters() of
 * torch.nn.ConvNd and Linear. */
static void init_weight_bias(lt_tensor *weight, lt_tensor *bias, lt_rng *rng)
{
    lt_init_kaiming_uniform(weight, rng, sqrtf(5.0f));
    if (!bias) return;
    const int64_t fan_in = lt_fan_in(weight);
    const float bound = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
    lt_init_uniform(bias, rng, -bound, bound);
}

/* Checks shared by conv and conv-transpose blocks. */
static bool conv_dims_ok(const char *fn, const char *prefix, int64_t in, int64_t out, const int kernel[2], int groups)
{
    const char *name = prefix ? prefix : "";
    if (in <= 0 || out <= 0) {
        lt_set_error("%s: '%s': channels must be positive, got in %lld, out %lld", fn, name, (long long)in,
                     (long long)out);
        return false;
    }
    if (kernel[0] <= 0 || kernel[1] <= 0) {
        lt_set_error("%s: '%s': kernel must be positive, got (%d, %d)", fn, name, kernel[0], kernel[1]);
        return false;
    }
    if (groups < 1 || in % groups || out % groups) {
        lt_set_error("%s: '%s': in_channels %lld and out_channels %lld must be divisible by groups %d", fn, name,
                     (long long)in, (long long)out, groups);
        return false;
    }
    return true;
}

/* A NULL block is a caller bug; report it instead of crashing. */
static bool block_ok(const char *fn, const void *m)
{
    if (!m) lt_set_error("%s: block is NULL", fn);
    return m != NULL;
}

static void copy2(int dst[2], const int src[2])
{
    dst[0] = src[0];
    dst[1] = src[1];
}

/* ---------------- conv2d ---------------- */

int lt_conv2d_block_init(lt_conv2d_block *m, lt_params *p, const char *prefix, int64_t in_channels,
                         int64_t out_channels, const lt_conv2d_options *o, lt_rng *rng)
{
    static const char *const fn = "lt_conv2d_block_init";
    if (!m || !p || !o || !rng) return lt_set_error("%s: block, store, options and rng are required", fn);
    memset(m, 0, sizeof *m);
    const int groups = pos_or_one(o->groups);
    if (!conv_dims_ok(fn, prefix, in_channels, out_channels, o->kernel, groups)) return -1;
    const int64_t wshape[4] = {out_channels, in_channels / groups, o->kernel[0], o->kernel[1]};
    m->weight = lt_params_add(p, prefix, "weight", LT_F32, 4, wshape, true);
    if (!m->weight) return -1;
    if (!o->no_bias) {
        m->bias = lt_params_add(p, prefix, "bias", LT_F32, 1, &out_channels, true);
        if (!m->bias) return -1;
    }
    copy2(m->params.stride, o->stride);
    copy2(m->params.padding, o->padding);
    copy2(m->params.dilation, o->dilation);
    m->params.groups = groups;
    init_weight_bias(m->weight, m->bias, rng);
    return 0;
}

lt_tensor *lt_conv2d_block_forward(const lt_conv2d_block *m, lt_tensor *x)
{
    if (!block_ok("lt_conv2d_block_forward", m)) return NULL;
    return lt_conv2d(x, m->weight, m->bias, &m->params);
}

/* ---------------- conv_transpose2d ---------------- */

int lt_conv_transpose2d_block_init(lt_conv_transpose2d_block *m, lt_params *p, const char *prefix,
                                   int64_t in_channels, int64_t out_channels, const lt_conv_transpose2d_options *o,
                                   lt_rng *rng)
{
    static const char *const fn = "lt_conv_transpose2d_block_init";
    if (!m || !p || !o || !rng) return lt_set_error("%s: block, store, options and rng are required", fn);
    memset(m, 0, sizeof *m);
    const int groups = pos_or_one(o->groups);
    if (!conv_dims_ok(fn, prefix, in_channels, out_channels, o->kernel, groups)) return -1;
    /* weight [in, out/groups, kh, kw]: PyTorch's fan_in is size(1)*kh*kw. */
    const int64_t wshape[4] = {in_channels, out_channels / groups, o->kernel[0], o->kernel[1]};
    m->weight = lt_params_add(p, prefix, "weight", LT_F32, 4, wshape, true);
    if (!m->weight) return -1;
    if (!o->no_bias) {
        m->bias = lt_params_add(p, prefix, "bias", LT_F32, 1, &out_channels, true);
        if (!m->bias) return -1;
    }
    copy2(m->params.stride, o->stride);
    copy2(m->params.padding, o->padding);
    copy2(m->params.output_padding, o->output_padding);
    copy2(m->params.dilation, o->dilation);
    m->params.groups = groups;
    init_weight_bias(m->weight, m->bias, rng);
    return 0;
}

lt_tensor *lt_conv_transpose2d_block_forward(const lt_conv_transpose2d_block *m, lt_tensor *x)
{
    if (!block_ok("lt_conv_transpose2d_block_forward", m)) return NULL;
    return lt_conv_transpose2d(x, m->weight, m->bias, &m->params);
}

/* ---------------- linear ---------------- */

int lt_linear_block_init(lt_linear_block *m, lt_params *p, const char *prefix, int64_t in_features,
                         int64_t out_features, bool bias, lt_rng *rng)
{
    static const char *const fn = "lt_linear_block_init";
    if (!m || !p || !rng) return lt_set_error("%s: block, store and rng are required", fn);
    memset(m, 0, sizeof *m);
    if (in_features < 0 || out_features < 0)
        return lt_set_error("%s: '%s': features must not be negative, got in %lld, out %lld", fn,
                            prefix ? prefix : "", (long long)in_features, (long long)out_features);
    const int64_t wshape[2] = {out_features, in_features};
    m->weight = lt_params_add(p, prefix, "weight", LT_F32, 2, wshape, true);
    if (!m->weight) return -1;
    if (bias) {
        m->bias = lt_params_add(p, prefix, "bias", LT_F32, 1, &out_features, true);
        if (!m->bias) return -1;
    }
    init_weight_bias(m->weight, m->bias, rng);
    return 0;
}

lt_tensor *lt_linear_block_forward(const lt_linear_block *m, lt_tensor *x)
{
    if (!block_ok("lt_linear_block_forward", m)) return NULL;
    return lt_linear(x, m->weight, m->bias);
}

/* ---------------- batch_norm2d ---------------- */

int lt_batch_norm2d_block_init(lt_batch_norm2d_block *m, lt_params *p, const char *prefix, int64_t channels)
{
    static const char *const fn = "lt_batch_norm2d_block_init";
    if (!m || !p) return lt_set_error("%s: block and store are required", fn);
    memset(m, 0, sizeof *m);
    if (channels <= 0)
        return lt_set_error("%s: '%s': channels must be positive, got %lld", fn, prefix ? prefix : "",
                            (long long)channels);
    /* state_dict order of torch.nn.BatchNorm2d: parameters, then buffers. */
    m->weight = lt_params_add(p, prefix, "weight", LT_F32, 1, &channels, true);
    m->bias = m->weight ? lt_params_add(p, prefix, "bias", LT_F32, 1, &channels, true) : NULL;
    m->running_mean = m->bias ? lt_params_add(p, prefix, "running_mean", LT_F32, 1, &channels, false) : NULL;
    m->running_var = m->running_mean ? lt_params_add(p, prefix, "running_var", LT_F32, 1, &channels, false) : NULL;
    m->num_batches_tracked =
        m->running_var ? lt_params_add(p, prefix, "num_batches_tracked", LT_I64, 0, NULL, false) : NULL;
    if (!m->num_batches_tracked) return -1;
    lt_init_constant(m->weight, 1.0f);
    lt_init_constant(m->running_var, 1.0f); /* bias, running_mean, count: registered zero */
    m->eps = 1e-5f;
    m->momentum = 0.1f;
    return 0;
}

lt_tensor *lt_batch_norm2d_block_forward(lt_batch_norm2d_block *m, lt_tensor *x)
{
    if (!block_ok("lt_batch_norm2d_block_forward", m) || !x) return NULL;
    if (x->ndim != 4) {
        lt__fail("batch_norm2d", "expected 4D input [N,C,H,W], got %s (weight %s)", lt__shp(x), lt__shp(m->weight));
        return NULL;
    }
    const bool training = lt_is_training();
    lt_tensor *y = lt_batch_norm(x, m->running_mean, m->running_var, m->weight, m->bias, training, m->momentum,
                                 m->eps);
    if (y && training) ((int64_t *)m->num_batches_tracked->data)[0]++;
    return y;
}

/* ---------------- layer_norm ---------------- */

int lt_layer_norm_block_init(lt_layer_norm_block *m, lt_params *p, const char *prefix, int normalized_ndim,
                             const int64_t *normalized_shape)
{
    static const char *const fn = "lt_layer_norm_block_init";
    if (!m || !p || !normalized_shape) return lt_set_error("%s: block, store and shape are required", fn);
    memset(m, 0, sizeof *m);
    if (normalized_ndim < 1 || normalized_ndim > LT_MAX_DIMS)
        return lt_set_error("%s: '%s': normalized_ndim %d outside 1..%d", fn, prefix ? prefix : "", normalized_ndim,
                            LT_MAX_DIMS);
    m->weight = lt_params_add(p, prefix, "weight", LT_F32, normalized_ndim, normalized_shape, true);
    m->bias = m->weight ? lt_params_add(p, prefix, "bias", LT_F32, normalized_ndim, normalized_shape, true) : NULL;
    if (!m->bias) return -1;
    lt_init_constant(m->weight, 1.0f);
    m->normalized_ndim = normalized_ndim;
    m->eps = 1e-5f;
    return 0;
}

lt_tensor *lt_layer_norm_block_forward(const lt_layer_norm_block *m, lt_tensor *x)
{
    if (!block_ok("lt_layer_norm_block_forward", m)) return NULL;
    return lt_layer_norm(x, m->normalized_ndim, m->weight, m->bias, m->eps);
}
