/* Op-kind profiler: where a step's time goes (conv, gemm, batch norm,
 * elementwise, pooling, loss, optimizer, data, other), and the forward
 * FLOPs of the conv/linear layers that ran. `ltrain benchmark` reads it;
 * plugin authors can use it to time their own code.
 *
 *   lt_profile_enable(true);
 *   lt_profile_reset();
 *   ... forward, loss, backward, optimizer step ...
 *   lt_profile_stats s;
 *   lt_profile_read(&s);   // s.seconds[LT_PROFILE_CONV], s.fwd_flops, ...
 *
 * What is timed: every SDK op's forward (from its entry to its return) and
 * every tape node's backward (per node, under its op's kind), the
 * optimizer's step and zero_grad, and any region a caller wraps in
 * lt_profile_begin / lt_profile_end. Scopes nest: only the outermost one
 * counts, so an op that calls other ops (or a region around several ops)
 * is charged once, to its own kind. Time outside every scope is not
 * recorded; a caller that times a whole step charges the rest to "other".
 *
 * FLOPs follow the usual convention (2 x multiply-adds, from the actual
 * shapes, bias ignored): conv2d 2*numel(out)*C_in/groups*kH*kW,
 * conv_transpose2d 2*numel(in)*C_out/groups*kH*kW, linear
 * 2*numel(out)*in_features. They are counted on every forward call made
 * while enabled, also when nested inside another scope.
 *
 * Cost: when disabled each op pays one predictable branch. The profiler
 * state is process-wide: enable it while ops run on one thread at a time
 * (ops may use OpenMP inside; that is fine). Not thread-safe otherwise. */
#ifndef LTRAIN_PROFILE_H
#define LTRAIN_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "ops.h"

typedef enum lt_profile_kind {
    LT_PROFILE_CONV,        /* conv2d, conv_transpose2d */
    LT_PROFILE_GEMM,        /* linear, matmul */
    LT_PROFILE_BATCH_NORM,  /* batch_norm, layer_norm */
    LT_PROFILE_ELEMENTWISE, /* unary/binary/scalar math, activations, where, masked_fill, dropout, cast */
    LT_PROFILE_POOLING,     /* max/avg/adaptive-avg pooling */
    LT_PROFILE_LOSS,        /* loss ops (cross_entropy, bce, mse, l1, smooth_l1) */
    LT_PROFILE_OPTIMIZER,   /* lt_optimizer_step, lt_optimizer_zero_grad */
    LT_PROFILE_DATA,        /* batch preparation (only what callers mark) */
    LT_PROFILE_OTHER,       /* every other op: softmax, reductions, shapes, concat, pad, interpolate, ... */
    LT_PROFILE_KIND_COUNT
} lt_profile_kind;

typedef struct lt_profile_stats {
    double seconds[LT_PROFILE_KIND_COUNT]; /* wall time in outermost scopes of each kind */
    int64_t calls[LT_PROFILE_KIND_COUNT];  /* outermost scopes of each kind (forward calls + backward nodes) */
    double fwd_flops;                      /* forward FLOPs of conv2d, conv_transpose2d and linear */
} lt_profile_stats;

/* Turns recording on or off (off at start). Returns the previous state. */
LT_API bool lt_profile_enable(bool on);
LT_API bool lt_profile_enabled(void);
/* Zeroes the recorded stats. */
LT_API void lt_profile_reset(void);
/* Copies the stats recorded since the last reset. */
LT_API void lt_profile_read(lt_profile_stats *out);

/* "conv", "gemm", "batch_norm", "elementwise", "pooling", "loss",
 * "optimizer", "data", "other" ("?" out of range). */
LT_API const char *lt_profile_kind_name(lt_profile_kind kind);
/* The kind an op is charged to (LT_PROFILE_OTHER for unlisted ops). */
LT_API lt_profile_kind lt_profile_kind_of(lt_op op);

/* A timed region: `lt_profile_scope s = lt_profile_begin(kind); ...;
 * lt_profile_end(s);` (pair them on every path). Inside another scope the
 * region is charged to the outer one. No-ops while disabled. */
typedef struct lt_profile_scope {
    int8_t state;  /* 0: not counting, 1: nested, 2: outermost */
    int8_t kind;
    double start;
} lt_profile_scope;
LT_API lt_profile_scope lt_profile_begin(lt_profile_kind kind);
LT_API void lt_profile_end(lt_profile_scope scope);
/* The profiler's clock: monotonic wall time in seconds (for timing steps
 * and epochs the same way the profiler does). */
LT_API double lt_profile_seconds(void);
/* Adds forward FLOPs (for a plugin's own conv/linear-like kernels). */
LT_API void lt_profile_add_flops(double flops);

#endif
