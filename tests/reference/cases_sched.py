"""torch.optim.lr_scheduler 1.13 learning-rate (and momentum) sequences.

Each case builds an optimizer over one parameter and a scheduler from a
params map (params.sched_cfg, JSON = YAML flow; SequentialLR children as
{name, params} like the ltrain config), records the group's lr and
momentum (SGD/RMSprop momentum, Adam betas[0]) after construction and after
every scheduler.step() (ReduceLROnPlateau: step(metric) with the recorded
metric sequence). Outputs: out (lr) and mom as float32, plus the exact
doubles as text (params.lrs / params.moms, repr) that the C runner checks
to 1 ulp-level precision."""
import json
import math
import warnings

import torch
from torch.optim import lr_scheduler

STEPS = 120


def build(opt, name, params, epochs):
    params = dict(params)
    if name == "SequentialLR":
        kids = [build(opt, k["name"], k.get("params", {}), epochs) for k in params.pop("schedulers")]
        return lr_scheduler.SequentialLR(opt, kids, **params)
    if name == "CosineAnnealingLR" and "T_max" not in params:
        params["T_max"] = epochs  # the trainer's default
    return getattr(lr_scheduler, name)(opt, **params)


def momentum_of(opt):
    g = opt.param_groups[0]
    return g["betas"][0] if "betas" in g else g["momentum"]


def sched_case(g, name, sched, sched_cfg, opt="SGD", opt_cfg=None, steps=STEPS, epochs=0, metrics=None):
    opt_cfg = opt_cfg if opt_cfg is not None else {"lr": 0.1, "momentum": 0.9}
    p = torch.zeros(2, requires_grad=True)
    o = getattr(torch.optim, opt)([p], **opt_cfg)
    lrs, moms = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = build(o, sched, sched_cfg, epochs)
        lrs.append(o.param_groups[0]["lr"])
        moms.append(momentum_of(o))
        for i in range(steps):
            if metrics is not None:
                s.step(metrics[i])
            else:
                s.step()
            lrs.append(o.param_groups[0]["lr"])
            moms.append(momentum_of(o))
    params = {"optimizer": opt, "cfg": json.dumps(opt_cfg), "sched": sched, "sched_cfg": json.dumps(sched_cfg),
              "steps": steps, "epochs": epochs, "lrs": " ".join(repr(float(v)) for v in lrs),
              "moms": " ".join(repr(float(v)) for v in moms)}
    if metrics is not None:
        params["metrics"] = " ".join(repr(float(v)) for v in metrics)
    x = torch.zeros(1)
    out = {"out": torch.tensor(lrs, dtype=torch.float64).float(), "mom": torch.tensor(moms, dtype=torch.float64).float()}
    # float32 images of the doubles: compare to float rounding only (the
    # runner checks the doubles themselves).
    g.case(name, "scheduler", lambda x: out, {"x": x}, params, rtol=1e-6, atol=0.0)


def groups_case(g, name, opt, opt_cfg, sched, sched_cfg, group_lr, unfreeze, new_lr, steps=40, epochs=0):
    """Two param groups: "a.w" in the default group (opt_cfg's lr), "b.w" in
    a group of lr group_lr, frozen (no gradient: skipped) before step
    `unfreeze`, where its lr, initial_lr and the scheduler's base lr
    (SequentialLR: its children's) are rebased to new_lr as luxonis-train's
    freezing.lr_after_unfreeze does. One optimizer step then one scheduler
    step per iteration with fixed gradients. Records both groups' lr after
    construction and every step (doubles, params.lrs / params.lrs1) and the
    final parameters (out)."""
    a0 = torch.rand(3, generator=g.gen) * 2 - 1
    b0 = torch.rand(4, generator=g.gen) * 2 - 1
    ga = torch.rand(steps, 3, generator=g.gen) * 2 - 1
    gb = torch.rand(steps, 4, generator=g.gen) * 2 - 1
    a = a0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    o = getattr(torch.optim, opt)([{"params": [a]}, {"params": [b], "lr": group_lr}], **opt_cfg)
    lrs, lrs1 = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = build(o, sched, sched_cfg, epochs)
        lrs.append(o.param_groups[0]["lr"])
        lrs1.append(o.param_groups[1]["lr"])
        for i in range(steps):
            if i == unfreeze:
                o.param_groups[1]["lr"] = new_lr
                o.param_groups[1]["initial_lr"] = new_lr
                for sch in [s] + list(getattr(s, "_schedulers", [])):
                    if hasattr(sch, "base_lrs"):  # SequentialLR has none; its children do
                        sch.base_lrs[1] = new_lr
            a.grad = ga[i].clone()
            b.grad = gb[i].clone() if i >= unfreeze else None
            o.step()
            s.step()
            lrs.append(o.param_groups[0]["lr"])
            lrs1.append(o.param_groups[1]["lr"])
    params = {"optimizer": opt, "cfg": json.dumps(opt_cfg), "sched": sched, "sched_cfg": json.dumps(sched_cfg),
              "steps": steps, "epochs": epochs, "group_lr": group_lr, "unfreeze": unfreeze, "new_lr": new_lr,
              "lrs": " ".join(repr(float(v)) for v in lrs), "lrs1": " ".join(repr(float(v)) for v in lrs1)}
    out = torch.cat([a.detach(), b.detach()])
    g.case(name, "groups", lambda *_: out, {"a0": a0, "b0": b0, "ga": ga, "gb": gb}, params)


def metric_sequence(g, n, kind):
    noise = torch.rand(n, generator=g.gen, dtype=torch.float64) - 0.5
    t = torch.arange(n, dtype=torch.float64)
    if kind == "loss":  # decreasing with plateaus and noise
        base = 1.0 / (1.0 + t / 15.0) + 0.2 * (t > 60).double()
        return (base + 0.03 * noise).tolist()
    if kind == "accuracy":  # rising, saturating
        return (0.9 * (1 - torch.exp(-t / 25.0)) + 0.02 * noise).tolist()
    return (1.0 + 1e-5 * noise).tolist()  # flat: only tiny changes


def cases(g):
    sc = sched_case
    sc(g, "constant_default", "ConstantLR", {})
    sc(g, "constant_half_10", "ConstantLR", {"factor": 0.5, "total_iters": 10})
    sc(g, "constant_zero_iters", "ConstantLR", {"factor": 0.25, "total_iters": 0})
    sc(g, "step_7", "StepLR", {"step_size": 7, "gamma": 0.5})
    sc(g, "step_30_default_gamma", "StepLR", {"step_size": 30}, opt="Adam", opt_cfg={"lr": 0.003})
    sc(g, "multistep_repeated", "MultiStepLR", {"milestones": [10, 30, 30, 60], "gamma": 0.5})
    sc(g, "multistep_unsorted", "MultiStepLR", {"milestones": [80, 20]})
    sc(g, "linear_default", "LinearLR", {})
    sc(g, "linear_up", "LinearLR", {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 40})
    sc(g, "linear_down_to_zero", "LinearLR", {"start_factor": 1.0, "end_factor": 0.0, "total_iters": 100})
    sc(g, "exponential", "ExponentialLR", {"gamma": 0.95}, opt="RMSprop", opt_cfg={"lr": 0.01})
    sc(g, "cosine_periodic", "CosineAnnealingLR", {"T_max": 30, "eta_min": 0.001})
    sc(g, "cosine_epochs_default", "CosineAnnealingLR", {}, epochs=50, opt="AdamW", opt_cfg={"lr": 0.002})
    sc(g, "cosine_long", "CosineAnnealingLR", {"T_max": 200})
    sc(g, "seq_linear_warmup_cosine", "SequentialLR",
       {"schedulers": [{"name": "LinearLR", "params": {"start_factor": 0.1, "total_iters": 5}},
                       {"name": "CosineAnnealingLR", "params": {"T_max": 95}}], "milestones": [5]})
    sc(g, "seq_constant_exponential", "SequentialLR",
       {"schedulers": [{"name": "ConstantLR", "params": {"factor": 0.5, "total_iters": 10}},
                       {"name": "ExponentialLR", "params": {"gamma": 0.97}}], "milestones": [10]})
    sc(g, "seq_three", "SequentialLR",
       {"schedulers": [{"name": "LinearLR", "params": {"start_factor": 0.2, "total_iters": 8}},
                       {"name": "StepLR", "params": {"step_size": 9, "gamma": 0.7}},
                       {"name": "MultiStepLR", "params": {"milestones": [5, 20, 40], "gamma": 0.5}}],
        "milestones": [10, 40]})
    sc(g, "seq_constant_cosine_epochs", "SequentialLR",
       {"schedulers": [{"name": "ConstantLR", "params": {"factor": 0.1, "total_iters": 3}},
                       {"name": "CosineAnnealingLR"}], "milestones": [3]}, epochs=80,
       opt="Adam", opt_cfg={"lr": 0.001})
    sc(g, "seq_early_milestone", "SequentialLR",
       {"schedulers": [{"name": "ExponentialLR", "params": {"gamma": 0.9}},
                       {"name": "LinearLR", "params": {"start_factor": 0.5, "total_iters": 20}}],
        "milestones": [1]})
    sc(g, "onecycle_cos", "OneCycleLR", {"max_lr": 0.1, "total_steps": STEPS})
    sc(g, "onecycle_linear", "OneCycleLR", {"max_lr": 0.05, "total_steps": STEPS, "anneal_strategy": "linear",
                                            "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0})
    sc(g, "onecycle_three_phase", "OneCycleLR", {"max_lr": 0.2, "total_steps": STEPS + 7, "three_phase": True})
    sc(g, "onecycle_three_phase_linear", "OneCycleLR",
       {"max_lr": 0.2, "total_steps": STEPS, "three_phase": True, "anneal_strategy": "linear",
        "base_momentum": 0.8, "max_momentum": 0.9})
    sc(g, "onecycle_epochs_no_momentum", "OneCycleLR",
       {"max_lr": 0.1, "epochs": 12, "steps_per_epoch": 10, "cycle_momentum": False})
    sc(g, "onecycle_adam_beta1", "OneCycleLR", {"max_lr": 0.01, "total_steps": STEPS + 1}, opt="Adam",
       opt_cfg={"lr": 0.001, "betas": [0.9, 0.99]})
    sc(g, "onecycle_rmsprop", "OneCycleLR", {"max_lr": 0.01, "total_steps": STEPS, "pct_start": 0.5},
       opt="RMSprop", opt_cfg={"lr": 0.001, "momentum": 0.5})
    sc(g, "plateau_min_rel", "ReduceLROnPlateau", {}, metrics=metric_sequence(g, STEPS, "loss"))
    sc(g, "plateau_min_abs_cooldown", "ReduceLROnPlateau",
       {"mode": "min", "factor": 0.5, "patience": 3, "threshold": 0.01, "threshold_mode": "abs", "cooldown": 4,
        "min_lr": 0.01}, metrics=metric_sequence(g, STEPS, "loss"))
    sc(g, "plateau_max_rel", "ReduceLROnPlateau", {"mode": "max", "patience": 2, "factor": 0.3, "cooldown": 1},
       opt="Adam", opt_cfg={"lr": 0.001}, metrics=metric_sequence(g, STEPS, "accuracy"))
    sc(g, "plateau_max_abs_eps", "ReduceLROnPlateau",
       {"mode": "max", "threshold_mode": "abs", "threshold": 0.0, "patience": 0, "factor": 0.9, "eps": 0.002,
        "min_lr": 0.05}, metrics=metric_sequence(g, STEPS, "flat"))

    # Param groups with a frozen group rebased at its unfreeze step.
    groups_case(g, "groups_sgd_cosine_rebase", "SGD", {"lr": 0.1, "momentum": 0.9}, "CosineAnnealingLR",
                {"T_max": 40}, 0.1, 10, 0.01)
    groups_case(g, "groups_adam_step_rebase", "Adam", {"lr": 0.01}, "StepLR", {"step_size": 7, "gamma": 0.5},
                0.003, 12, 0.002)
    groups_case(g, "groups_rmsprop_exponential", "RMSprop", {"lr": 0.01, "momentum": 0.5}, "ExponentialLR",
                {"gamma": 0.95}, 0.02, 0, 0.02)
    groups_case(g, "groups_adamw_seq_warmup_cosine", "AdamW", {"lr": 0.002}, "SequentialLR",
                {"schedulers": [{"name": "LinearLR", "params": {"start_factor": 0.1, "total_iters": 5}},
                                {"name": "CosineAnnealingLR", "params": {"T_max": 35}}], "milestones": [5]},
                0.002, 8, 0.0005)
    groups_case(g, "groups_sgd_onecycle", "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, "OneCycleLR",
                {"max_lr": 0.1, "total_steps": 40}, 0.05, 15, 0.05)

    x = torch.zeros(1)

    def err(name, sched, cfg, msg, epochs=0):
        g.case(name, "scheduler", None, {"x": x},
               {"optimizer": "SGD", "cfg": '{"lr": 0.1}', "sched": sched, "sched_cfg": cfg, "epochs": epochs},
               expect_error=msg)

    err("err_unknown_scheduler", "PolynomialLR", "{}", "scheduler: unknown scheduler 'PolynomialLR'")
    err("err_unknown_key", "StepLR", '{"step_size": 3, "gama": 0.5}',
        "StepLR: unknown parameter 'gama' (accepted: step_size, gamma, last_epoch, verbose)")
    err("err_step_size_float", "StepLR", '{"step_size": 7.5}', "StepLR: parameter 'step_size' expects an integer, got '7.5'")
    err("err_step_size_missing", "StepLR", "{}", "StepLR: parameter 'step_size' (an integer) is required")
    err("err_step_size_zero", "StepLR", '{"step_size": 0}', "StepLR: step_size must be positive, got 0")
    err("err_milestones_type", "MultiStepLR", '{"milestones": 5}', "MultiStepLR: parameter 'milestones' expects a list of integers, got '5'")
    err("err_constant_factor", "ConstantLR", '{"factor": 2}', "ConstantLR: constant multiplicative factor expected to be between 0 and 1, got 2")
    err("err_linear_start", "LinearLR", '{"start_factor": 1.5}', "LinearLR: starting multiplicative factor expected to be between 0 and 1")
    err("err_exponential_gamma", "ExponentialLR", "{}", "ExponentialLR: parameter 'gamma' (a number) is required")
    err("err_cosine_no_tmax", "CosineAnnealingLR", "{}", "CosineAnnealingLR: parameter 'T_max' is required")
    err("err_last_epoch", "ExponentialLR", '{"gamma": 0.9, "last_epoch": 4}', "ExponentialLR: last_epoch=4 is not supported")
    err("err_plateau_mode", "ReduceLROnPlateau", '{"mode": "median"}', "ReduceLROnPlateau: mode 'median' is unknown")
    err("err_plateau_threshold_mode", "ReduceLROnPlateau", '{"threshold_mode": "pct"}',
        "ReduceLROnPlateau: threshold mode 'pct' is unknown")
    err("err_plateau_factor", "ReduceLROnPlateau", '{"factor": 1.0}', "ReduceLROnPlateau: factor should be < 1.0, got 1")
    err("err_plateau_patience_type", "ReduceLROnPlateau", '{"patience": "ten"}',
        "ReduceLROnPlateau: parameter 'patience' expects an integer, got 'ten'")
    err("err_onecycle_no_total", "OneCycleLR", '{"max_lr": 0.1, "epochs": 3}',
        "OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
    err("err_onecycle_no_max_lr", "OneCycleLR", '{"total_steps": 10}', "OneCycleLR: parameter 'max_lr' (a number) is required")
    err("err_onecycle_strategy", "OneCycleLR", '{"max_lr": 0.1, "total_steps": 10, "anneal_strategy": "exp"}',
        "OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', instead got 'exp'")
    err("err_onecycle_pct", "OneCycleLR", '{"max_lr": 0.1, "total_steps": 10, "pct_start": 1.5}',
        "OneCycleLR: expected float between 0 and 1 pct_start, but got 1.5")
    err("err_seq_count", "SequentialLR",
        '{"schedulers": [{"name": "ConstantLR"}, {"name": "ExponentialLR", "params": {"gamma": 0.9}}], "milestones": []}',
        "SequentialLR: expects number of schedulers provided to be one more than the number of milestone points, "
        "but got number of schedulers 2 and the number of milestones to be equal to 0")
    err("err_seq_child", "SequentialLR",
        '{"schedulers": [{"name": "ConstantLR"}, {"name": "StepLR", "params": {"step_size": "x"}}], "milestones": [3]}',
        "StepLR: parameter 'step_size' expects an integer, got 'x'")
    err("err_seq_plateau", "SequentialLR",
        '{"schedulers": [{"name": "ConstantLR"}, {"name": "ReduceLROnPlateau"}], "milestones": [3]}',
        "SequentialLR: schedulers[1]: ReduceLROnPlateau cannot be chained")
    err("err_seq_no_name", "SequentialLR", '{"schedulers": [{"params": {}}], "milestones": []}',
        "SequentialLR: schedulers[0] must be a map with a 'name'")
