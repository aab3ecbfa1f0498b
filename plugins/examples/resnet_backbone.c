/* Example plugin: a ResNet backbone (He et al. 2015) built like
 * torchvision's resnet18 / resnet34 without the classifier: conv1 - bn1 -
 * relu - maxpool, then layer1..layer4 of BasicBlocks. forward returns the
 * four feature maps (strides 4, 8, 16, 32), so heads pick one with their
 * attach_index.
 *
 * Parameters are registered under torchvision's state_dict names below the
 * node's prefix ("backbone.layer1.0.conv1.weight"), in torchvision's order,
 * so torchvision weights load by name. Initialisation is torchvision's:
 * kaiming_normal(fan_out, relu) for convolutions, ones/zeros for batch norm.
 *
 * Config:
 *   - name: ExampleResNet
 *     alias: backbone
 *     variant: "18"            # or "34"
 *     params:
 *       zero_init_residual: false   # torchvision's option: last BN of each block starts at 0
 *
 * Written against the installed SDK only: #include <ltrain/plugin.h>. */
#include <ltrain/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { N_LAYERS = 4, MAX_BLOCKS = 6, NAME_MAX = 256 };

static const int layer_channels[N_LAYERS] = {64, 128, 256, 512};

typedef struct basic_block {
    lt_conv2d_block conv1, conv2;
    lt_batch_norm2d_block bn1, bn2;
    bool has_downsample; /* 1x1 conv + BN on the identity when the shape changes */
    lt_conv2d_block down_conv;
    lt_batch_norm2d_block down_bn;
} basic_block;

typedef struct resnet {
    lt_conv2d_block conv1;
    lt_batch_norm2d_block bn1;
    int n_blocks[N_LAYERS];
    basic_block blocks[N_LAYERS][MAX_BLOCKS];
} resnet;

/* Blocks per layer of each variant (torchvision's resnet18 / resnet34). */
static int variant_blocks(const char *variant, int out[N_LAYERS])
{
    static const int r18[N_LAYERS] = {2, 2, 2, 2}, r34[N_LAYERS] = {3, 4, 6, 3};
    const int *src = !strcmp(variant, "34") ? r34 : !strcmp(variant, "18") ? r18 : NULL;
    if (!src) return lt_set_error("ResNet: unknown variant '%s'", variant);
    memcpy(out, src, sizeof r18);
    return 0;
}

/* ---------------- init ---------------- */

static int conv_init(lt_conv2d_block *c, lt_node_ctx *nc, const char *name, int64_t in, int64_t out, int k,
                     int stride)
{
    const lt_conv2d_options o = {
        .kernel = {k, k},
        .stride = {stride, stride},
        .padding = {k / 2, k / 2},
        .no_bias = true,
    };
    if (lt_conv2d_block_init(c, lt_node_params(nc), name, in, out, &o, lt_node_rng(nc))) return -1;
    lt_init_kaiming_normal_relu(c->weight, lt_node_rng(nc), true);
    return 0;
}

/* Formats a parameter prefix into buf (NAME_MAX bytes); -1 when too long. */
static int fmt_name(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fmt_name(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int len = vsnprintf(buf, NAME_MAX, fmt, ap);
    va_end(ap);
    if (len < 0 || len >= NAME_MAX) return lt_set_error("ResNet: parameter name '%s...' is too long", buf);
    return 0;
}

static int bn_init(lt_batch_norm2d_block *bn, lt_node_ctx *nc, const char *name, int64_t channels)
{
    return lt_batch_norm2d_block_init(bn, lt_node_params(nc), name, channels);
}

static int block_init(basic_block *b, lt_node_ctx *nc, const char *name, int64_t in, int64_t out, int stride,
                      bool zero_init_residual)
{
    char n[NAME_MAX];
    if (fmt_name(n, "%s.conv1", name) || conv_init(&b->conv1, nc, n, in, out, 3, stride) ||
        fmt_name(n, "%s.bn1", name) || bn_init(&b->bn1, nc, n, out) ||
        fmt_name(n, "%s.conv2", name) || conv_init(&b->conv2, nc, n, out, out, 3, 1) ||
        fmt_name(n, "%s.bn2", name) || bn_init(&b->bn2, nc, n, out))
        return -1;
    if (zero_init_residual) lt_init_constant(b->bn2.weight, 0.0f);
    b->has_downsample = stride != 1 || in != out;
    if (b->has_downsample &&
        (fmt_name(n, "%s.downsample.0", name) || conv_init(&b->down_conv, nc, n, in, out, 1, stride) ||
         fmt_name(n, "%s.downsample.1", name) || bn_init(&b->down_bn, nc, n, out)))
        return -1;
    return 0;
}

static int resnet_init(void *state, lt_node_ctx *nc)
{
    resnet *r = state;
    const char *prefix = lt_node_prefix(nc);
    const bool zero_init_residual = lt_node_param_bool(nc, "zero_init_residual", false);
    const int64_t in_channels = lt_node_in_channels(nc, 0);
    if (in_channels <= 0) return -1;
    const char *variant = lt_node_variant(nc);
    if (variant_blocks(variant ? variant : "18", r->n_blocks)) return -1;

    char name[NAME_MAX];
    if (fmt_name(name, "%s.conv1", prefix) || conv_init(&r->conv1, nc, name, in_channels, 64, 7, 2) ||
        fmt_name(name, "%s.bn1", prefix) || bn_init(&r->bn1, nc, name, 64))
        return -1;

    int64_t in = 64;
    for (int l = 0; l < N_LAYERS; l++) {
        const int64_t out = layer_channels[l];
        for (int b = 0; b < r->n_blocks[l]; b++) {
            const int stride = l > 0 && b == 0 ? 2 : 1;
            if (fmt_name(name, "%s.layer%d.%d", prefix, l + 1, b) ||
                block_init(&r->blocks[l][b], nc, name, in, out, stride, zero_init_residual))
                return -1;
            in = out;
        }
    }
    return 0;
}

/* ---------------- forward ---------------- */

static lt_tensor *block_forward(basic_block *b, lt_tensor *x)
{
    lt_tensor *y = lt_relu(lt_batch_norm2d_block_forward(&b->bn1, lt_conv2d_block_forward(&b->conv1, x)));
    y = lt_batch_norm2d_block_forward(&b->bn2, lt_conv2d_block_forward(&b->conv2, y));
    lt_tensor *identity =
        b->has_downsample ? lt_batch_norm2d_block_forward(&b->down_bn, lt_conv2d_block_forward(&b->down_conv, x)) : x;
    return lt_relu(lt_add(y, identity));
}

static int resnet_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)nc;
    resnet *r = state;
    static const lt_pool2d_params maxpool = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
    lt_tensor *x = lt_relu(lt_batch_norm2d_block_forward(&r->bn1, lt_conv2d_block_forward(&r->conv1, in->tensor)));
    x = lt_max_pool2d(x, &maxpool);
    lt_tensor_list *features = lt_tensor_list_new(N_LAYERS);
    if (!features) return -1;
    for (int l = 0; l < N_LAYERS; l++) {
        for (int b = 0; b < r->n_blocks[l]; b++) x = block_forward(&r->blocks[l][b], x);
        features->items[l] = x;
    }
    if (!x) return -1; /* ops keep the first error and pass NULL along */
    *out = lt_value_list(N_LAYERS, features->items);
    return 0;
}

static const lt_node_desc resnet_desc = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_node_desc),
        .kind = LT_DESC_NODE,
        .name = "ExampleResNet",
        .summary = "ResNet-18/34 backbone returning the feature maps of layer1..layer4",
    },
    .role = LT_NODE_BACKBONE,
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_LIST,
    .variants = (const char *const[]){"18", "34", NULL},
    .state_size = sizeof(resnet),
    .init = resnet_init,
    .forward = resnet_forward,
};

LT_PLUGIN("example_resnet_backbone", "1.0", &resnet_desc.header)
