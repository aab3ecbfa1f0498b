/* Built-in head: luxonis-train's ClassificationHead. Global average pooling,
 * flatten, dropout, and one linear layer to n_classes logits:
 *
 *     self.head = nn.Sequential(AdaptiveAvgPool2d(1), Flatten(), Dropout(p), Linear(C, n_classes))
 *
 * so the linear layer's state_dict names are "<prefix>.head.3.weight" and
 * "<prefix>.head.3.bias" (PyTorch's default Linear initialisation), and
 * PyTorch weights load by name. Dropout is active in training mode only.
 * The packet's "classification" is the [B, n_classes] logits (no softmax).
 *
 * Config:
 *   - name: ClassificationHead
 *     inputs: [backbone]
 *     params:
 *       dropout_rate: 0.2      # in [0, 1]
 *       n_classes: 10          # optional; the dataset's by default
 */
#include <ltrain/plugin.h>

#include <stdio.h>

typedef struct cls_head {
    lt_linear_block fc; /* head.3 */
    float dropout_rate;
} cls_head;

static int cls_head_init(void *state, lt_node_ctx *nc)
{
    cls_head *h = state;
    const char *node = lt_node_name(nc);
    const double p = lt_node_param_float(nc, "dropout_rate", 0.2);
    if (!(p >= 0.0 && p <= 1.0))
        return lt_set_error("ClassificationHead '%s': params.dropout_rate must be in [0, 1], got %g", node, p);
    h->dropout_rate = (float)p;
    const int64_t n_classes = lt_node_param_int(nc, "n_classes", lt_node_n_classes(nc));
    if (n_classes <= 0)
        return lt_set_error("ClassificationHead '%s': needs n_classes > 0 (the dataset's, or params.n_classes), "
                            "got %lld",
                            node, (long long)n_classes);
    const int64_t in_channels = lt_node_in_channels(nc, 0);
    if (in_channels <= 0) return -1;
    char name[256];
    const int len = snprintf(name, sizeof name, "%s.head.3", lt_node_prefix(nc));
    if (len < 0 || (size_t)len >= sizeof name)
        return lt_set_error("ClassificationHead '%s': parameter prefix is too long", node);
    return lt_linear_block_init(&h->fc, lt_node_params(nc), name, in_channels, n_classes, true, lt_node_rng(nc));
}

static int cls_head_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    cls_head *h = state;
    lt_tensor *x = in->tensor;
    char shape[64];
    if (x && x->ndim != 4)
        return lt_set_error("ClassificationHead '%s': expects a feature map [B,C,H,W], got %s", lt_node_name(nc),
                            lt_shape_str(x, shape, sizeof shape));
    x = lt_flatten(lt_adaptive_avg_pool2d(x, 1, 1), 1, -1);
    x = lt_linear_block_forward(&h->fc, lt_dropout(x, h->dropout_rate));
    if (!x) return -1;
    *out = lt_value_tensor(x);
    return 0;
}

/* NN Archive head metadata: the logits are not softmaxed. */
static const char *cls_head_config(void *state, lt_node_ctx *nc)
{
    (void)state;
    (void)nc;
    return "{\"is_softmax\": false}";
}

static const lt_node_desc cls_head_desc = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_node_desc),
        .kind = LT_DESC_NODE,
        .name = "ClassificationHead",
        .summary = "classification head: global average pool, dropout, linear to n_classes logits",
    },
    .role = LT_NODE_HEAD,
    .task = "classification",
    .parser = "ClassificationParser",
    .attach_index = {.kind = LT_ATTACH_INDEX, .start = -1},
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .state_size = sizeof(cls_head),
    .init = cls_head_init,
    .forward = cls_head_forward,
    .custom_head_config = cls_head_config,
};

LT_PLUGIN("ltrain_classification_head", "1.0", &cls_head_desc.header)
