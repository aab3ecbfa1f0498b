/* Built-in backbone: ResNet (He et al. 2015) as luxonis-train's ResNet node,
 * which wraps torchvision's resnet18/34/50/101/152 without its classifier.
 * conv1 - bn1 - relu - maxpool, then layer1..layer4 of BasicBlocks (18, 34)
 * or Bottleneck blocks (50, 101, 152; torchvision's "v1.5": the stride sits
 * on the 3x3 convolution). forward returns the four feature maps (strides
 * 4, 8, 16, 32, or less with dilation), so heads pick one by attach_index.
 *
 * Parameters carry torchvision's state_dict names below the node prefix
 * ("backbone.layer1.0.conv1.weight", "...downsample.0.weight",
 * "...downsample.1.running_mean"), in torchvision's order; torchvision's
 * `fc` is not part of a backbone. Initialisation is torchvision's:
 * kaiming_normal(fan_out, relu) for convolutions, ones/zeros for batch norm,
 * and with zero_init_residual the last BN of each block starts at 0.
 *
 * Config (params as luxonis-train's, defaults in brackets):
 *   - name: ResNet
 *     variant: "18"                      # "18" (default), "34", "50", "101", "152"
 *     params:
 *       zero_init_residual: false
 *       groups: 1                        # Bottleneck variants only
 *       width_per_group: 64              # Bottleneck variants only
 *       replace_stride_with_dilation: [0, 0, 0]   # layer2..4 as 0/1, Bottleneck only
 *       download_weights: false          # ltrain cannot download: true is an error
 */
#include <ltrain/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_LAYERS = 4, NAME_MAX = 256, EXPANSION_BOTTLENECK = 4 };

static const int layer_planes[N_LAYERS] = {64, 128, 256, 512};

/* One residual block: BasicBlock uses conv1..2, Bottleneck conv1..3. */
typedef struct res_block {
    lt_conv2d_block conv[3];
    lt_batch_norm2d_block bn[3];
    bool has_downsample; /* 1x1 conv + BN on the identity when the shape changes */
    lt_conv2d_block down_conv;
    lt_batch_norm2d_block down_bn;
} res_block;

typedef struct resnet {
    lt_conv2d_block conv1;
    lt_batch_norm2d_block bn1;
    bool bottleneck;
    int n_blocks[N_LAYERS];
    res_block *blocks[N_LAYERS]; /* n_blocks[l] each (malloc'd: up to 36 blocks) */
} resnet;

/* Everything init needs besides the node context. */
typedef struct build_opts {
    bool zero_init_residual;
    int groups, width_per_group;
    bool dilate[N_LAYERS]; /* replace_stride_with_dilation, for layer2..4 */
} build_opts;

typedef struct variant_spec {
    const char *name;
    bool bottleneck;
    int blocks[N_LAYERS];
} variant_spec;

static const variant_spec variants[] = {
    {"18", false, {2, 2, 2, 2}},  {"34", false, {3, 4, 6, 3}},   {"50", true, {3, 4, 6, 3}},
    {"101", true, {3, 4, 23, 3}}, {"152", true, {3, 8, 36, 3}},
};

static const variant_spec *find_variant(const char *name)
{
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (!strcmp(variants[i].name, name)) return &variants[i];
    lt_set_error("ResNet: variant should be one of 18, 34, 50, 101, 152, got '%s'", name);
    return NULL;
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

/* ---------------- init ---------------- */

typedef struct conv_spec {
    int64_t in, out;
    int kernel, stride, dilation, groups;
} conv_spec;

/* torchvision's conv1x1 / conv3x3 / the 7x7 stem: no bias, padding = dilation
 * for 3x3 (k / 2 otherwise), kaiming_normal(fan_out). */
static int conv_init(lt_conv2d_block *c, lt_node_ctx *nc, const char *name, conv_spec s)
{
    const int pad = s.kernel == 3 ? s.dilation : s.kernel / 2;
    const lt_conv2d_options o = {
        .kernel = {s.kernel, s.kernel},
        .stride = {s.stride, s.stride},
        .padding = {pad, pad},
        .dilation = {s.dilation, s.dilation},
        .groups = s.groups,
        .no_bias = true,
    };
    if (lt_conv2d_block_init(c, lt_node_params(nc), name, s.in, s.out, &o, lt_node_rng(nc))) return -1;
    lt_init_kaiming_normal_relu(c->weight, lt_node_rng(nc), true);
    return 0;
}

static int conv_bn_init(res_block *b, int i, lt_node_ctx *nc, const char *block, conv_spec s)
{
    char n[NAME_MAX];
    if (fmt_name(n, "%s.conv%d", block, i + 1) || conv_init(&b->conv[i], nc, n, s)) return -1;
    return fmt_name(n, "%s.bn%d", block, i + 1) || lt_batch_norm2d_block_init(&b->bn[i], lt_node_params(nc), n, s.out)
               ? -1
               : 0;
}

/* A block from `in` channels to planes * expansion; `stride` and
 * `dilation` of its 3x3 convolution as torchvision's _make_layer gives them. */
static int block_init(res_block *b, lt_node_ctx *nc, const char *name, const resnet *r, const build_opts *o,
                      int64_t in, int64_t planes, int stride, int dilation)
{
    const int n_convs = r->bottleneck ? 3 : 2;
    const int64_t out = r->bottleneck ? planes * EXPANSION_BOTTLENECK : planes;
    if (r->bottleneck) {
        const int64_t width = (int64_t)((double)planes * (o->width_per_group / 64.0)) * o->groups;
        if (conv_bn_init(b, 0, nc, name, (conv_spec){in, width, 1, 1, 1, 1}) ||
            conv_bn_init(b, 1, nc, name, (conv_spec){width, width, 3, stride, dilation, o->groups}) ||
            conv_bn_init(b, 2, nc, name, (conv_spec){width, out, 1, 1, 1, 1}))
            return -1;
    } else if (conv_bn_init(b, 0, nc, name, (conv_spec){in, out, 3, stride, 1, 1}) ||
               conv_bn_init(b, 1, nc, name, (conv_spec){out, out, 3, 1, 1, 1})) {
        return -1;
    }
    if (o->zero_init_residual) lt_init_constant(b->bn[n_convs - 1].weight, 0.0f);
    b->has_downsample = stride != 1 || in != out;
    char n[NAME_MAX];
    if (b->has_downsample &&
        (fmt_name(n, "%s.downsample.0", name) ||
         conv_init(&b->down_conv, nc, n, (conv_spec){in, out, 1, stride, 1, 1}) ||
         fmt_name(n, "%s.downsample.1", name) || lt_batch_norm2d_block_init(&b->down_bn, lt_node_params(nc), n, out)))
        return -1;
    return 0;
}

/* Reads and checks the params; torchvision's BasicBlock supports none of the
 * Bottleneck-only options. */
static int read_opts(lt_node_ctx *nc, const resnet *r, build_opts *o)
{
    const char *node = lt_node_name(nc);
    o->zero_init_residual = lt_node_param_bool(nc, "zero_init_residual", false);
    o->groups = (int)lt_node_param_int(nc, "groups", 1);
    o->width_per_group = (int)lt_node_param_int(nc, "width_per_group", 64);
    if (lt_node_param_bool(nc, "download_weights", false))
        return lt_set_error("ResNet '%s': params.download_weights: ltrain cannot download torchvision weights; "
                            "load a converted checkpoint instead",
                            node);
    if (o->groups < 1 || o->width_per_group < 1)
        return lt_set_error("ResNet '%s': params.groups (%d) and params.width_per_group (%d) must be >= 1", node,
                            o->groups, o->width_per_group);
    if (lt_node_has_param(nc, "replace_stride_with_dilation")) {
        int64_t flags[N_LAYERS - 1] = {0};
        /* plugin.h reads int lists only: the flags are given as 0/1. */
        const int n = lt_node_param_ints(nc, "replace_stride_with_dilation", flags, N_LAYERS - 1);
        if (n != N_LAYERS - 1)
            return lt_set_error("ResNet '%s': params.replace_stride_with_dilation must be a list of 3 values (0/1) "
                                "for layer2..layer4",
                                node);
        for (int i = 0; i < N_LAYERS - 1; i++) o->dilate[i + 1] = flags[i] != 0;
    }
    const bool any_dilation = o->dilate[1] || o->dilate[2] || o->dilate[3];
    if (!r->bottleneck && (o->groups != 1 || o->width_per_group != 64 || any_dilation))
        return lt_set_error("ResNet '%s': groups, width_per_group and replace_stride_with_dilation need a "
                            "Bottleneck variant (50, 101, 152); BasicBlock supports only groups=1, "
                            "width_per_group=64 and no dilation",
                            node);
    return 0;
}

static void resnet_fini(void *state)
{
    resnet *r = state;
    for (int l = 0; l < N_LAYERS; l++) {
        free(r->blocks[l]);
        r->blocks[l] = NULL;
    }
}

static int layers_init(resnet *r, lt_node_ctx *nc, const build_opts *o)
{
    char name[NAME_MAX];
    int64_t in = 64;
    int dilation = 1;
    for (int l = 0; l < N_LAYERS; l++) {
        r->blocks[l] = calloc((size_t)r->n_blocks[l], sizeof *r->blocks[l]);
        if (!r->blocks[l]) return lt_set_error("ResNet '%s': out of memory", lt_node_name(nc));
        const int previous_dilation = dilation;
        int stride = l > 0 ? 2 : 1;
        if (o->dilate[l]) {
            dilation *= stride;
            stride = 1;
        }
        for (int b = 0; b < r->n_blocks[l]; b++) {
            if (fmt_name(name, "%s.layer%d.%d", lt_node_prefix(nc), l + 1, b) ||
                block_init(&r->blocks[l][b], nc, name, r, o, in, layer_planes[l], b == 0 ? stride : 1,
                           b == 0 ? previous_dilation : dilation))
                return -1;
            in = r->bottleneck ? layer_planes[l] * EXPANSION_BOTTLENECK : layer_planes[l];
        }
    }
    return 0;
}

static int resnet_init(void *state, lt_node_ctx *nc)
{
    resnet *r = state;
    const char *variant_name = lt_node_variant(nc);
    const variant_spec *v = find_variant(variant_name ? variant_name : "18");
    if (!v) return -1;
    r->bottleneck = v->bottleneck;
    memcpy(r->n_blocks, v->blocks, sizeof r->n_blocks);
    build_opts o = {0};
    if (read_opts(nc, r, &o)) return -1;
    const int64_t in_channels = lt_node_in_channels(nc, 0);
    if (in_channels <= 0) return -1;

    char name[NAME_MAX];
    if (fmt_name(name, "%s.conv1", lt_node_prefix(nc)) ||
        conv_init(&r->conv1, nc, name, (conv_spec){in_channels, 64, 7, 2, 1, 1}) ||
        fmt_name(name, "%s.bn1", lt_node_prefix(nc)) ||
        lt_batch_norm2d_block_init(&r->bn1, lt_node_params(nc), name, 64) || layers_init(r, nc, &o)) {
        resnet_fini(r); /* fini runs only after a successful init */
        return -1;
    }
    return 0;
}

/* ---------------- forward ---------------- */

static lt_tensor *conv_bn(res_block *b, int i, lt_tensor *x)
{
    return lt_batch_norm2d_block_forward(&b->bn[i], lt_conv2d_block_forward(&b->conv[i], x));
}

static lt_tensor *block_forward(res_block *b, bool bottleneck, lt_tensor *x)
{
    lt_tensor *y = lt_relu(conv_bn(b, 0, x));
    y = conv_bn(b, 1, y);
    if (bottleneck) y = conv_bn(b, 2, lt_relu(y));
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
        for (int b = 0; b < r->n_blocks[l]; b++) x = block_forward(&r->blocks[l][b], r->bottleneck, x);
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
        .name = "ResNet",
        .summary = "ResNet-18/34/50/101/152 backbone (torchvision names) returning layer1..layer4 feature maps",
    },
    .role = LT_NODE_BACKBONE,
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_LIST,
    .variants = (const char *const[]){"18", "34", "50", "101", "152", NULL},
    .state_size = sizeof(resnet),
    .init = resnet_init,
    .fini = resnet_fini,
    .forward = resnet_forward,
};

LT_PLUGIN("ltrain_resnet", "1.0", &resnet_desc.header)
