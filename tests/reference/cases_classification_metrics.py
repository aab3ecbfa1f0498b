"""Reference values for the built-in classification metrics (plugins/builtin/
classification_metrics.c, confusion_matrix.c) from scikit-learn
(python3-sklearn), in gen_fixtures.py's format:

    /usr/bin/python3 tests/reference/gen_fixtures.py classification_metrics

Op "metric": params name (Accuracy / Precision / Recall / F1Score), n_classes
and the metric's own params (task, average, top_k, threshold); inputs
predictions and target as the node and the label give them (logits [N,C] or
[B,C,H,W], one-hot / multi-hot targets of the same shape); out is the main
value and, for average "none", per_class the per-class values. Op
"confusion_matrix": out is the matrix (rows = truth), mcc the Matthews
correlation coefficient. torchmetrics' semantics are written in sklearn
terms below: multiclass argmax, binary/multilabel sigmoid > threshold,
multiclass accuracy = recall (per class: tp / (tp + fn)), multilabel
accuracy per label = (tp + tn) / all. Every class occurs in the targets, so
torchmetrics' macro rule (classes seen nowhere are left out) and sklearn's
agree.
"""
import numpy as np
import torch
from sklearn import metrics as skm

N_CLASSES = 4
AVERAGES = ["micro", "macro", "weighted", "none"]
NAMES = ["Accuracy", "Precision", "Recall", "F1Score"]


def t32(a):
    return torch.tensor(np.asarray(a, dtype=np.float32))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def balanced_labels(g, n, c):
    """n class indices in which every class occurs."""
    y = g.randint(0, c, n).numpy()
    y[:c] = np.arange(c)
    return y


def one_hot(y, c):
    return np.eye(c, dtype=np.float32)[y]


def sk_multiclass(name, y, p, average):
    """torchmetrics multiclass metric through sklearn (labels = every class)."""
    labels = list(range(N_CLASSES))
    avg = None if average == "none" else average
    kw = dict(labels=labels, average=avg, zero_division=0)
    if name == "Accuracy":
        if average == "micro":
            return skm.accuracy_score(y, p)
        return skm.recall_score(y, p, **kw)  # multiclass accuracy per class is recall
    fn = {"Precision": skm.precision_score, "Recall": skm.recall_score, "F1Score": skm.f1_score}[name]
    return fn(y, p, **kw)


def sk_multilabel(name, y, p, average):
    avg = None if average == "none" else average
    if name == "Accuracy":
        per_label = np.array([skm.accuracy_score(y[:, c], p[:, c]) for c in range(y.shape[1])])
        if average == "micro":
            return 1.0 - skm.hamming_loss(y, p)
        if average == "macro":
            return per_label.mean()
        if average == "weighted":
            support = y.sum(0)
            return (per_label * support).sum() / support.sum()
        return per_label
    fn = {"Precision": skm.precision_score, "Recall": skm.recall_score, "F1Score": skm.f1_score}[name]
    return fn(y, p, average=avg, zero_division=0)


def sk_binary(name, y, p):
    return {"Accuracy": skm.accuracy_score, "Precision": skm.precision_score, "Recall": skm.recall_score,
            "F1Score": skm.f1_score}[name](y, p, **({} if name == "Accuracy" else {"zero_division": 0}))


def outputs(value):
    """out = main value; average none: the mean as main and per_class."""
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        return {"out": t32(v)}
    return {"out": t32(v.mean()), "per_class": t32(v)}


def metric_case(g, name, inputs, params, value):
    # Reference values are float64 ratios of counts; the C side divides
    # counts in double and rounds once to float32.
    g.case(name, "metric", lambda *a: outputs(value), inputs=inputs, params=params)


def multiclass_cases(g):
    n = 23
    logits = g.randn(n, N_CLASSES, requires_grad=False)
    y = balanced_labels(g, n, N_CLASSES)
    p = logits.numpy().argmax(1)
    inputs = {"predictions": logits, "target": t32(one_hot(y, N_CLASSES))}
    for name in NAMES:
        for average in AVERAGES:
            params = {"name": name, "n_classes": N_CLASSES, "task": "multiclass", "average": average}
            metric_case(g, "multiclass_%s_%s" % (name, average), inputs, params, sk_multiclass(name, y, p, average))
    # Default params: multiclass inferred from 4 classes, average micro.
    metric_case(g, "multiclass_defaults_F1Score", inputs, {"name": "F1Score", "n_classes": N_CLASSES},
                skm.f1_score(y, p, average="micro"))
    # Integer class indices as the target.
    metric_case(g, "multiclass_index_target", {"predictions": logits, "target": torch.tensor(y, dtype=torch.int32)},
                {"name": "Precision", "n_classes": N_CLASSES, "average": "macro"},
                sk_multiclass("Precision", y, p, "macro"))
    # top_k = 2: a hit when the target is among the two largest logits.
    top2 = np.argsort(-logits.numpy(), axis=1, kind="stable")[:, :2]
    metric_case(g, "multiclass_top2_Accuracy_micro", inputs,
                {"name": "Accuracy", "n_classes": N_CLASSES, "average": "micro", "top_k": 2},
                skm.top_k_accuracy_score(y, logits.numpy(), k=2, labels=list(range(N_CLASSES))))
    hit = (top2 == y[:, None]).any(1)
    per_class_recall = np.array([hit[y == c].mean() for c in range(N_CLASSES)])
    metric_case(g, "multiclass_top2_Recall_macro", inputs,
                {"name": "Recall", "n_classes": N_CLASSES, "average": "macro", "top_k": 2}, per_class_recall.mean())
    # Precision with top_k: each of the k picks counts (tp / (tp + fp) over all picks).
    metric_case(g, "multiclass_top2_Precision_micro", inputs,
                {"name": "Precision", "n_classes": N_CLASSES, "average": "micro", "top_k": 2}, hit.sum() / (2 * n))


def segmentation_cases(g):
    b, h, w = 2, 3, 5
    logits = g.randn(b, N_CLASSES, h, w, requires_grad=False)
    y = balanced_labels(g, b * h * w, N_CLASSES).reshape(b, h, w)
    target = torch.tensor(one_hot(y, N_CLASSES)).permute(0, 3, 1, 2).contiguous()
    p = logits.numpy().argmax(1)
    inputs = {"predictions": logits, "target": target}
    for name, average in (("F1Score", "macro"), ("Accuracy", "micro"), ("Recall", "weighted")):
        metric_case(g, "segmentation_%s_%s" % (name, average), inputs,
                    {"name": name, "n_classes": N_CLASSES, "average": average},
                    sk_multiclass(name, y.reshape(-1), p.reshape(-1), average))
    cm = skm.confusion_matrix(y.reshape(-1), p.reshape(-1), labels=list(range(N_CLASSES)))
    g.case("confusion_segmentation", "confusion_matrix",
           lambda *a: {"out": t32(cm), "mcc": t32(skm.matthews_corrcoef(y.reshape(-1), p.reshape(-1)))},
           inputs=inputs, params={"n_classes": N_CLASSES})


def multilabel_cases(g):
    n = 19
    logits = g.randn(n, N_CLASSES, requires_grad=False)
    y = (g.rand(n, N_CLASSES, requires_grad=False) > 0.5).numpy().astype(np.int64)
    y[0] = 1  # every label occurs
    p = (sigmoid(logits.numpy().astype(np.float64)) > 0.5).astype(np.int64)
    inputs = {"predictions": logits, "target": t32(y)}
    for name in NAMES:
        for average in AVERAGES:
            params = {"name": name, "n_classes": N_CLASSES, "task": "multilabel", "average": average}
            metric_case(g, "multilabel_%s_%s" % (name, average), inputs, params, sk_multilabel(name, y, p, average))
    # Probabilities (all in [0, 1]) are thresholded without a sigmoid.
    probs = g.rand(n, N_CLASSES, requires_grad=False)
    pp = (probs.numpy() > 0.3).astype(np.int64)
    metric_case(g, "multilabel_probabilities_threshold", {"predictions": probs, "target": t32(y)},
                {"name": "F1Score", "n_classes": N_CLASSES, "task": "multilabel", "average": "macro",
                 "threshold": 0.3}, sk_multilabel("F1Score", y, pp, "macro"))


def binary_cases(g):
    n = 21
    logits = g.randn(n, 1, requires_grad=False)
    y = (g.rand(n, 1, requires_grad=False) > 0.5).numpy().astype(np.int64)
    p = (sigmoid(logits.numpy().astype(np.float64)) > 0.5).astype(np.int64)
    inputs = {"predictions": logits, "target": t32(y)}
    for name in NAMES:
        metric_case(g, "binary_%s" % name, inputs, {"name": name, "n_classes": 1},
                    sk_binary(name, y.reshape(-1), p.reshape(-1)))
    probs = g.rand(n, 1, requires_grad=False)
    pp = (probs.numpy() > 0.7).astype(np.int64)
    metric_case(g, "binary_probabilities_threshold", {"predictions": probs, "target": t32(y)},
                {"name": "Recall", "n_classes": 1, "threshold": 0.7}, sk_binary("Recall", y.reshape(-1), pp.reshape(-1)))
    cm = skm.confusion_matrix(y.reshape(-1), p.reshape(-1), labels=[0, 1])
    g.case("confusion_binary", "confusion_matrix",
           lambda *a: {"out": t32(cm), "mcc": t32(skm.matthews_corrcoef(y.reshape(-1), p.reshape(-1)))},
           inputs=inputs, params={"n_classes": 1})


def confusion_cases(g):
    n = 29
    logits = g.randn(n, N_CLASSES, requires_grad=False)
    y = balanced_labels(g, n, N_CLASSES)
    p = logits.numpy().argmax(1)
    cm = skm.confusion_matrix(y, p, labels=list(range(N_CLASSES)))
    g.case("confusion_multiclass", "confusion_matrix",
           lambda *a: {"out": t32(cm), "mcc": t32(skm.matthews_corrcoef(y, p))},
           inputs={"predictions": logits, "target": t32(one_hot(y, N_CLASSES))}, params={"n_classes": N_CLASSES})
    # Constant predictions: the MCC denominator is 0, and the metric is 0.
    const = torch.zeros(n, N_CLASSES)
    const[:, 2] = 1.0
    cm0 = skm.confusion_matrix(y, np.full(n, 2), labels=list(range(N_CLASSES)))
    g.case("confusion_zero_denominator", "confusion_matrix",
           lambda *a: {"out": t32(cm0), "mcc": t32(0.0)},
           inputs={"predictions": const, "target": torch.tensor(y, dtype=torch.int32)},
           params={"n_classes": N_CLASSES})


def error_cases(g):
    x = g.randn(4, N_CLASSES, requires_grad=False)
    t = t32(one_hot(np.arange(4), N_CLASSES))
    g.case("error_binary_many_classes", "metric", None, inputs={"predictions": x, "target": t},
           params={"name": "Accuracy", "n_classes": N_CLASSES, "task": "binary"},
           expect_error="but the dataset has more than 1 class")
    g.case("error_multiclass_one_class", "metric", None, inputs={"predictions": x[:, :1], "target": t[:, :1]},
           params={"name": "Accuracy", "n_classes": 1, "task": "multiclass"},
           expect_error="but the dataset has only 1 class")
    g.case("error_bad_average", "metric", None, inputs={"predictions": x, "target": t},
           params={"name": "Recall", "n_classes": N_CLASSES, "average": "samples"},
           expect_error="params.average must be")
    g.case("error_bad_shape", "metric", None, inputs={"predictions": x, "target": t[:3]},
           params={"name": "F1Score", "n_classes": N_CLASSES},
           expect_error="needs the predictions' shape")
    g.case("error_confusion_shape", "confusion_matrix", None,
           inputs={"predictions": x, "target": t[:, :3]}, params={"n_classes": N_CLASSES},
           expect_error="one-hot target needs the predictions' shape")


def cases(g):
    multiclass_cases(g)
    segmentation_cases(g)
    multilabel_cases(g)
    binary_cases(g)
    confusion_cases(g)
    error_cases(g)
