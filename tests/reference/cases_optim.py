"""torch.optim.SGD trajectories. Each case holds two parameters (w [3,5], b [4])
and, for every step, the gradients PyTorch's step() was given (gw [S,3,5],
gb [S,4]); the C runner feeds the same gradients to lt_sgd_step() and compares
the parameters after every step (traj_w, traj_b)."""
import torch

STEPS = 50


def sgd_case(g, name, opts, steps=STEPS, frozen_b=False, lr_schedule=None, packed=False, unfreeze_b_at=None, **tol):
    """frozen_b: b is not trained (C: frozen; PyTorch: not in the optimizer).
    unfreeze_b_at: b gets no gradient before that step (C: frozen until then;
    PyTorch: grad None, so step() skips it and creates its momentum buffer late).
    lr_schedule: {step: lr} set before that step."""
    w0 = g.randn(3, 5, requires_grad=False)
    b0 = g.randn(4, requires_grad=False)
    gw = g.randn(steps, 3, 5, requires_grad=False)
    gb = g.randn(steps, 4, requires_grad=False) * 0.1
    lr_schedule = lr_schedule or {}

    def fn(w0, b0, gw, gb):
        w = w0.clone().requires_grad_()
        b = b0.clone().requires_grad_(not frozen_b)
        opt = torch.optim.SGD([w, b] if not frozen_b else [w], **opts)
        first_b = unfreeze_b_at if unfreeze_b_at is not None else 0
        tw, tb = [], []
        for s in range(steps):
            if s in lr_schedule:
                for group in opt.param_groups:
                    group["lr"] = lr_schedule[s]
            w.grad = gw[s].clone()
            if not frozen_b:
                b.grad = gb[s].clone() if s >= first_b else None
            opt.step()
            tw.append(w.detach().clone())
            tb.append(b.detach().clone())
        return {"traj_w": torch.stack(tw), "traj_b": torch.stack(tb)}

    params = dict(opts)
    params.update({"steps": steps, "frozen_b": frozen_b, "packed": packed})
    if unfreeze_b_at is not None:
        params["unfreeze_b_at"] = unfreeze_b_at
    for i, k in enumerate(sorted(lr_schedule)):
        params["lr_at_%d" % i] = k
        params["lr_%d" % i] = lr_schedule[k]
    g.case(name, "sgd", fn, {"w0": w0, "b0": b0, "gw": gw, "gb": gb}, params, **tol)


def cases(g):
    sgd_case(g, "sgd_plain", {"lr": 0.1})
    sgd_case(g, "sgd_plain_packed", {"lr": 0.05}, packed=True)
    sgd_case(g, "sgd_weight_decay", {"lr": 0.1, "weight_decay": 0.01})
    sgd_case(g, "sgd_momentum", {"lr": 0.05, "momentum": 0.9})
    sgd_case(g, "sgd_momentum_packed", {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}, packed=True)
    sgd_case(g, "sgd_momentum_dampening", {"lr": 0.02, "momentum": 0.8, "dampening": 0.3, "weight_decay": 1e-3})
    sgd_case(g, "sgd_nesterov", {"lr": 0.03, "momentum": 0.9, "nesterov": True})
    sgd_case(g, "sgd_nesterov_wd_packed", {"lr": 0.03, "momentum": 0.7, "nesterov": True, "weight_decay": 0.02},
             packed=True)
    sgd_case(g, "sgd_lr_schedule", {"lr": 0.1, "momentum": 0.9}, lr_schedule={20: 0.01, 40: 0.001})
    sgd_case(g, "sgd_frozen_bias", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}, frozen_b=True)
    sgd_case(g, "sgd_frozen_bias_packed", {"lr": 0.1, "momentum": 0.5}, frozen_b=True, packed=True)
    sgd_case(g, "sgd_unfreeze_bias", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}, unfreeze_b_at=17)
    sgd_case(g, "sgd_unfreeze_bias_packed", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, unfreeze_b_at=9,
             packed=True)
    sgd_case(g, "sgd_lr_zero", {"lr": 0.0, "momentum": 0.9, "weight_decay": 0.1}, steps=5)
    x = g.randn(2, requires_grad=False)
    bad = {"w0": x, "b0": x, "gw": x, "gb": x}
    g.case("sgd_negative_lr", "sgd", None, bad, {"lr": -0.1}, expect_error="sgd: invalid learning rate: -0.1")
    g.case("sgd_negative_momentum", "sgd", None, bad, {"lr": 0.1, "momentum": -0.5},
           expect_error="sgd: invalid momentum value: -0.5")
    g.case("sgd_negative_weight_decay", "sgd", None, bad, {"lr": 0.1, "weight_decay": -1.0},
           expect_error="sgd: invalid weight_decay value: -1")
    g.case("sgd_nesterov_without_momentum", "sgd", None, bad, {"lr": 0.1, "nesterov": True},
           expect_error="sgd: nesterov momentum requires a momentum and zero dampening")
    g.case("sgd_nesterov_with_dampening", "sgd", None, bad,
           {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
           expect_error="sgd: nesterov momentum requires a momentum and zero dampening")
