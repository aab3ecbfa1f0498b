/* Example plugin: UNet, the unet-seg benchmark model of
 * shared/bench/torch_train_bench.py as one segmentation node that reads the
 * image directly and returns logits [B, n_classes, H, W]:
 *
 *   DC(a, b) = Conv(a, b, 3, p1, no bias)-BN-ReLU-Conv(b, b, 3, p1, no bias)-BN-ReLU
 *   e1 = DC(C, 16), e2 = DC(16, 32), e3 = DC(32, 64), e4 = DC(64, 128), each after a MaxPool2d(2)
 *   but the first; u3, u2, u1 = ConvTranspose2d(a, a/2, 2, stride 2) with bias for a = 128, 64, 32;
 *   d3 = DC(128, 64)(cat([u3(e4), e3])), d2 = DC(64, 32)(cat([u2(d3), e2])),
 *   d1 = DC(32, 16)(cat([u1(d2), e1])); out = Conv2d(16, n_classes, 1) with bias.
 *
 * The up-sampled map comes first in each concatenation. Initialisation is
 * PyTorch's default (the SDK blocks'). Parameters carry the torch module's
 * state_dict names and order under the node's prefix ("<node>.e1.0.weight",
 * "<node>.e1.1.running_var", "<node>.u3.bias", "<node>.out.weight", ...).
 * H and W must be multiples of 8 (three poolings, then three exact 2x
 * up-samplings).
 *
 * Config:
 *   - name: UNet
 *     losses: [{name: CrossEntropyLoss}]
 *
 * Written against the installed SDK only: #include <ltrain/plugin.h>. */
#include <ltrain/plugin.h>

#include <stdio.h>

enum { N_DOWN = 4, N_UP = 3, NAME_MAX = 256 };

/* Two conv-BN-ReLU: nn.Sequential indices 0, 1 and 3, 4. */
typedef struct double_conv {
    lt_conv2d_block conv1, conv2;
    lt_batch_norm2d_block bn1, bn2;
} double_conv;

typedef struct unet {
    double_conv enc[N_DOWN];           /* e1..e4 */
    lt_conv_transpose2d_block up[N_UP]; /* u3, u2, u1 */
    double_conv dec[N_UP];             /* d3, d2, d1 */
    lt_conv2d_block out;
} unet;

static const int enc_channels[N_DOWN] = {16, 32, 64, 128};
static const lt_pool2d_params pool2 = {.kernel = {2, 2}};

/* "<prefix>.<module><index>[.<sub>]" into buf; -1 when too long. */
static int param_name(char *buf, const char *prefix, const char *module, int index, int sub)
{
    const int len = sub < 0 ? snprintf(buf, NAME_MAX, "%s.%s%d", prefix, module, index)
                            : snprintf(buf, NAME_MAX, "%s.%s%d.%d", prefix, module, index, sub);
    if (len < 0 || len >= NAME_MAX) return lt_set_error("UNet: node name '%s' is too long", prefix);
    return 0;
}

static int double_conv_init(double_conv *dc, lt_node_ctx *nc, const char *module, int index, int64_t in, int64_t out)
{
    const lt_conv2d_options conv = {.kernel = {3, 3}, .padding = {1, 1}, .no_bias = true};
    const char *prefix = lt_node_prefix(nc);
    lt_params *p = lt_node_params(nc);
    char n[NAME_MAX];
    return param_name(n, prefix, module, index, 0) || lt_conv2d_block_init(&dc->conv1, p, n, in, out, &conv, lt_node_rng(nc)) ||
                   param_name(n, prefix, module, index, 1) || lt_batch_norm2d_block_init(&dc->bn1, p, n, out) ||
                   param_name(n, prefix, module, index, 3) ||
                   lt_conv2d_block_init(&dc->conv2, p, n, out, out, &conv, lt_node_rng(nc)) ||
                   param_name(n, prefix, module, index, 4) || lt_batch_norm2d_block_init(&dc->bn2, p, n, out)
               ? -1
               : 0;
}

static lt_tensor *double_conv_forward(double_conv *dc, lt_tensor *x)
{
    x = lt_relu(lt_batch_norm2d_block_forward(&dc->bn1, lt_conv2d_block_forward(&dc->conv1, x)));
    return lt_relu(lt_batch_norm2d_block_forward(&dc->bn2, lt_conv2d_block_forward(&dc->conv2, x)));
}

static int unet_init(void *state, lt_node_ctx *nc)
{
    unet *u = state;
    const int64_t in = lt_node_in_channels(nc, 0), h = lt_node_in_height(nc, 0), w = lt_node_in_width(nc, 0);
    const int n_classes = lt_node_n_classes(nc);
    if (in <= 0 || h <= 0 || w <= 0 || h % 8 || w % 8 || n_classes < 1)
        return lt_set_error("UNet '%s': needs an image whose height and width are multiples of 8 and n_classes >= 1, "
                            "got %lld channels, %lldx%lld, %d classes",
                            lt_node_name(nc), (long long)in, (long long)h, (long long)w, n_classes);
    const char *prefix = lt_node_prefix(nc);
    int64_t c = in;
    for (int i = 0; i < N_DOWN; i++) {
        if (double_conv_init(&u->enc[i], nc, "e", i + 1, c, enc_channels[i])) return -1;
        c = enc_channels[i];
    }
    const lt_conv_transpose2d_options up = {.kernel = {2, 2}, .stride = {2, 2}};
    char n[NAME_MAX];
    for (int i = 0; i < N_UP; i++) { /* u3 (128 -> 64), u2, u1 */
        const int64_t a = enc_channels[N_DOWN - 1 - i];
        if (param_name(n, prefix, "u", N_UP - i, -1) ||
            lt_conv_transpose2d_block_init(&u->up[i], lt_node_params(nc), n, a, a / 2, &up, lt_node_rng(nc)))
            return -1;
    }
    for (int i = 0; i < N_UP; i++) { /* d3 (128 -> 64), d2, d1 */
        const int64_t a = enc_channels[N_DOWN - 1 - i];
        if (double_conv_init(&u->dec[i], nc, "d", N_UP - i, a, a / 2)) return -1;
    }
    const int len = snprintf(n, sizeof n, "%s.out", prefix);
    if (len < 0 || len >= NAME_MAX) return lt_set_error("UNet: node name '%s' is too long", prefix);
    const lt_conv2d_options out = {.kernel = {1, 1}};
    return lt_conv2d_block_init(&u->out, lt_node_params(nc), n, enc_channels[0], n_classes, &out, lt_node_rng(nc));
}

static int unet_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)nc;
    unet *u = state;
    lt_tensor *skip[N_DOWN];
    lt_tensor *x = in->tensor;
    for (int i = 0; i < N_DOWN; i++) {
        if (i > 0) x = lt_max_pool2d(x, &pool2);
        x = skip[i] = double_conv_forward(&u->enc[i], x);
    }
    for (int i = 0; i < N_UP; i++) {
        lt_tensor *up = lt_conv_transpose2d_block_forward(&u->up[i], x);
        x = double_conv_forward(&u->dec[i], lt_concat((lt_tensor *[]){up, skip[N_DOWN - 2 - i]}, 2, 1));
    }
    x = lt_conv2d_block_forward(&u->out, x);
    if (!x) return -1;
    *out = lt_value_tensor(x);
    return 0;
}

/* NN Archive head metadata: the logits are not softmaxed. */
static const char *unet_head_config(void *state, lt_node_ctx *nc)
{
    (void)state;
    (void)nc;
    return "{\"is_softmax\": false}";
}

static const lt_node_desc unet_desc = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_node_desc),
        .kind = LT_DESC_NODE,
        .name = "UNet",
        .summary = "benchmark segmentation model: 4-level U-Net (16..128 channels), logits at the input size",
    },
    .role = LT_NODE_HEAD,
    .task = "segmentation",
    .parser = "SegmentationParser",
    .attach_index = {.kind = LT_ATTACH_INDEX, .start = -1},
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .state_size = sizeof(unet),
    .init = unet_init,
    .forward = unet_forward,
    .custom_head_config = unet_head_config,
};

LT_PLUGIN("example_unet", "1.0", &unet_desc.header)
