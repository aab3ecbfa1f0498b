/* Example plugin: SmallCNN, the small-cnn-mnist benchmark model of
 * shared/bench/torch_train_bench.py as one classification node that reads
 * the image directly (no backbone):
 *
 *   nn.Sequential(Conv2d(C, 16, 3, padding=1), BatchNorm2d(16), ReLU(), MaxPool2d(2),
 *                 Conv2d(16, 32, 3, padding=1), BatchNorm2d(32), ReLU(), MaxPool2d(2),
 *                 Flatten(), Linear(32 * H/4 * W/4, n_classes))
 *
 * Convolutions keep their biases (PyTorch's default); initialisation is
 * PyTorch's default (the SDK blocks'). Parameters carry the Sequential's
 * state_dict names under the node's prefix ("<node>.0.weight", "<node>.1.running_mean",
 * ..., "<node>.9.bias"), so a torch state_dict loads by name.
 *
 * Config:
 *   - name: SmallCNN
 *     losses: [{name: CrossEntropyLoss}]
 *
 * Written against the installed SDK only: #include <ltrain/plugin.h>. */
#include <ltrain/plugin.h>

#include <stdio.h>

enum { NAME_MAX = 256 };

typedef struct small_cnn {
    lt_conv2d_block conv1, conv2;   /* .0, .4 */
    lt_batch_norm2d_block bn1, bn2; /* .1, .5 */
    lt_linear_block fc;             /* .9 */
} small_cnn;

static const lt_pool2d_params pool2 = {.kernel = {2, 2}};

static int small_cnn_init(void *state, lt_node_ctx *nc)
{
    small_cnn *s = state;
    const int64_t in = lt_node_in_channels(nc, 0), h = lt_node_in_height(nc, 0), w = lt_node_in_width(nc, 0);
    const int n_classes = lt_node_n_classes(nc);
    if (in <= 0 || h < 4 || w < 4 || n_classes < 1)
        return lt_set_error("SmallCNN '%s': needs an image input of at least 4x4 and n_classes >= 1, got %lld "
                            "channels, %lldx%lld, %d classes",
                            lt_node_name(nc), (long long)in, (long long)h, (long long)w, n_classes);
    const char *prefix = lt_node_prefix(nc);
    lt_params *p = lt_node_params(nc);
    lt_rng *rng = lt_node_rng(nc);
    const lt_conv2d_options conv = {.kernel = {3, 3}, .padding = {1, 1}};
    char n0[NAME_MAX], n1[NAME_MAX], n4[NAME_MAX], n5[NAME_MAX], n9[NAME_MAX];
    const int len = snprintf(n0, sizeof n0, "%s.0", prefix);
    if (len < 0 || len + 2 >= NAME_MAX) return lt_set_error("SmallCNN: node name '%s' is too long", prefix);
    snprintf(n1, sizeof n1, "%s.1", prefix);
    snprintf(n4, sizeof n4, "%s.4", prefix);
    snprintf(n5, sizeof n5, "%s.5", prefix);
    snprintf(n9, sizeof n9, "%s.9", prefix);
    /* Two 2x2 poolings floor the size twice, as MaxPool2d(2) does. */
    const int64_t flat = 32 * (h / 2 / 2) * (w / 2 / 2);
    if (lt_conv2d_block_init(&s->conv1, p, n0, in, 16, &conv, rng) || lt_batch_norm2d_block_init(&s->bn1, p, n1, 16) ||
        lt_conv2d_block_init(&s->conv2, p, n4, 16, 32, &conv, rng) || lt_batch_norm2d_block_init(&s->bn2, p, n5, 32) ||
        lt_linear_block_init(&s->fc, p, n9, flat, n_classes, true, rng))
        return -1;
    return 0;
}

static int small_cnn_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)nc;
    small_cnn *s = state;
    lt_tensor *x = lt_conv2d_block_forward(&s->conv1, in->tensor);
    x = lt_max_pool2d(lt_relu(lt_batch_norm2d_block_forward(&s->bn1, x)), &pool2);
    x = lt_conv2d_block_forward(&s->conv2, x);
    x = lt_max_pool2d(lt_relu(lt_batch_norm2d_block_forward(&s->bn2, x)), &pool2);
    x = lt_linear_block_forward(&s->fc, lt_flatten(x, 1, -1));
    if (!x) return -1;
    *out = lt_value_tensor(x);
    return 0;
}

static const lt_node_desc small_cnn_desc = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_node_desc),
        .kind = LT_DESC_NODE,
        .name = "SmallCNN",
        .summary = "benchmark classifier: two conv-BN-ReLU-maxpool stages and a linear layer, on the image",
    },
    .role = LT_NODE_HEAD,
    .task = "classification",
    .parser = "ClassificationParser",
    .attach_index = {.kind = LT_ATTACH_INDEX, .start = -1},
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .state_size = sizeof(small_cnn),
    .init = small_cnn_init,
    .forward = small_cnn_forward,
};

LT_PLUGIN("example_small_cnn", "1.0", &small_cnn_desc.header)
