/* ltrain SDK — learning-rate schedulers (torch.optim.lr_scheduler 1.13).
 *
 * A scheduler drives the learning rate (and, for OneCycleLR, the momentum
 * or Adam's beta1) of every param group of one lt_optimizer, each group
 * from its own base lr (torch's base_lrs: the group's initial_lr), as torch
 * does; groups are fixed once a scheduler is attached. It is created
 * by torch name from a config `params` map with torch's parameter names
 * and defaults:
 *   ConstantLR        factor 1/3, total_iters 5
 *   StepLR            step_size (required), gamma 0.1
 *   MultiStepLR       milestones (required, list of ints), gamma 0.1
 *   LinearLR          start_factor 1/3, end_factor 1.0, total_iters 5
 *   ExponentialLR     gamma (required)
 *   CosineAnnealingLR T_max (default: the caller's `epochs`), eta_min 0
 *   SequentialLR      schedulers (required: list of {name, params}),
 *                     milestones (required: one fewer than schedulers)
 *   OneCycleLR        max_lr (required), total_steps or epochs and
 *                     steps_per_epoch, pct_start 0.3, anneal_strategy
 *                     "cos"|"linear", cycle_momentum true, base_momentum
 *                     0.85, max_momentum 0.95, div_factor 25,
 *                     final_div_factor 1e4, three_phase false
 *   ReduceLROnPlateau mode "min"|"max", factor 0.1, patience 10, threshold
 *                     1e-4, threshold_mode "rel"|"abs", cooldown 0,
 *                     min_lr 0, eps 1e-8
 * `last_epoch` is accepted only as -1 (resume through the state functions
 * instead) and `verbose` is accepted and ignored. Scalars only for max_lr,
 * min_lr, base/max_momentum (the same value for every group).
 *
 * Creating a scheduler performs torch's initial step (ConstantLR scales the
 * lr at once; SequentialLR replays torch's construction of its children on
 * the same optimizer and resets). Then call lt_scheduler_step() once per
 * epoch, after the epoch's optimizer steps -- except OneCycleLR, which is
 * stepped after every optimizer step (lt_scheduler_per_step() says so), and
 * ReduceLROnPlateau, which takes the monitored value through
 * lt_scheduler_step_metric(). Rates follow torch's chainable (recursive)
 * get_lr, which can differ from the closed form; SequentialLR's milestone
 * restart uses the closed form as torch's step(0) does. All arithmetic is in
 * double like Python's floats.
 */
#ifndef LTRAIN_SCHED_H
#define LTRAIN_SCHED_H

#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lt_scheduler lt_scheduler;

/* New scheduler `name` driving opt (which must outlive it); params is a map
 * or NULL; epochs (> 0, or 0 when unknown) is CosineAnnealingLR's default
 * T_max, also inside SequentialLR. */
LT_API lt_scheduler *lt_scheduler_new(const char *name, lt_optimizer *opt, const lt_cfg *params, int64_t epochs);
LT_API void lt_scheduler_free(lt_scheduler *s);
LT_API const char *lt_scheduler_name(const lt_scheduler *s);
/* OneCycleLR: step after every optimizer step instead of every epoch. */
LT_API bool lt_scheduler_per_step(const lt_scheduler *s);
/* ReduceLROnPlateau: step with lt_scheduler_step_metric(). */
LT_API bool lt_scheduler_needs_metric(const lt_scheduler *s);
/* One scheduler step (torch's scheduler.step()); -1 with an error for
 * ReduceLROnPlateau, or when OneCycleLR is stepped past total_steps. */
LT_API int lt_scheduler_step(lt_scheduler *s);
/* ReduceLROnPlateau.step(metric); -1 with an error for other schedulers. */
LT_API int lt_scheduler_step_metric(lt_scheduler *s, double metric);
/* torch's get_last_lr()[0], and get_last_lr()[group] (0.0 for a bad index). */
LT_API double lt_scheduler_last_lr(const lt_scheduler *s);
LT_API double lt_scheduler_group_last_lr(const lt_scheduler *s, int group);

/* Rebases param group `group` at `lr`: its lr, initial_lr and the
 * scheduler's base lr (SequentialLR: its children's too), as
 * luxonis-train's freezing.lr_after_unfreeze does at the unfreeze epoch;
 * later steps go on from there. */
LT_API int lt_scheduler_rebase_lr(lt_scheduler *s, int group, double lr);

/* State for checkpoints: an owned map (lt_cfg_free) of scalars holding the
 * counters and rates (last_epoch, step_count, base_lr, last_lr, the
 * optimizer's lr, initial_lr and momentum; group g >= 1's rates as
 * "base_lr.<g>", "last_lr.<g>", "lr.<g>", "initial_lr.<g>", ReduceLROnPlateau's best /
 * num_bad_epochs / cooldown_counter, SequentialLR's children under
 * "schedulers"); it reloads exactly (doubles written with 17 digits).
 * Hyperparameters come from the config. Loading also restores the
 * optimizer's lr (and momentum), which torch restores through the
 * optimizer's own state_dict. A state of another scheduler kind or a
 * missing / mistyped key is an error. */
LT_API lt_cfg *lt_scheduler_state(const lt_scheduler *s);
LT_API int lt_scheduler_load_state(lt_scheduler *s, const lt_cfg *state);

#ifdef __cplusplus
}
#endif
#endif
