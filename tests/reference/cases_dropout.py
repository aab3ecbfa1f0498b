"""Dropout: the deterministic cases (eval identity, p = 0, p = 1) and errors.
Random masks cannot match PyTorch's generator bit for bit; tests/ops/test_dropout.c
checks their statistics, scaling and gradients."""
import torch
import torch.nn.functional as F


def cases(g):
    for i, shape in enumerate([(2, 3, 4, 5), (7,), (3, 17)]):
        x = g.randn(*shape)
        g.case("dropout_eval_%d" % i, "dropout", lambda x: F.dropout(x, 0.5, training=False), {"x": x},
               {"p": 0.5, "training": False})
        g.case("dropout_p0_train_%d" % i, "dropout", lambda x: F.dropout(x, 0.0, training=True), {"x": x},
               {"p": 0.0, "training": True})
        g.case("dropout_p1_train_%d" % i, "dropout", lambda x: F.dropout(x, 1.0, training=True), {"x": x},
               {"p": 1.0, "training": True})
    # p = 1 multiplies by zero, so NaN stays NaN (and infinities become NaN) as in PyTorch.
    special = torch.tensor([1.0, float("nan"), -2.0, float("inf")], requires_grad=True)
    g.case("dropout_p1_nan", "dropout", lambda x: F.dropout(x, 1.0, training=True), {"x": special},
           {"p": 1.0, "training": True})
    x = g.randn(3, 4)
    g.case("dropout_p_negative", "dropout", None, {"x": x}, {"p": -0.1},
           expect_error="dropout: probability has to be between 0 and 1, but got -0.1 (input [3,4])")
    g.case("dropout_p_above_one", "dropout", None, {"x": x}, {"p": 1.5},
           expect_error="dropout: probability has to be between 0 and 1, but got 1.5")
    g.case("dropout_p_nan", "dropout", None, {"x": x}, {"p": "nan"},
           expect_error="dropout: probability has to be between 0 and 1")
    g.case("dropout_int_input", "dropout", None, {"x": torch.zeros(3, dtype=torch.int32)}, {"p": 0.5},
           expect_error="dropout: input [3] must be float32")
