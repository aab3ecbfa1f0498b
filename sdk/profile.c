/* The op-kind profiler (profile.h): outermost-scope timing per kind. */
#include "internal.h"

#include <string.h>
#include <time.h>

bool lt__profile_on;
static _Thread_local int depth; /* open counting scopes on this thread */
static lt_profile_stats stats;

double lt_profile_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool lt_profile_enable(bool on)
{
    const bool was = lt__profile_on;
    lt__profile_on = on;
    return was;
}

bool lt_profile_enabled(void) { return lt__profile_on; }

void lt_profile_reset(void) { memset(&stats, 0, sizeof stats); }

void lt_profile_read(lt_profile_stats *out) { *out = stats; }

static const char *const kind_names[] = {
    [LT_PROFILE_CONV] = "conv",           [LT_PROFILE_GEMM] = "gemm",
    [LT_PROFILE_BATCH_NORM] = "batch_norm", [LT_PROFILE_ELEMENTWISE] = "elementwise",
    [LT_PROFILE_POOLING] = "pooling",     [LT_PROFILE_LOSS] = "loss",
    [LT_PROFILE_OPTIMIZER] = "optimizer", [LT_PROFILE_DATA] = "data",
    [LT_PROFILE_OTHER] = "other",
};
static_assert(sizeof kind_names / sizeof kind_names[0] == LT_PROFILE_KIND_COUNT, "every kind needs a name");

const char *lt_profile_kind_name(lt_profile_kind kind)
{
    return (unsigned)kind < LT_PROFILE_KIND_COUNT ? kind_names[kind] : "?";
}

lt_profile_kind lt_profile_kind_of(lt_op op)
{
    switch (op) {
    case LT_OP_CONV2D: case LT_OP_CONV_TRANSPOSE2D: return LT_PROFILE_CONV;
    case LT_OP_LINEAR: case LT_OP_MATMUL: return LT_PROFILE_GEMM;
    case LT_OP_BATCH_NORM2D: case LT_OP_LAYER_NORM: return LT_PROFILE_BATCH_NORM;
    case LT_OP_MAX_POOL2D: case LT_OP_AVG_POOL2D: case LT_OP_ADAPTIVE_AVG_POOL2D: return LT_PROFILE_POOLING;
    case LT_OP_CROSS_ENTROPY: case LT_OP_BCE_WITH_LOGITS: case LT_OP_MSE_LOSS: case LT_OP_L1_LOSS:
    case LT_OP_SMOOTH_L1_LOSS: return LT_PROFILE_LOSS;
    case LT_OP_ADD: case LT_OP_SUB: case LT_OP_MUL: case LT_OP_DIV: case LT_OP_POW: case LT_OP_ADD_SCALAR:
    case LT_OP_MUL_SCALAR: case LT_OP_RSUB_SCALAR: case LT_OP_DIV_SCALAR: case LT_OP_POW_SCALAR: case LT_OP_NEG:
    case LT_OP_RELU: case LT_OP_RELU6: case LT_OP_LEAKY_RELU: case LT_OP_SIGMOID: case LT_OP_TANH: case LT_OP_SILU:
    case LT_OP_HARDSWISH: case LT_OP_HARDSIGMOID: case LT_OP_GELU: case LT_OP_SOFTPLUS: case LT_OP_EXP:
    case LT_OP_LOG: case LT_OP_SQRT: case LT_OP_ABS: case LT_OP_CLAMP: case LT_OP_WHERE: case LT_OP_MASKED_FILL:
    case LT_OP_DROPOUT: case LT_OP_CAST: return LT_PROFILE_ELEMENTWISE;
    default: return LT_PROFILE_OTHER;
    }
}

lt_profile_scope lt__profile_begin_on(lt_profile_kind kind)
{
    if (depth++ > 0) return (lt_profile_scope){.state = 1, .kind = (int8_t)kind};
    return (lt_profile_scope){.state = 2, .kind = (int8_t)kind, .start = lt_profile_seconds()};
}

lt_profile_scope lt_profile_begin(lt_profile_kind kind)
{
    if (!lt__profile_on || (unsigned)kind >= LT_PROFILE_KIND_COUNT) return (lt_profile_scope){0};
    return lt__profile_begin_on(kind);
}

void lt_profile_end(lt_profile_scope scope)
{
    if (!scope.state) return;
    depth--;
    if (scope.state != 2 || !lt__profile_on) return;
    stats.seconds[scope.kind] += lt_profile_seconds() - scope.start;
    stats.calls[scope.kind]++;
}

void lt_profile_add_flops(double flops)
{
    if (lt__profile_on) stats.fwd_flops += flops;
}
