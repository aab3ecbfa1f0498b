/* Test nodes for tests/core/test_model.c. Each one is small and either
 * deterministic without parameters or self-checking, so the test can tell
 * from a packet what the core fed the node:
 *
 *   ListBackbone    list output: out[k] = (k+1) * avg_pool(x, 2^k), channels
 *                   repeated k+1 times -> [B, C*(k+1), H/2^k, W/2^k];
 *                   params: n_outputs (int, 4); variants "small", "large"
 *   TensorBackbone  tensor output: 2 * x
 *   TensorHead      classification head taking one tensor (attach inferred);
 *                   output mean over H, W -> [B, C]
 *   ListHead        head without task taking a list (attach inferred "all");
 *                   output the list of per-item means [B, C_k]
 *   SliceHead       as ListHead with the descriptor's attach_index [1, 3, 1]
 *   CustomIONode    own unwrap (first feature map, whatever attach_index) and
 *                   own wrap by mode: train {raw}, eval {raw, double},
 *                   export {export}; forward 3 * x
 *   PairNode        two input nodes (own unwrap: the last feature map of
 *                   each); output concat of their means [B, C1 + C2]
 *   ParamsNode      reads every kind of param; registers <prefix>.gain = scale;
 *                   forward x * gain + offset (when enabled), wrapped at
 *                   params.out_key, plus "sizes" when given
 *
 * Heads check at every forward that the shapes they were initialised with
 * (lt_node_in_channels & co.) are the shapes they receive. */
#include <ltrain/plugin.h>

#include <string.h>

enum { MAX_IN = 8 };

static lt_tensor *spatial_mean(lt_tensor *x) { return lt_mean(x, (const int[]){2, 3}, 2, false); }

/* ---------------- ListBackbone ---------------- */

typedef struct list_backbone {
    int n_outputs;
} list_backbone;

static int list_backbone_init(void *state, lt_node_ctx *nc)
{
    list_backbone *b = state;
    b->n_outputs = (int)lt_node_param_int(nc, "n_outputs", 4);
    if (b->n_outputs < 1 || b->n_outputs > MAX_IN)
        return lt_set_error("ListBackbone: n_outputs %d outside 1..%d", b->n_outputs, MAX_IN);
    return 0;
}

static int list_backbone_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)nc;
    const list_backbone *b = state;
    lt_tensor_list *l = lt_tensor_list_new(b->n_outputs);
    if (!l) return -1;
    for (int k = 0; k < b->n_outputs; k++) {
        const int s = 1 << k;
        const lt_pool2d_params pool = {.kernel = {s, s}};
        lt_tensor *p = lt_mul_scalar(lt_avg_pool2d(in->tensor, &pool), (float)(k + 1));
        lt_tensor *copies[MAX_IN];
        for (int c = 0; c <= k; c++) copies[c] = p;
        if (!(l->items[k] = lt_concat(copies, k + 1, 1))) return -1;
    }
    *out = lt_value_list(l->n, l->items);
    return 0;
}

static const lt_node_desc list_backbone_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "ListBackbone"),
    .role = LT_NODE_BACKBONE,
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_LIST,
    .variants = (const char *const[]){"small", "large", NULL},
    .state_size = sizeof(list_backbone),
    .init = list_backbone_init,
    .forward = list_backbone_forward,
};

/* ---------------- TensorBackbone ---------------- */

static int tensor_backbone_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)state;
    (void)nc;
    lt_tensor *y = lt_mul_scalar(in->tensor, 2.0f);
    if (!y) return -1;
    *out = lt_value_tensor(y);
    return 0;
}

static const lt_node_desc tensor_backbone_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "TensorBackbone"),
    .role = LT_NODE_BACKBONE,
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .forward = tensor_backbone_forward,
};

/* ---------------- heads checking their input shapes ---------------- */

typedef struct shape_check {
    int n;
    int64_t channels[MAX_IN], height[MAX_IN], width[MAX_IN];
} shape_check;

static int shape_check_init(void *state, lt_node_ctx *nc)
{
    shape_check *s = state;
    s->n = lt_node_n_inputs(nc);
    if (s->n < 1 || s->n > MAX_IN) return lt_set_error("%s: %d inputs outside 1..%d", lt_node_name(nc), s->n, MAX_IN);
    for (int i = 0; i < s->n; i++) {
        if ((s->channels[i] = lt_node_in_channels(nc, i)) < 0 || (s->height[i] = lt_node_in_height(nc, i)) < 0 ||
            (s->width[i] = lt_node_in_width(nc, i)) < 0)
            return -1;
    }
    return 0;
}

static int check_input(const shape_check *s, const lt_node_ctx *nc, int i, const lt_tensor *t)
{
    if (t->ndim != 4 || t->shape[1] != s->channels[i] || t->shape[2] != s->height[i] || t->shape[3] != s->width[i])
        return lt_set_error("%s: input %d has shape [%lld,%lld,%lld,%lld], init saw C=%lld H=%lld W=%lld",
                            lt_node_name(nc), i, (long long)t->shape[0], (long long)t->shape[1],
                            (long long)t->shape[2], (long long)t->shape[3], (long long)s->channels[i],
                            (long long)s->height[i], (long long)s->width[i]);
    return 0;
}

static int tensor_head_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    const shape_check *s = state;
    if (s->n != 1) return lt_set_error("TensorHead: init saw %d inputs", s->n);
    if (check_input(s, nc, 0, in->tensor)) return -1;
    lt_tensor *y = spatial_mean(in->tensor);
    if (!y) return -1;
    *out = lt_value_tensor(y);
    return 0;
}

static const lt_node_desc tensor_head_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "TensorHead"),
    .role = LT_NODE_HEAD,
    .task = "classification",
    .parser = "ClassificationParser",
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .state_size = sizeof(shape_check),
    .init = shape_check_init,
    .forward = tensor_head_forward,
};

static int list_head_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    const shape_check *s = state;
    if (in->list.n != s->n) return lt_set_error("%s: got %d inputs, init saw %d", lt_node_name(nc), in->list.n, s->n);
    lt_tensor_list *l = lt_tensor_list_new(in->list.n);
    if (!l) return -1;
    for (int i = 0; i < in->list.n; i++) {
        if (check_input(s, nc, i, in->list.items[i])) return -1;
        if (!(l->items[i] = spatial_mean(in->list.items[i]))) return -1;
    }
    *out = lt_value_list(l->n, l->items);
    return 0;
}

static const lt_node_desc list_head_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "ListHead"),
    .role = LT_NODE_HEAD,
    .input_kind = LT_VALUE_LIST,
    .output_kind = LT_VALUE_LIST,
    .state_size = sizeof(shape_check),
    .init = shape_check_init,
    .forward = list_head_forward,
};

static const lt_node_desc slice_head_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "SliceHead"),
    .role = LT_NODE_HEAD,
    .attach_index = {.kind = LT_ATTACH_SLICE, .start = 1, .stop = 3, .step = 1},
    .input_kind = LT_VALUE_LIST,
    .output_kind = LT_VALUE_LIST,
    .state_size = sizeof(shape_check),
    .init = shape_check_init,
    .forward = list_head_forward,
};

/* ---------------- CustomIONode ---------------- */

static int custom_unwrap(void *state, lt_node_ctx *nc, const lt_packet *const *inputs, int n_inputs, lt_value *in)
{
    (void)state;
    const lt_value *f = n_inputs == 1 ? lt_packet_get(inputs[0], "features") : NULL;
    if (!f || f->kind != LT_VALUE_LIST || f->list.n < 1)
        return lt_set_error("%s: wants one input packet with a list of features", lt_node_name(nc));
    *in = lt_value_tensor(f->list.items[0]);
    return 0;
}

static int custom_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)state;
    (void)nc;
    lt_tensor *y = lt_mul_scalar(in->tensor, 3.0f);
    if (!y) return -1;
    *out = lt_value_tensor(y);
    return 0;
}

static int custom_wrap(void *state, lt_node_ctx *nc, const lt_value *out, lt_packet *packet)
{
    (void)state;
    switch (lt_node_mode(nc)) {
    case LT_MODE_TRAIN: return lt_packet_set(packet, "raw", *out);
    case LT_MODE_EVAL:
        if (lt_packet_set(packet, "raw", *out)) return -1;
        return lt_packet_set(packet, "double", lt_value_tensor(lt_mul_scalar(out->tensor, 2.0f)));
    case LT_MODE_EXPORT: return lt_packet_set(packet, "export", *out);
    }
    return lt_set_error("CustomIONode: unknown mode");
}

static const char *custom_head_config(void *state, lt_node_ctx *nc)
{
    (void)state;
    (void)nc;
    return "{\"custom\": true}";
}

static const lt_node_desc custom_io_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "CustomIONode"),
    .role = LT_NODE_HEAD,
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .forward = custom_forward,
    .wrap = custom_wrap,
    .unwrap = custom_unwrap,
    .custom_head_config = custom_head_config,
};

/* ---------------- PairNode ---------------- */

static lt_tensor *last_feature(const lt_packet *p)
{
    const lt_value *f = lt_packet_get(p, "features");
    if (!f) return NULL;
    if (f->kind == LT_VALUE_TENSOR) return f->tensor;
    return f->list.n > 0 ? f->list.items[f->list.n - 1] : NULL;
}

static int pair_unwrap(void *state, lt_node_ctx *nc, const lt_packet *const *inputs, int n_inputs, lt_value *in)
{
    (void)state;
    if (n_inputs != 2) return lt_set_error("%s: wants 2 input packets, got %d", lt_node_name(nc), n_inputs);
    lt_tensor_list *l = lt_tensor_list_new(2);
    if (!l) return -1;
    for (int k = 0; k < 2; k++)
        if (!(l->items[k] = last_feature(inputs[k])))
            return lt_set_error("%s: input %d has no features (keys: %s)", lt_node_name(nc), k,
                                lt_packet_keys_str(inputs[k]));
    *in = lt_value_list(2, l->items);
    return 0;
}

static int pair_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)state;
    (void)nc;
    lt_tensor *means[2] = {spatial_mean(in->list.items[0]), spatial_mean(in->list.items[1])};
    lt_tensor *y = means[0] && means[1] ? lt_concat(means, 2, 1) : NULL;
    if (!y) return -1;
    *out = lt_value_tensor(y);
    return 0;
}

static const lt_node_desc pair_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "PairNode"),
    .role = LT_NODE_HEAD,
    .input_kind = LT_VALUE_LIST,
    .output_kind = LT_VALUE_TENSOR,
    .forward = pair_forward,
    .unwrap = pair_unwrap,
};

/* ---------------- ParamsNode ---------------- */

typedef struct params_node {
    lt_tensor *gain;
    double offset;
    bool enabled;
    const char *out_key;
    int n_sizes;
    int64_t sizes[4];
} params_node;

static int params_init(void *state, lt_node_ctx *nc)
{
    params_node *p = state;
    const double scale = lt_node_param_float(nc, "scale", 1.0);
    p->offset = (double)lt_node_param_int(nc, "offset", 0);
    p->enabled = lt_node_param_bool(nc, "enabled", true);
    p->out_key = lt_node_param_str(nc, "out_key", "features");
    p->n_sizes = lt_node_param_ints(nc, "sizes", p->sizes, 4);
    if (p->n_sizes > 4) return lt_set_error("ParamsNode: at most 4 sizes, got %d", p->n_sizes);
    const bool outside = lt_node_param_bool(nc, "outside", false);
    p->gain = lt_params_add(lt_node_params(nc), outside ? "elsewhere" : lt_node_prefix(nc), "gain", LT_F32, 1,
                            (const int64_t[]){1}, true);
    if (!p->gain) return -1;
    lt_init_constant(p->gain, (float)scale);
    return 0;
}

static int params_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)nc;
    const params_node *p = state;
    lt_tensor *y = p->enabled ? lt_add_scalar(lt_mul(in->tensor, p->gain), (float)p->offset) : in->tensor;
    if (!y) return -1;
    *out = lt_value_tensor(y);
    return 0;
}

static int params_wrap(void *state, lt_node_ctx *nc, const lt_value *out, lt_packet *packet)
{
    (void)nc;
    const params_node *p = state;
    if (lt_packet_set(packet, p->out_key, *out)) return -1;
    if (p->n_sizes < 0) return 0;
    float sizes[4];
    for (int i = 0; i < p->n_sizes; i++) sizes[i] = (float)p->sizes[i];
    lt_tensor *t = lt_from_data(LT_F32, 1, (const int64_t[]){p->n_sizes}, sizes);
    return t ? lt_packet_set(packet, "sizes", lt_value_tensor(t)) : -1;
}

static const lt_node_desc params_desc = {
    .header = LT_DESC_HEADER(LT_DESC_NODE, lt_node_desc, "ParamsNode"),
    .role = LT_NODE_NECK,
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .state_size = sizeof(params_node),
    .init = params_init,
    .forward = params_forward,
    .wrap = params_wrap,
};

LT_PLUGIN("test_model_nodes", "1.0", &list_backbone_desc.header, &tensor_backbone_desc.header,
          &tensor_head_desc.header, &list_head_desc.header, &slice_head_desc.header, &custom_io_desc.header,
          &pair_desc.header, &params_desc.header)
