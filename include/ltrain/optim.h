/* ltrain SDK — optimizers (torch.optim 1.13 semantics).
 *
 * An optimizer updates every trainable parameter of an lt_params store from
 * its gradient, in place, with grad mode off. Its state is allocated once
 * (momentum buffers lazily, the first time a momentum is set). Frozen
 * parameters (requires_grad off) are skipped and keep their state, as
 * PyTorch skips parameters whose grad is None.
 *
 * Two interfaces:
 *   lt_sgd        the plain SGD of the SDK examples (options struct);
 *   lt_optimizer  the generic one the trainer uses, created by torch name
 *                 from a config `params` map: "SGD", "Adam", "AdamW",
 *                 "RMSprop". Every parameter starts in param group 0;
 *                 lt_optimizer_add_group moves the parameters under a name
 *                 prefix into a group of their own with its own learning
 *                 rate (the other hyperparameters are shared), as torch's
 *                 per-group "lr".
 *
 * Accepted params (torch's names and defaults; lists are YAML lists):
 *   SGD      lr (required), momentum 0, dampening 0, weight_decay 0,
 *            nesterov false, maximize false (true is not supported)
 *   Adam     lr 1e-3, betas [0.9, 0.999], eps 1e-8, weight_decay 0,
 *            amsgrad false, maximize false
 *   AdamW    as Adam but weight_decay 1e-2 (decoupled: param *= 1 - lr*wd)
 *   RMSprop  lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0,
 *            centered false, maximize false
 * torch's implementation switches (foreach, capturable, differentiable,
 * fused) are accepted as booleans and ignored: the math is the same. A
 * null value means the default. Updates match torch's single-tensor CPU
 * path bit for bit when built with FMA (-march=native on x86-64), since
 * torch's AVX2 kernels fuse add(alpha) and addcmul into FMAs too.
 * An unknown key, a value of the wrong type or an invalid value is an
 * error naming the optimizer and the key, e.g.
 *   "Adam: unknown parameter 'beta1' (accepted: lr, betas, eps, ...)".
 */
#ifndef LTRAIN_OPTIM_H
#define LTRAIN_OPTIM_H

#include "cfg.h"
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- SGD ---------------- */

typedef struct lt_sgd_options {
    float lr;
    float momentum;     /* 0 = plain SGD */
    float dampening;
    float weight_decay;
    bool nesterov;
} lt_sgd_options;

typedef struct lt_sgd lt_sgd;

/* SGD over every trainable parameter of p (p must outlive it). */
LT_API lt_sgd *lt_sgd_new(lt_params *p, const lt_sgd_options *o);
LT_API void lt_sgd_free(lt_sgd *opt);
/* One update, exactly torch.optim.SGD.step(). */
LT_API int lt_sgd_step(lt_sgd *opt);
LT_API void lt_sgd_set_lr(lt_sgd *opt, float lr);

/* ---------------- generic optimizer ---------------- */

typedef struct lt_optimizer lt_optimizer;

/* New optimizer `name` over every trainable parameter of p (p must outlive
 * it), configured by params (a map, or NULL for the defaults). */
LT_API lt_optimizer *lt_optimizer_new(const char *name, lt_params *p, const lt_cfg *params);
LT_API void lt_optimizer_free(lt_optimizer *opt);
/* Torch name ("Adam"). */
LT_API const char *lt_optimizer_name(const lt_optimizer *opt);
/* One update, exactly torch.optim.<name>.step() (single-tensor path). */
LT_API int lt_optimizer_step(lt_optimizer *opt);
/* Zeroes the gradients of the optimized store. */
LT_API void lt_optimizer_zero_grad(lt_optimizer *opt);

/* Group 0's learning rate (a Python float in torch: kept in double, cast
 * to float where torch's kernels cast it). set_lr fails on a negative or
 * non-finite value. */
LT_API double lt_optimizer_get_lr(const lt_optimizer *opt);
LT_API int lt_optimizer_set_lr(lt_optimizer *opt, double lr);

/* ---- param groups ----
 * A new group (index returned, >= 1; -1 with an error) holds the parameters
 * whose names start with `prefix` (taken from the group they were in) and
 * learns at `lr`. Groups are made before a scheduler is attached (the
 * scheduler keeps a base lr per group); at most 32. A prefix matching no
 * parameter is an error. Frozen parameters stay in their group and are
 * skipped while frozen, as torch skips parameters without a gradient. */
LT_API int lt_optimizer_add_group(lt_optimizer *opt, const char *prefix, double lr);
LT_API int lt_optimizer_n_groups(const lt_optimizer *opt);
/* Group `group`'s lr (0.0 for a bad index); set fails on a bad index or lr. */
LT_API double lt_optimizer_group_lr(const lt_optimizer *opt, int group);
LT_API int lt_optimizer_set_group_lr(lt_optimizer *opt, int group, double lr);
/* The momentum a scheduler cycles: SGD/RMSprop `momentum`, Adam/AdamW
 * betas[0]. has_momentum is true for all four (torch: 'momentum' or
 * 'betas' in the defaults). */
LT_API bool lt_optimizer_has_momentum(const lt_optimizer *opt);
LT_API double lt_optimizer_get_momentum(const lt_optimizer *opt);
LT_API int lt_optimizer_set_momentum(lt_optimizer *opt, double momentum);

/* ---- state for checkpoints ----
 * Named owned tensors, torch's optimizer.state with parameter names for
 * ids: for every parameter that has state (it took at least one step),
 *   "state.<param>.step"             [] int64 (Adam, AdamW, RMSprop)
 *   "state.<param>.momentum_buffer"  param shape (SGD with momentum,
 *                                    RMSprop with momentum > 0)
 *   "state.<param>.exp_avg", ".exp_avg_sq", ".max_exp_avg_sq" (amsgrad)
 *   "state.<param>.square_avg", ".grad_avg" (centered)
 * Hyperparameters are not part of it: they come from the config, and the
 * learning rate (and a cycled momentum) from the scheduler's state. */
typedef struct lt_named_tensor {
    char *name;
    lt_tensor *tensor; /* owned */
} lt_named_tensor;

typedef struct lt_named_tensors {
    size_t n;
    lt_named_tensor *items;
} lt_named_tensors;

LT_API void lt_named_tensors_free(lt_named_tensors *l);
/* Owned snapshot of the state (free with lt_named_tensors_free); its items
 * can be written as they are with lt_safetensors_save(). */
LT_API lt_named_tensors *lt_optimizer_state(const lt_optimizer *opt);
/* Replaces the state by `state`, which must hold exactly the entries this
 * optimizer writes for some set of parameters: an unknown name, a missing
 * companion entry, a wrong shape or dtype is an error naming the entry,
 * and leaves the optimizer unchanged. Parameters absent from `state` start
 * fresh. */
LT_API int lt_optimizer_load_state(lt_optimizer *opt, const lt_named_tensors *state);

#ifdef __cplusplus
}
#endif
#endif
