/* conv2d (PyTorch's F.conv2d): stride, zero padding, dilation, groups
 * (depthwise included) and an optional bias. The arithmetic runs in the
 * convolution backend (kernels/backend.h); this file validates, shapes the
 * result and wires autograd:
 *   dx = backend.backward_data(dy, w),  dw, db = backend.backward_weight(x, dy). */
#include "../kernels/backend.h"

static const char *const OP = "conv2d";

typedef struct conv_saved {
    lt_conv_geom geom;
} conv_saved;

static void conv2d_backward(lt_node *node)
{
    const conv_saved *s = node->saved;
    lt_tensor *x = node->inputs[0], *w = node->inputs[1], *b = node->inputs[2];
    const float *g = node->out->grad;
    const lt_conv_backend *be = lt__conv_backend_for(&s->geom);
    bool fresh;
    float *dx = lt__grad_begin(x, &fresh); /* backward_data writes every element */
    if (dx) be->backward_data(OP, &s->geom, g, lt_f32(w), dx, !fresh);
    float *dw = lt__grad(w), *db = lt__grad(b);
    if (dw || db) be->backward_weight(OP, &s->geom, lt_f32(x), g, dw, db);
}

/* Positive stride/dilation (0 means 1) and non-negative padding. */
static bool read_params(const lt_conv2d_params *p, lt_conv_geom *g)
{
    lt_conv2d_params d = {{0, 0}, {0, 0}, {0, 0}, 0};
    if (p) d = *p;
    for (int i = 0; i < 2; i++)
        if (d.stride[i] < 0 || d.dilation[i] < 0 || d.padding[i] < 0) {
            lt__fail(OP, "stride (%d,%d) and dilation (%d,%d) must be positive and padding (%d,%d) non-negative",
                     d.stride[0], d.stride[1], d.dilation[0], d.dilation[1], d.padding[0], d.padding[1]);
            return false;
        }
    if (d.groups < 0) {
        lt__fail(OP, "groups must be positive, got %d", d.groups);
        return false;
    }
    g->stride_h = d.stride[0] ? d.stride[0] : 1;
    g->stride_w = d.stride[1] ? d.stride[1] : 1;
    g->dil_h = d.dilation[0] ? d.dilation[0] : 1;
    g->dil_w = d.dilation[1] ? d.dilation[1] : 1;
    g->pad_h = d.padding[0];
    g->pad_w = d.padding[1];
    g->groups = d.groups ? d.groups : 1;
    return true;
}

/* Fills the geometry from the shapes, or fails naming both. */
static bool conv_geometry(const lt_tensor *x, const lt_tensor *w, const lt_tensor *b, lt_conv_geom *g)
{
    if (!lt__check_dtype(OP, "input", x, LT_F32) || !lt__check_dtype(OP, "weight", w, LT_F32)) return false;
    if (b && !lt__check_dtype(OP, "bias", b, LT_F32)) return false;
    if (x->ndim != 4 || w->ndim != 4) {
        lt__fail(OP, "input %s must be [N,C,H,W] and weight %s [C_out,C_in/groups,kH,kW]", lt__shp(x), lt__shp(w));
        return false;
    }
    g->batch = x->shape[0];
    g->c_in = x->shape[1];
    g->h_in = x->shape[2];
    g->w_in = x->shape[3];
    g->c_out = w->shape[0];
    g->k_h = w->shape[2];
    g->k_w = w->shape[3];
    if (g->c_in == 0 || g->c_out == 0 || g->k_h == 0 || g->k_w == 0) {
        lt__fail(OP, "input %s and weight %s need at least one channel and a non-empty kernel", lt__shp(x),
                 lt__shp(w));
        return false;
    }
    if (g->c_in % g->groups || g->c_out % g->groups) {
        lt__fail(OP, "input %s has %lld channels and weight %s %lld output channels: both must be divisible by "
                     "groups=%lld", lt__shp(x), (long long)g->c_in, lt__shp(w), (long long)g->c_out,
                 (long long)g->groups);
        return false;
    }
    if (w->shape[1] * g->groups != g->c_in) {
        lt__fail(OP, "input %s has %lld channels but weight %s with groups=%lld expects %lld", lt__shp(x),
                 (long long)g->c_in, lt__shp(w), (long long)g->groups, (long long)(w->shape[1] * g->groups));
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != g->c_out)) {
        lt__fail(OP, "bias %s must be [%lld] for weight %s", lt__shp(b), (long long)g->c_out, lt__shp(w));
        return false;
    }
    const int64_t span_h = g->dil_h * (g->k_h - 1) + 1, span_w = g->dil_w * (g->k_w - 1) + 1;
    const int64_t padded_h = g->h_in + 2 * g->pad_h, padded_w = g->w_in + 2 * g->pad_w;
    if (padded_h < span_h || padded_w < span_w) {
        lt__fail(OP, "kernel of weight %s spans %lldx%lld with dilation (%lld,%lld), larger than input %s padded "
                     "to %lldx%lld", lt__shp(w), (long long)span_h, (long long)span_w, (long long)g->dil_h,
                 (long long)g->dil_w, lt__shp(x), (long long)padded_h, (long long)padded_w);
        return false;
    }
    g->h_out = (padded_h - span_h) / g->stride_h + 1;
    g->w_out = (padded_w - span_w) / g->stride_w + 1;
    return true;
}

lt_tensor *lt_conv2d(lt_tensor *x, lt_tensor *weight, lt_tensor *bias, const lt_conv2d_params *p)
{
    LT__PROFILE_OP(LT_OP_CONV2D);
    if (!x || !weight) return NULL;
    lt_conv_geom g;
    if (!read_params(p, &g) || !conv_geometry(x, weight, bias, &g)) return NULL;
    const int64_t shape[4] = {g.batch, g.c_out, g.h_out, g.w_out};
    lt_tensor *out = lt__result(OP, LT_F32, 4, shape);
    if (!out) return NULL;
    LT__PROFILE_FLOPS(2.0 * (double)out->numel * (double)(g.c_in / g.groups * g.k_h * g.k_w));
    const lt_conv_backend *be = lt__conv_backend_for(&g);
    if (be->forward(OP, &g, lt_f32(x), lt_f32(weight), bias ? lt_f32(bias) : NULL, lt_f32(out), false)) return NULL;
    lt_tensor *inputs[3] = {x, weight, bias};
    if (lt__wants_grad(3, inputs)) {
        lt_node *node = lt__record(out, LT_OP_CONV2D, conv2d_backward, 3, inputs, sizeof(conv_saved));
        if (!node) return NULL;
        ((conv_saved *)node->saved)->geom = g;
    }
    return out;
}
