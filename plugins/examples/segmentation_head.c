/* Example plugin: the upstream guide's CustomSegmentationHead. It takes the
 * last feature map of its input node (attach_index -1), upsamples it with
 * four UpBlocks (256, 128, 64, 32 channels) and maps it to n_classes logits
 * with a 1x1 convolution. UpBlock is luxonis-train's: ConvTranspose2d(k=2,
 * s=2) doubling the resolution, then Conv2d(3x3, no bias) + BatchNorm2d +
 * ReLU. Four blocks give x16; when that is not the original input size (a
 * stride-32 backbone leaves x2 to go), the logits are resized bilinearly to
 * it, so the packet's "segmentation" is [B, n_classes, H, W] at the input
 * size.
 *
 * State_dict names match the PyTorch module (up1.0.weight for the
 * transposed conv, up1.1.0.weight / up1.1.1.* for its ConvModule,
 * final.weight / final.bias) under the node's prefix.
 *
 * Config:
 *   - name: CustomSegmentationHead
 *     inputs: [backbone]
 *     params:
 *       n_classes: 3     # optional; the dataset's by default
 *
 * Written against the installed SDK only: #include <ltrain/plugin.h>. */
#include <ltrain/plugin.h>

#include <stdarg.h>
#include <stdio.h>

enum { N_UP = 4, NAME_MAX = 256 };

static const int up_channels[N_UP] = {256, 128, 64, 32};

typedef struct up_block {
    lt_conv_transpose2d_block up; /* .0 */
    lt_conv2d_block conv;         /* .1.0 */
    lt_batch_norm2d_block bn;     /* .1.1 */
} up_block;

typedef struct seg_head {
    up_block up[N_UP];
    lt_conv2d_block final;
    int64_t n_classes;
    int64_t out_h, out_w; /* original input size */
} seg_head;

/* Formats a parameter prefix into buf (NAME_MAX bytes); -1 when too long. */
static int fmt_name(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fmt_name(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const int len = vsnprintf(buf, NAME_MAX, fmt, ap);
    va_end(ap);
    if (len < 0 || len >= NAME_MAX)
        return lt_set_error("CustomSegmentationHead: parameter name '%s...' is too long", buf);
    return 0;
}

static int up_block_init(up_block *b, lt_node_ctx *nc, const char *name, int64_t in, int64_t out)
{
    char n[NAME_MAX];
    const lt_conv_transpose2d_options up = {.kernel = {2, 2}, .stride = {2, 2}};
    const lt_conv2d_options conv = {.kernel = {3, 3}, .padding = {1, 1}, .no_bias = true};
    if (fmt_name(n, "%s.0", name) ||
        lt_conv_transpose2d_block_init(&b->up, lt_node_params(nc), n, in, out, &up, lt_node_rng(nc)))
        return -1;
    if (fmt_name(n, "%s.1.0", name) ||
        lt_conv2d_block_init(&b->conv, lt_node_params(nc), n, out, out, &conv, lt_node_rng(nc)))
        return -1;
    return fmt_name(n, "%s.1.1", name) || lt_batch_norm2d_block_init(&b->bn, lt_node_params(nc), n, out) ? -1 : 0;
}

static int seg_head_init(void *state, lt_node_ctx *nc)
{
    seg_head *h = state;
    const char *prefix = lt_node_prefix(nc);
    h->n_classes = lt_node_param_int(nc, "n_classes", lt_node_n_classes(nc));
    if (h->n_classes <= 0)
        return lt_set_error("CustomSegmentationHead '%s': needs n_classes > 0 (the dataset's, or params.n_classes), "
                            "got %lld", lt_node_name(nc), (long long)h->n_classes);
    int64_t in = lt_node_in_channels(nc, 0);
    if (in <= 0) return -1;
    char name[NAME_MAX];
    for (int i = 0; i < N_UP; i++) {
        if (fmt_name(name, "%s.up%d", prefix, i + 1) || up_block_init(&h->up[i], nc, name, in, up_channels[i]))
            return -1;
        in = up_channels[i];
    }
    const lt_conv2d_options final = {.kernel = {1, 1}};
    if (fmt_name(name, "%s.final", prefix) ||
        lt_conv2d_block_init(&h->final, lt_node_params(nc), name, in, h->n_classes, &final, lt_node_rng(nc)))
        return -1;
    const int64_t *shape = lt_node_original_in_shape(nc);
    h->out_h = shape[2];
    h->out_w = shape[3];
    return 0;
}

static lt_tensor *up_block_forward(up_block *b, lt_tensor *x)
{
    x = lt_conv_transpose2d_block_forward(&b->up, x);
    return lt_relu(lt_batch_norm2d_block_forward(&b->bn, lt_conv2d_block_forward(&b->conv, x)));
}

static int seg_head_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)nc;
    seg_head *h = state;
    lt_tensor *x = in->tensor;
    for (int i = 0; i < N_UP; i++) x = up_block_forward(&h->up[i], x);
    x = lt_conv2d_block_forward(&h->final, x);
    if (x && (x->shape[2] != h->out_h || x->shape[3] != h->out_w)) {
        const lt_interpolate_params resize = {.mode = LT_INTERP_BILINEAR, .size = {h->out_h, h->out_w}};
        x = lt_interpolate(x, &resize);
    }
    if (!x) return -1;
    *out = lt_value_tensor(x);
    return 0;
}

/* NN Archive head metadata: the logits are not softmaxed. */
static const char *seg_head_config(void *state, lt_node_ctx *nc)
{
    (void)state;
    (void)nc;
    return "{\"is_softmax\": false}";
}

static const lt_node_desc seg_head_desc = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_node_desc),
        .kind = LT_DESC_NODE,
        .name = "CustomSegmentationHead",
        .summary = "segmentation head: 4 UpBlocks and a 1x1 conv to n_classes, at the input size",
    },
    .role = LT_NODE_HEAD,
    .task = "segmentation",
    .parser = "SegmentationParser",
    .attach_index = {.kind = LT_ATTACH_INDEX, .start = -1},
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .state_size = sizeof(seg_head),
    .init = seg_head_init,
    .forward = seg_head_forward,
    .custom_head_config = seg_head_config,
};

LT_PLUGIN("example_segmentation_head", "1.0", &seg_head_desc.header)
