/* Test support: optimizer trajectories against torch.optim fixtures.
 *
 * A trajectory case (tests/reference/cases_optim.py, cases_adam.py) has
 * inputs w0 [out,in], b0 [out] (the parameters layer.weight, layer.bias),
 * gw [steps,out,in], gb [steps,out] (the gradients fed at each step) and
 * params steps, packed (pack the store), frozen_b / unfreeze_b_at (bias
 * not trainable, from the start / until that step). fx_run_trajectory
 * builds the store, runs the steps through the callbacks and returns the
 * recorded parameters as outputs traj_w [n,out,in] (returned) and traj_b
 * [n,out]. Frozen parameters get gradients too: the optimizer must skip
 * them. */
#ifndef LTRAIN_TEST_TRAJECTORY_H
#define LTRAIN_TEST_TRAJECTORY_H

#include "fixture.h"

typedef struct fx_trajectory {
    /* Builds the optimizer on p; false on an expected error (the case
     * must then say "expect_error"). */
    bool (*open)(fx_case *c, lt_params *p, void *user);
    /* Before the gradients of step s are set (NULL: nothing). */
    void (*before_step)(fx_case *c, lt_params *p, int64_t s, void *user);
    /* One optimizer step (ck_asserts on failure). */
    void (*step)(void *user);
    void (*close)(void *user);
    /* Whether the parameters after step s are recorded (NULL: all). */
    bool (*record)(int64_t s);
    void *user;
} fx_trajectory;

lt_tensor *fx_run_trajectory(fx_case *c, const fx_trajectory *t);

/* A store with parameters of awkward sizes (37x1001, 3, 5x3x3x3) and a
 * buffer between them, filled from a fixed seed (owned: lt_params_free). */
lt_params *fx_awkward_store(void);
/* Deterministic gradients of every parameter for step `step`. */
void fx_set_step_grads(lt_params *p, int step);

#endif
