/* Names of the op kinds (ops.h), checked against the enum by size. */
#include "internal.h"

static const char *const op_names[] = {
    [LT_OP_NONE] = "none",
    [LT_OP_CONV2D] = "conv2d", [LT_OP_CONV_TRANSPOSE2D] = "conv_transpose2d", [LT_OP_LINEAR] = "linear",
    [LT_OP_MATMUL] = "matmul",
    [LT_OP_BATCH_NORM2D] = "batch_norm", [LT_OP_LAYER_NORM] = "layer_norm",
    [LT_OP_ADD] = "add", [LT_OP_SUB] = "sub", [LT_OP_MUL] = "mul", [LT_OP_DIV] = "div", [LT_OP_POW] = "pow",
    [LT_OP_ADD_SCALAR] = "add_scalar", [LT_OP_MUL_SCALAR] = "mul_scalar", [LT_OP_RSUB_SCALAR] = "rsub_scalar",
    [LT_OP_DIV_SCALAR] = "div_scalar", [LT_OP_POW_SCALAR] = "pow_scalar", [LT_OP_NEG] = "neg",
    [LT_OP_RELU] = "relu", [LT_OP_RELU6] = "relu6", [LT_OP_LEAKY_RELU] = "leaky_relu", [LT_OP_SIGMOID] = "sigmoid",
    [LT_OP_TANH] = "tanh", [LT_OP_SILU] = "silu", [LT_OP_HARDSWISH] = "hardswish",
    [LT_OP_HARDSIGMOID] = "hardsigmoid", [LT_OP_GELU] = "gelu", [LT_OP_SOFTPLUS] = "softplus", [LT_OP_EXP] = "exp",
    [LT_OP_LOG] = "log", [LT_OP_SQRT] = "sqrt", [LT_OP_ABS] = "abs", [LT_OP_CLAMP] = "clamp",
    [LT_OP_MAX_POOL2D] = "max_pool2d", [LT_OP_AVG_POOL2D] = "avg_pool2d",
    [LT_OP_ADAPTIVE_AVG_POOL2D] = "adaptive_avg_pool2d", [LT_OP_INTERPOLATE] = "interpolate",
    [LT_OP_CONCAT] = "concat", [LT_OP_SLICE] = "slice", [LT_OP_RESHAPE] = "reshape", [LT_OP_PERMUTE] = "permute",
    [LT_OP_PAD] = "pad", [LT_OP_COPY] = "copy",
    [LT_OP_SOFTMAX] = "softmax", [LT_OP_LOG_SOFTMAX] = "log_softmax", [LT_OP_SUM] = "sum", [LT_OP_MEAN] = "mean",
    [LT_OP_MAX] = "max", [LT_OP_ARGMAX] = "argmax",
    [LT_OP_WHERE] = "where", [LT_OP_MASKED_FILL] = "masked_fill", [LT_OP_GATHER] = "gather",
    [LT_OP_INDEX_SELECT] = "index_select",
    [LT_OP_DROPOUT] = "dropout",
    [LT_OP_CROSS_ENTROPY] = "cross_entropy", [LT_OP_BCE_WITH_LOGITS] = "binary_cross_entropy_with_logits",
    [LT_OP_MSE_LOSS] = "mse_loss", [LT_OP_L1_LOSS] = "l1_loss", [LT_OP_SMOOTH_L1_LOSS] = "smooth_l1_loss",
    [LT_OP_CAST] = "cast",
};
static_assert(sizeof op_names / sizeof op_names[0] == LT_OP_COUNT, "every op needs a name");

const char *lt_op_name(lt_op op)
{
    return (unsigned)op < LT_OP_COUNT && op_names[op] ? op_names[op] : "?";
}
