/* Example plugin: MLP, the mlp benchmark model of
 * shared/bench/torch_train_bench.py as one classification node that reads
 * the image directly and flattens it:
 *
 *   nn.Sequential(Flatten(), Linear(C*H*W, 512), ReLU(), Linear(512, 512), ReLU(),
 *                 Linear(512, n_classes))
 *
 * Initialisation is PyTorch's default (the SDK blocks'). Parameters carry
 * the Sequential's state_dict names under the node's prefix
 * ("<node>.1.weight", "<node>.3.*", "<node>.5.*").
 *
 * Config:
 *   - name: MLP
 *     params: {hidden: 512}   # optional width of both hidden layers
 *     losses: [{name: CrossEntropyLoss}]
 *
 * Written against the installed SDK only: #include <ltrain/plugin.h>. */
#include <ltrain/plugin.h>

#include <stdio.h>

enum { N_LINEAR = 3, NAME_MAX = 256 };

typedef struct mlp {
    lt_linear_block fc[N_LINEAR]; /* .1, .3, .5 */
} mlp;

static int mlp_init(void *state, lt_node_ctx *nc)
{
    mlp *s = state;
    const int64_t in = lt_node_in_channels(nc, 0) * lt_node_in_height(nc, 0) * lt_node_in_width(nc, 0);
    const int64_t hidden = lt_node_param_int(nc, "hidden", 512);
    const int n_classes = lt_node_n_classes(nc);
    if (in <= 0 || hidden < 1 || n_classes < 1)
        return lt_set_error("MLP '%s': needs an [N,C,H,W] input, params.hidden >= 1 and n_classes >= 1, got %lld "
                            "input features, hidden %lld, %d classes",
                            lt_node_name(nc), (long long)in, (long long)hidden, n_classes);
    const int64_t sizes[N_LINEAR + 1] = {in, hidden, hidden, n_classes};
    for (int i = 0; i < N_LINEAR; i++) {
        char name[NAME_MAX];
        const int len = snprintf(name, sizeof name, "%s.%d", lt_node_prefix(nc), 2 * i + 1);
        if (len < 0 || len >= NAME_MAX) return lt_set_error("MLP: node name '%s' is too long", lt_node_prefix(nc));
        if (lt_linear_block_init(&s->fc[i], lt_node_params(nc), name, sizes[i], sizes[i + 1], true, lt_node_rng(nc)))
            return -1;
    }
    return 0;
}

static int mlp_forward(void *state, lt_node_ctx *nc, const lt_value *in, lt_value *out)
{
    (void)nc;
    mlp *s = state;
    lt_tensor *x = lt_flatten(in->tensor, 1, -1);
    for (int i = 0; i < N_LINEAR; i++) {
        x = lt_linear_block_forward(&s->fc[i], x);
        if (i + 1 < N_LINEAR) x = lt_relu(x);
    }
    if (!x) return -1;
    *out = lt_value_tensor(x);
    return 0;
}

static const lt_node_desc mlp_desc = {
    .header = {
        .abi_version = LT_PLUGIN_ABI_VERSION,
        .size = sizeof(lt_node_desc),
        .kind = LT_DESC_NODE,
        .name = "MLP",
        .summary = "benchmark classifier: flatten, then Linear-ReLU-Linear-ReLU-Linear",
    },
    .role = LT_NODE_HEAD,
    .task = "classification",
    .parser = "ClassificationParser",
    .attach_index = {.kind = LT_ATTACH_INDEX, .start = -1},
    .input_kind = LT_VALUE_TENSOR,
    .output_kind = LT_VALUE_TENSOR,
    .state_size = sizeof(mlp),
    .init = mlp_init,
    .forward = mlp_forward,
};

LT_PLUGIN("example_mlp", "1.0", &mlp_desc.header)
