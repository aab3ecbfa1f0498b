"""Losses: cross_entropy (class indices / probabilities, weights, ignore_index,
label smoothing, reductions, segmentation shapes), binary_cross_entropy_with_logits
(weight, pos_weight, target gradients), mse / l1 / smooth_l1 (broadcast targets,
kinks, target gradients)."""
import warnings

import torch
import torch.nn.functional as F

# mse / l1 / smooth_l1 with broadcast targets are tested on purpose
warnings.filterwarnings("ignore", message="Using a target size")

REDUCTIONS = ("mean", "sum", "none")


def _ce(weight=None, **kw):
    if weight is None:
        return lambda x, t: F.cross_entropy(x, t, **kw)
    return lambda x, t, w: F.cross_entropy(x, t, weight=w, **kw)


def _ce_case(g, name, x, t, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0, **tol):
    inputs = {"x": x, "target": t}
    if weight is not None:
        inputs["weight"] = weight
    params = {"reduction": reduction, "ignore_index": ignore_index, "label_smoothing": label_smoothing}
    fn = _ce(weight, reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
    g.case(name, "cross_entropy", fn, inputs, params, **tol)


def cross_entropy_cases(g):
    w4 = g.rand(4, lo=0.2, hi=2.0, requires_grad=False)
    # [N, C] class indices: reductions x (weights, smoothing)
    for r in REDUCTIONS:
        x, t = g.randn(6, 4, scale=2.0), g.randint(0, 4, 6)
        _ce_case(g, "ce_rows_" + r, x, t, reduction=r)
        _ce_case(g, "ce_rows_weight_" + r, x, t, weight=w4, reduction=r)
        _ce_case(g, "ce_rows_smooth_" + r, x, t, reduction=r, label_smoothing=0.2)
        _ce_case(g, "ce_rows_weight_smooth_" + r, x, t, weight=w4, reduction=r, label_smoothing=0.3)
        # ignore_index: the default -100 and a real class index
        ti = t.clone()
        ti[1] = ti[4] = -100
        _ce_case(g, "ce_rows_ignore_" + r, x, ti, reduction=r)
        _ce_case(g, "ce_rows_ignore_weight_smooth_" + r, x, ti, weight=w4, reduction=r, label_smoothing=0.25)
        _ce_case(g, "ce_rows_ignore_class_" + r, x, t, weight=w4, reduction=r, ignore_index=int(t[0]),
                 label_smoothing=0.1)
    # segmentation [N, C, H, W] with weights, ignore_index and smoothing
    for r in REDUCTIONS:
        x, t = g.randn(2, 5, 3, 4, scale=2.0), g.randint(0, 5, 2, 3, 4)
        t[0, 1, 2] = t[1, 0, 0] = 255
        w5 = g.rand(5, lo=0.2, hi=2.0, requires_grad=False)
        _ce_case(g, "ce_seg_" + r, x, t.clamp(max=4), reduction=r)
        _ce_case(g, "ce_seg_all_" + r, x, t, weight=w5, reduction=r, ignore_index=255, label_smoothing=0.1)
    # more positions than one kernel block (64), odd sizes; and 3-d [N, C, L]
    x, t = g.randn(2, 3, 9, 11), g.randint(0, 3, 2, 9, 11)
    _ce_case(g, "ce_seg_blocks", x, t, label_smoothing=0.05)
    x, t = g.randn(3, 4, 7), g.randint(0, 4, 3, 7)
    _ce_case(g, "ce_seq_none", x, t, weight=w4, reduction="none", label_smoothing=0.15)
    # unbatched [C] logits with a 0-d target
    _ce_case(g, "ce_unbatched", g.randn(4), torch.tensor(2), weight=w4, label_smoothing=0.1)
    # large logits: stable log-sum-exp
    _ce_case(g, "ce_large_logits", g.randn(5, 6, scale=60.0), g.randint(0, 6, 5), label_smoothing=0.1)
    _ce_case(g, "ce_large_seg", g.randn(2, 3, 2, 3, scale=60.0), g.randint(0, 3, 2, 2, 3))
    # every target ignored: mean is NaN (0/0), gradients are 0
    _ce_case(g, "ce_all_ignored", g.randn(3, 4), torch.full((3,), -100, dtype=torch.int64))
    _ce_case(g, "ce_all_ignored_smooth", g.randn(2, 4, 3), torch.full((2, 3), -100, dtype=torch.int64),
             weight=w4, label_smoothing=0.2)
    _ce_case(g, "ce_empty_batch", g.randn(0, 4), torch.zeros(0, dtype=torch.int64))

    # class probabilities (soft targets), target gradients too
    for r in REDUCTIONS:
        x = g.randn(5, 4, scale=2.0)
        p = torch.softmax(g.randn(5, 4, requires_grad=False), 1).requires_grad_()
        _ce_case(g, "ce_prob_" + r, x, p, reduction=r)
        _ce_case(g, "ce_prob_weight_smooth_" + r, x, p, weight=w4, reduction=r, label_smoothing=0.2)
        xs = g.randn(2, 4, 3, 5)
        ps = torch.softmax(g.randn(2, 4, 3, 5, requires_grad=False), 1).requires_grad_()
        _ce_case(g, "ce_prob_seg_" + r, xs, ps, weight=w4, reduction=r, label_smoothing=0.1)
    x = g.randn(2, 3, 70)
    p = torch.softmax(g.randn(2, 3, 70, requires_grad=False), 1)  # constant target (no gradient)
    _ce_case(g, "ce_prob_blocks_const_target", x, p, label_smoothing=0.05)
    _ce_case(g, "ce_prob_large", g.randn(3, 5, scale=50.0),
             torch.softmax(g.randn(3, 5, requires_grad=False), 1).requires_grad_())

    # errors
    x = g.randn(3, 4)
    g.case("ce_class_out_of_range", "cross_entropy", None, {"x": x, "target": torch.tensor([0, 7, 1])},
           {"reduction": "mean"}, expect_error="target value 7 (at flat index 1) is out of range for 4 classes")
    g.case("ce_class_negative", "cross_entropy", None, {"x": x, "target": torch.tensor([0, -1, 1])},
           {"reduction": "mean"}, expect_error="target value -1 (at flat index 1) is out of range for 4 classes")
    g.case("ce_target_shape", "cross_entropy", None, {"x": x, "target": torch.tensor([0, 1])},
           {"reduction": "mean"}, expect_error="class-index target [2] does not match logits [3,4] (expected target [3])")
    g.case("ce_prob_shape", "cross_entropy", None, {"x": x, "target": g.rand(3, 5)}, {},
           expect_error="probability target [3,5] must have the shape of logits [3,4]")
    g.case("ce_weight_size", "cross_entropy", None,
           {"x": x, "target": torch.tensor([0, 1, 2]), "weight": g.rand(3, requires_grad=False)}, {},
           expect_error="weight [3] (float32) must be float32 [4], one per class of logits [3,4]")
    g.case("ce_target_dtype", "cross_entropy", None, {"x": x, "target": torch.zeros(3, dtype=torch.uint8)}, {},
           expect_error="target [3] must be int32 class indices or float32 probabilities, got uint8")
    g.case("ce_smoothing_range", "cross_entropy", None, {"x": x, "target": torch.tensor([0, 1, 2])},
           {"label_smoothing": 1.5}, expect_error="label_smoothing 1.5 must be between 0 and 1")


def bce_cases(g):
    def bce(with_w, with_pw, r):
        if with_w and with_pw:
            return lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=r)
        if with_w:
            return lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, weight=w, reduction=r)
        if with_pw:
            return lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction=r)
        return lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r)

    for r in REDUCTIONS:
        x = g.randn(4, 5, scale=3.0)
        hard = g.randint(0, 2, 4, 5).float()
        soft = g.rand(4, 5)  # soft targets that require grad
        w_row = g.rand(5, lo=0.1, hi=2.0, requires_grad=False)
        w_full = g.rand(4, 5, lo=0.1, hi=2.0, requires_grad=False)
        pw = g.rand(5, lo=0.5, hi=4.0, requires_grad=False)
        g.case("bce_" + r, "bce_with_logits", bce(False, False, r), {"x": x, "target": hard}, {"reduction": r})
        g.case("bce_soft_" + r, "bce_with_logits", bce(False, False, r), {"x": x, "target": soft}, {"reduction": r})
        g.case("bce_weight_row_" + r, "bce_with_logits", bce(True, False, r),
               {"x": x, "target": soft, "weight": w_row}, {"reduction": r})
        g.case("bce_weight_full_" + r, "bce_with_logits", bce(True, False, r),
               {"x": x, "target": hard, "weight": w_full}, {"reduction": r})
        g.case("bce_pos_weight_" + r, "bce_with_logits", bce(False, True, r),
               {"x": x, "target": soft, "pos_weight": pw}, {"reduction": r})
        g.case("bce_both_" + r, "bce_with_logits", bce(True, True, r),
               {"x": x, "target": soft, "weight": w_row, "pos_weight": pw}, {"reduction": r})
    # NCHW with a per-channel pos_weight [C,1,1] and a scalar-like weight [1]
    x, t = g.randn(2, 3, 4, 4, scale=2.0), g.rand(2, 3, 4, 4)
    g.case("bce_nchw", "bce_with_logits", bce(True, True, "mean"),
           {"x": x, "target": t, "weight": g.rand(1, lo=0.5, hi=1.5, requires_grad=False),
            "pos_weight": g.rand(3, 1, 1, lo=0.5, hi=3.0, requires_grad=False)}, {"reduction": "mean"})
    # large |x|: the stable formula (no overflow) and its gradients
    big = torch.tensor([-100.0, -30.0, -5.0, 0.0, 5.0, 30.0, 100.0], requires_grad=True)
    tb = torch.tensor([0.0, 1.0, 0.3, 0.5, 1.0, 0.0, 0.7], requires_grad=True)
    g.case("bce_large", "bce_with_logits", bce(False, False, "none"), {"x": big, "target": tb}, {"reduction": "none"})
    g.case("bce_large_pw", "bce_with_logits", bce(False, True, "sum"),
           {"x": big, "target": tb, "pos_weight": torch.tensor([2.5])}, {"reduction": "sum"})
    g.case("bce_target_shape", "bce_with_logits", None, {"x": g.randn(3, 4), "target": g.rand(3, 1)},
           {"reduction": "mean"}, expect_error="target [3,1] must have the shape of input [3,4]")
    g.case("bce_pos_weight_shape", "bce_with_logits", None,
           {"x": g.randn(3, 4), "target": g.rand(3, 4), "pos_weight": g.rand(3, requires_grad=False)},
           {"reduction": "mean"}, expect_error="cannot be broadcast")
    g.case("bce_weight_grows", "bce_with_logits", None,
           {"x": g.randn(3, 4), "target": g.rand(3, 4), "weight": g.rand(2, 3, 4, requires_grad=False)},
           {"reduction": "mean"}, expect_error="weight [2,3,4] must broadcast to input [3,4]")


def regression_cases(g):
    fns = {"mse_loss": F.mse_loss, "l1_loss": F.l1_loss}
    for name, fn in fns.items():
        for r in REDUCTIONS:
            x, t = g.randn(3, 5), g.randn(3, 5)
            g.case("%s_%s" % (name, r), name, lambda x, t, r=r, fn=fn: fn(x, t, reduction=r),
                   {"x": x, "target": t}, {"reduction": r})
            # broadcast target [3,1] against x [3,5] (PyTorch warns but broadcasts)
            tb = g.randn(3, 1)
            g.case("%s_bcast_%s" % (name, r), name, lambda x, t, r=r, fn=fn: fn(x, t, reduction=r),
                   {"x": x, "target": tb}, {"reduction": r})
        g.case(name + "_bcast_x", name, lambda x, t, fn=fn: fn(x, t), {"x": g.randn(4), "target": g.randn(2, 3, 4)},
               {"reduction": "mean"})
        g.case(name + "_const_target", name, lambda x, t, fn=fn: fn(x, t, reduction="sum"),
               {"x": g.randn(2, 7), "target": g.randn(2, 7, requires_grad=False)}, {"reduction": "sum"})
    # l1 at d == 0: gradient 0 (sign)
    x0 = torch.tensor([1.0, -2.0, 0.5, 3.0], requires_grad=True)
    t0 = torch.tensor([1.0, -1.0, 0.5, 2.0], requires_grad=True)
    g.case("l1_loss_zero_diff", "l1_loss", lambda x, t: F.l1_loss(x, t, reduction="none"),
           {"x": x0, "target": t0}, {"reduction": "none"})
    for r in REDUCTIONS:
        for beta in (1.0, 0.5, 2.0):
            x, t = g.randn(4, 5, scale=2.0), g.randn(4, 5)
            g.case("smooth_l1_%s_beta%g" % (r, beta), "smooth_l1_loss",
                   lambda x, t, r=r, b=beta: F.smooth_l1_loss(x, t, reduction=r, beta=b),
                   {"x": x, "target": t}, {"reduction": r, "beta": beta})
    # exactly at the kinks |d| == beta, d == 0, and beta == 0 (l1)
    xk = torch.tensor([0.5, -0.5, 0.25, 0.0, 1.5, -2.0], requires_grad=True)
    tk = torch.zeros(6, requires_grad=True)
    for beta in (0.5, 0.0):
        g.case("smooth_l1_kinks_beta%g" % beta, "smooth_l1_loss",
               lambda x, t, b=beta: F.smooth_l1_loss(x, t, reduction="none", beta=b),
               {"x": xk, "target": tk}, {"reduction": "none", "beta": beta})
    g.case("smooth_l1_bcast", "smooth_l1_loss", lambda x, t: F.smooth_l1_loss(x, t, beta=0.3),
           {"x": g.randn(2, 3, 4), "target": g.randn(3, 1)}, {"reduction": "mean", "beta": 0.3})
    g.case("smooth_l1_negative_beta", "smooth_l1_loss", None, {"x": g.randn(3), "target": g.randn(3)},
           {"reduction": "mean", "beta": -1.0}, expect_error="smooth_l1_loss: beta -1 must be >= 0")
    g.case("mse_loss_bad_shapes", "mse_loss", None, {"x": g.randn(3, 4), "target": g.randn(3, 5)},
           {"reduction": "mean"}, expect_error="mse_loss: shapes [3,4] and [3,5] cannot be broadcast")
    g.case("l1_loss_int_target", "l1_loss", None, {"x": g.randn(3), "target": torch.zeros(3, dtype=torch.int32)},
           {"reduction": "mean"}, expect_error="l1_loss: target [3] must be float32, got int32")


def cases(g):
    cross_entropy_cases(g)
    bce_cases(g)
    regression_cases(g)
