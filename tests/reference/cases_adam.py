"""torch.optim.Adam / AdamW / RMSprop (and SGD through the generic
lt_optimizer) trajectories. Each case holds two parameters (w [3,4], b [3])
and the gradients PyTorch's step() was given at every step (gw, gb); the C
runner builds the optimizer by name from the same params map (params.cfg,
JSON = YAML flow), feeds the gradients and compares the parameters after
the first 3 steps and every 5th step (recorded(): keeps the JSON small). A case may add a scheduler (params.sched / sched_cfg) stepped
after every optimizer step, to cover lr and momentum/beta1 changes."""
import json
import warnings

import torch

STEPS = 60


def recorded(s):
    return s < 3 or (s + 1) % 5 == 0


def make_sched(opt, name, cfg):
    cls = getattr(torch.optim.lr_scheduler, name)
    return cls(opt, **cfg)


def opt_case(g, name, opt_name, opts, steps=STEPS, frozen_b=False, unfreeze_b_at=None, packed=False,
             sched=None, sched_cfg=None, grad_scale=1.0, **tol):
    w0 = g.randn(3, 4, requires_grad=False)
    b0 = g.randn(3, requires_grad=False)
    gw = g.randn(steps, 3, 4, requires_grad=False) * grad_scale
    gb = g.randn(steps, 3, requires_grad=False) * 0.1 * grad_scale
    # some exact zeros in the gradients (sqrt(0) + eps paths)
    gb[:, 0] = 0.0

    def fn(w0, b0, gw, gb):
        w = w0.clone().requires_grad_()
        b = b0.clone().requires_grad_(not frozen_b)
        opt = getattr(torch.optim, opt_name)([w, b] if not frozen_b else [w], **opts)
        sch = make_sched(opt, sched, sched_cfg or {}) if sched else None
        first_b = unfreeze_b_at if unfreeze_b_at is not None else 0
        tw, tb = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in range(steps):
                w.grad = gw[s].clone()
                if not frozen_b:
                    b.grad = gb[s].clone() if s >= first_b else None
                opt.step()
                if sch:
                    sch.step()
                if recorded(s):
                    tw.append(w.detach().clone())
                    tb.append(b.detach().clone())
        return {"traj_w": torch.stack(tw), "traj_b": torch.stack(tb)}

    params = {"optimizer": opt_name, "cfg": json.dumps(opts), "steps": steps, "frozen_b": frozen_b,
              "packed": packed}
    if unfreeze_b_at is not None:
        params["unfreeze_b_at"] = unfreeze_b_at
    if sched:
        params["sched"] = sched
        params["sched_cfg"] = json.dumps(sched_cfg or {})
    g.case(name, "optimizer", fn, {"w0": w0, "b0": b0, "gw": gw, "gb": gb}, params, **tol)


def cases(g):
    # Adam
    opt_case(g, "adam_default", "Adam", {})
    opt_case(g, "adam_default_packed", "Adam", {"lr": 0.01}, packed=True)
    opt_case(g, "adam_betas_eps", "Adam", {"lr": 0.02, "betas": [0.8, 0.95], "eps": 1e-6})
    opt_case(g, "adam_weight_decay", "Adam", {"lr": 0.01, "weight_decay": 0.05}, packed=True)
    opt_case(g, "adam_amsgrad", "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01})
    opt_case(g, "adam_amsgrad_packed", "Adam", {"lr": 0.03, "amsgrad": True, "betas": [0.5, 0.9]}, packed=True)
    opt_case(g, "adam_maximize", "Adam", {"lr": 0.01, "maximize": True})
    opt_case(g, "adam_frozen_bias_packed", "Adam", {"lr": 0.01}, frozen_b=True, packed=True)
    opt_case(g, "adam_unfreeze_bias", "Adam", {"lr": 0.01, "amsgrad": True}, unfreeze_b_at=13)
    opt_case(g, "adam_unfreeze_bias_packed", "Adam", {"lr": 0.01}, unfreeze_b_at=21, packed=True)
    opt_case(g, "adam_small_grads", "Adam", {"lr": 0.001, "eps": 1e-8}, grad_scale=1e-6)
    # AdamW (decoupled weight decay, default 1e-2)
    opt_case(g, "adamw_default", "AdamW", {})
    opt_case(g, "adamw_decay_packed", "AdamW", {"lr": 0.01, "weight_decay": 0.1}, packed=True)
    opt_case(g, "adamw_amsgrad", "AdamW", {"lr": 0.02, "weight_decay": 0.05, "amsgrad": True, "betas": [0.85, 0.99]})
    opt_case(g, "adamw_unfreeze_bias_packed", "AdamW", {"lr": 0.01, "weight_decay": 0.2}, unfreeze_b_at=7,
             packed=True)
    # RMSprop
    opt_case(g, "rmsprop_default", "RMSprop", {})
    opt_case(g, "rmsprop_default_packed", "RMSprop", {"lr": 0.001}, packed=True)
    opt_case(g, "rmsprop_alpha_eps_wd", "RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01})
    opt_case(g, "rmsprop_momentum", "RMSprop", {"lr": 0.002, "momentum": 0.9}, packed=True)
    opt_case(g, "rmsprop_centered", "RMSprop", {"lr": 0.001, "centered": True})
    opt_case(g, "rmsprop_centered_momentum", "RMSprop", {"lr": 0.001, "centered": True, "momentum": 0.7,
                                                          "weight_decay": 0.02}, packed=True)
    opt_case(g, "rmsprop_maximize", "RMSprop", {"lr": 0.001, "maximize": True, "momentum": 0.5})
    opt_case(g, "rmsprop_unfreeze_bias", "RMSprop", {"lr": 0.001, "centered": True, "momentum": 0.9},
             unfreeze_b_at=11)
    # SGD through the generic interface
    opt_case(g, "sgd_generic_nesterov", "SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True,
                                                 "weight_decay": 1e-3}, packed=True)
    opt_case(g, "sgd_generic_dampening", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 1e-3})
    # with schedulers: lr changes and OneCycleLR's momentum / beta1 cycling
    opt_case(g, "adam_onecycle", "Adam", {"lr": 0.01}, sched="OneCycleLR",
             sched_cfg={"max_lr": 0.05, "total_steps": STEPS + 1})
    opt_case(g, "adamw_onecycle_linear_packed", "AdamW", {"lr": 0.01}, packed=True, sched="OneCycleLR",
             sched_cfg={"max_lr": 0.02, "total_steps": STEPS, "anneal_strategy": "linear", "three_phase": True})
    opt_case(g, "sgd_onecycle_momentum", "SGD", {"lr": 0.1, "momentum": 0.9}, sched="OneCycleLR",
             sched_cfg={"max_lr": 0.1, "total_steps": STEPS})
    opt_case(g, "sgd_onecycle_from_zero_momentum", "SGD", {"lr": 0.1}, packed=True, sched="OneCycleLR",
             sched_cfg={"max_lr": 0.1, "total_steps": STEPS, "base_momentum": 0.8, "max_momentum": 0.9})
    opt_case(g, "rmsprop_onecycle", "RMSprop", {"lr": 0.001, "momentum": 0.9}, sched="OneCycleLR",
             sched_cfg={"max_lr": 0.003, "total_steps": STEPS})
    opt_case(g, "adam_cosine", "Adam", {"lr": 0.01, "amsgrad": True}, sched="CosineAnnealingLR",
             sched_cfg={"T_max": 20, "eta_min": 1e-4})
    opt_case(g, "rmsprop_steplr", "RMSprop", {"lr": 0.003, "centered": True}, sched="StepLR",
             sched_cfg={"step_size": 7, "gamma": 0.5})

    # errors: optimizer, key and expected type are named
    x = g.randn(2, requires_grad=False)
    bad = {"w0": x, "b0": x, "gw": x, "gb": x}

    def err(name, opt_name, cfg, msg):
        g.case(name, "optimizer", None, bad, {"optimizer": opt_name, "cfg": cfg}, expect_error=msg)

    err("err_unknown_optimizer", "Adamax", "{}", "optimizer: unknown optimizer 'Adamax' (available: SGD, Adam")
    err("err_unknown_key", "Adam", '{"beta1": 0.9}', "Adam: unknown parameter 'beta1' (accepted: lr, betas, eps")
    err("err_mistyped_lr", "AdamW", '{"lr": "fast"}', "AdamW: parameter 'lr' expects a number, got 'fast'")
    err("err_mistyped_betas", "Adam", '{"betas": 0.9}', "Adam: parameter 'betas' expects a list of 2 numbers, got '0.9'")
    err("err_betas_three", "Adam", '{"betas": [0.9, 0.99, 0.1]}', "Adam: parameter 'betas' expects a list of 2 numbers")
    err("err_mistyped_amsgrad", "Adam", '{"amsgrad": 1}', "Adam: parameter 'amsgrad' expects a boolean, got '1'")
    err("err_beta_range", "Adam", '{"betas": [0.9, 1.0]}', "Adam: invalid beta parameter at index 1: 1")
    err("err_negative_eps", "AdamW", '{"eps": -1e-8}', "AdamW: invalid epsilon value: -1e-08")
    err("err_negative_lr", "RMSprop", '{"lr": -0.1}', "RMSprop: invalid learning rate: -0.1")
    err("err_rmsprop_alpha", "RMSprop", '{"alpha": -0.5}', "RMSprop: invalid alpha value: -0.5")
    err("err_rmsprop_momentum", "RMSprop", '{"momentum": -0.5}', "RMSprop: invalid momentum value: -0.5")
    err("err_rmsprop_unknown", "RMSprop", '{"betas": [0.9, 0.9]}', "RMSprop: unknown parameter 'betas'")
    err("err_sgd_no_lr", "SGD", '{"momentum": 0.9}', "SGD: parameter 'lr' is required")
    err("err_sgd_nesterov", "SGD", '{"lr": 0.1, "nesterov": true}', "SGD: nesterov momentum requires a momentum")
    err("err_sgd_mistyped", "SGD", '{"lr": 0.1, "nesterov": "yes"}', "SGD: parameter 'nesterov' expects a boolean")
    err("err_params_not_map", "Adam", "[1, 2]", "Adam: params must be a map, got list")
