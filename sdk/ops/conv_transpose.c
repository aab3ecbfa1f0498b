/* conv_transpose2d (PyTorch's F.conv_transpose2d): stride, padding,
 * output_padding, dilation, groups and an optional bias.
 *
 * A transposed convolution is the input-gradient of a convolution, so it
 * runs on the same backend passes with the roles swapped. With the
 * equivalent conv2d   x_c [N, C_out, Ho, Wo] -> y_c [N, C_in, H, W]
 * (weight [C_in, C_out/groups, kh, kw] read as conv weight [c_out, c_in/g, ..]):
 *   forward           out = backward_data(dy := x)
 *   grad of x         dx += forward(x_c := dout)
 *   grad of weight    dw += backward_weight(x_c := dout, dy := x)
 *   grad of bias      db += per-channel sums of dout */
#include "../kernels/backend.h"

static const char *const OP = "conv_transpose2d";

typedef struct convt_saved {
    lt_conv_geom geom; /* the equivalent conv2d */
} convt_saved;

static void conv_transpose2d_backward(lt_node *node)
{
    const convt_saved *s = node->saved;
    const lt_conv_geom *g = &s->geom;
    lt_tensor *x = node->inputs[0], *w = node->inputs[1], *b = node->inputs[2];
    const float *dout = node->out->grad;
    const lt_conv_backend *be = lt__conv_backend_for(g);
    bool fresh;
    float *dx = lt__grad_begin(x, &fresh); /* forward writes every element */
    if (dx) be->forward(OP, g, dout, lt_f32(w), NULL, dx, !fresh);
    float *dw = lt__grad(w);
    if (dw) be->backward_weight(OP, g, dout, lt_f32(x), dw, NULL);
    float *db = lt__grad(b);
    if (db) lt__conv_bias_grad(dout, g->batch, g->c_in, g->h_in * g->w_in, db);
}

typedef struct convt_params {
    int64_t stride[2], padding[2], output_padding[2], dilation[2], groups;
} convt_params;

static bool read_params(const lt_conv_transpose2d_params *p, convt_params *out)
{
    lt_conv_transpose2d_params d = {{0, 0}, {0, 0}, {0, 0}, {0, 0}, 0};
    if (p) d = *p;
    for (int i = 0; i < 2; i++)
        if (d.stride[i] < 0 || d.dilation[i] < 0 || d.padding[i] < 0 || d.output_padding[i] < 0) {
            lt__fail(OP, "stride (%d,%d) and dilation (%d,%d) must be positive, padding (%d,%d) and output_padding "
                         "(%d,%d) non-negative", d.stride[0], d.stride[1], d.dilation[0], d.dilation[1],
                     d.padding[0], d.padding[1], d.output_padding[0], d.output_padding[1]);
            return false;
        }
    if (d.groups < 0) {
        lt__fail(OP, "groups must be positive, got %d", d.groups);
        return false;
    }
    for (int i = 0; i < 2; i++) {
        out->stride[i] = d.stride[i] ? d.stride[i] : 1;
        out->dilation[i] = d.dilation[i] ? d.dilation[i] : 1;
        out->padding[i] = d.padding[i];
        out->output_padding[i] = d.output_padding[i];
        /* PyTorch's rule: the extra rows must come from a stride or dilation gap. */
        if (out->output_padding[i] >= out->stride[i] && out->output_padding[i] >= out->dilation[i]) {
            lt__fail(OP, "output_padding (%d,%d) must be smaller than either stride (%d,%d) or dilation (%d,%d)",
                     d.output_padding[0], d.output_padding[1], d.stride[0] ? d.stride[0] : 1,
                     d.stride[1] ? d.stride[1] : 1, d.dilation[0] ? d.dilation[0] : 1,
                     d.dilation[1] ? d.dilation[1] : 1);
            return false;
        }
    }
    out->groups = d.groups ? d.groups : 1;
    return true;
}

/* The equivalent conv2d of x [N,C_in,H,W] with weight [C_in,C_out/groups,kh,kw]. */
static bool transpose_geometry(const lt_tensor *x, const lt_tensor *w, const lt_tensor *b, const convt_params *p,
                               lt_conv_geom *g)
{
    if (!lt__check_dtype(OP, "input", x, LT_F32) || !lt__check_dtype(OP, "weight", w, LT_F32)) return false;
    if (b && !lt__check_dtype(OP, "bias", b, LT_F32)) return false;
    if (x->ndim != 4 || w->ndim != 4) {
        lt__fail(OP, "input %s must be [N,C,H,W] and weight %s [C_in,C_out/groups,kH,kW]", lt__shp(x), lt__shp(w));
        return false;
    }
    const int64_t c_in = x->shape[1], groups = p->groups;
    if (c_in == 0 || w->shape[1] == 0 || w->shape[2] == 0 || w->shape[3] == 0) {
        lt__fail(OP, "input %s and weight %s need at least one channel and a non-empty kernel", lt__shp(x),
                 lt__shp(w));
        return false;
    }
    if (w->shape[0] != c_in) {
        lt__fail(OP, "input %s has %lld channels but weight %s expects %lld (weight is [C_in,C_out/groups,kH,kW])",
                 lt__shp(x), (long long)c_in, lt__shp(w), (long long)w->shape[0]);
        return false;
    }
    if (c_in % groups) {
        lt__fail(OP, "input %s has %lld channels, not divisible by groups=%lld (weight %s)", lt__shp(x),
                 (long long)c_in, (long long)groups, lt__shp(w));
        return false;
    }
    const int64_t c_out = w->shape[1] * groups;
    if (b && (b->ndim != 1 || b->shape[0] != c_out)) {
        lt__fail(OP, "bias %s must be [%lld] for weight %s with groups=%lld", lt__shp(b), (long long)c_out, lt__shp(w),
                 (long long)groups);
        return false;
    }
    int64_t size[2];
    for (int i = 0; i < 2; i++) {
        size[i] = (x->shape[2 + i] - 1) * p->stride[i] - 2 * p->padding[i] + p->dilation[i] * (w->shape[2 + i] - 1) +
                  p->output_padding[i] + 1;
        if (size[i] < 1) {
            lt__fail(OP, "input %s with weight %s, stride %lld, padding %lld and dilation %lld gives output size "
                         "%lld in dimension %d: too small", lt__shp(x), lt__shp(w), (long long)p->stride[i],
                     (long long)p->padding[i], (long long)p->dilation[i], (long long)size[i], 2 + i);
            return false;
        }
    }
    *g = (lt_conv_geom){
        .batch = x->shape[0],
        .c_in = c_out, .h_in = size[0], .w_in = size[1],
        .c_out = c_in, .h_out = x->shape[2], .w_out = x->shape[3],
        .k_h = w->shape[2], .k_w = w->shape[3],
        .stride_h = p->stride[0], .stride_w = p->stride[1],
        .pad_h = p->padding[0], .pad_w = p->padding[1],
        .dil_h = p->dilation[0], .dil_w = p->dilation[1],
        .groups = groups,
    };
    return true;
}

lt_tensor *lt_conv_transpose2d(lt_tensor *x, lt_tensor *weight, lt_tensor *bias, const lt_conv_transpose2d_params *p)
{
    LT__PROFILE_OP(LT_OP_CONV_TRANSPOSE2D);
    if (!x || !weight) return NULL;
    convt_params prm;
    lt_conv_geom g;
    if (!read_params(p, &prm) || !transpose_geometry(x, weight, bias, &prm, &g)) return NULL;
    const int64_t shape[4] = {g.batch, g.c_in, g.h_in, g.w_in};
    lt_tensor *out = lt__result(OP, LT_F32, 4, shape);
    if (!out) return NULL;
    /* g is the equivalent conv's: c_in is this layer's output channels. */
    LT__PROFILE_FLOPS(2.0 * (double)x->numel * (double)(g.c_in / g.groups * g.k_h * g.k_w));
    const lt_conv_backend *be = lt__conv_backend_for(&g);
    if (be->backward_data(OP, &g, lt_f32(x), lt_f32(weight), lt_f32(out), false)) return NULL;
    if (bias) lt__conv_add_bias(lt_f32(out), lt_f32(bias), g.batch, g.c_in, g.h_in * g.w_in);
    lt_tensor *inputs[3] = {x, weight, bias};
    if (lt__wants_grad(3, inputs)) {
        lt_node *node = lt__record(out, LT_OP_CONV_TRANSPOSE2D, conv_transpose2d_backward, 3, inputs,
                                   sizeof(convt_saved));
        if (!node) return NULL;
        ((convt_saved *)node->saved)->geom = g;
    }
    return out;
}
