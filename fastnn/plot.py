"""Pictures of training and of what a network computes (extra ``plot``: matplotlib).

``history`` draws the loss and each metric per epoch, ``decision_boundary`` the classes a
model predicts over a 2-D plane, ``activations`` every layer's output for one input,
``confusion_matrix`` the counts of true against predicted classes. Each returns a
matplotlib Figure made with the object-oriented API, so no pyplot state is touched:
save it with ``fig.savefig("out.png")``, or leave it as a notebook cell's value.
matplotlib is imported on first use, so ``import fastnn.plot`` costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from . import metrics
from .layers import Dense

__all__ = ["activations", "confusion_matrix", "decision_boundary", "history"]

PANEL = (4.5, 3.5)  # inches per axes
CLASS_COLOURS = "tab10"


def history(hist, title: str | None = None):
    """One axes per quantity (loss, then each metric), training against validation.

    hist: the History ``model.fit`` returns, its ``.history`` dict, or a fitted
        ``fastnn.sklearn`` (or scikit-learn) MLP: its ``loss_curve_``, and with early
        stopping its ``validation_scores_``.
    """
    logs = _logs(hist)
    if not isinstance(logs, Mapping) or not any(len(v) for v in logs.values()):
        raise ValueError(
            "history needs the History fit returns (or its .history dict) with at least one epoch"
        )
    quantities = list(dict.fromkeys(key.removeprefix("val_") for key in logs))
    figure = _figure(figsize=(PANEL[0] * len(quantities), PANEL[1]), layout="constrained")
    for ax, quantity in zip(figure.subplots(1, len(quantities), squeeze=False)[0], quantities):
        for key, label in ((quantity, "training"), (f"val_{quantity}", "validation")):
            if key in logs:
                values = np.asarray(logs[key], dtype=np.float64)
                epochs = np.arange(1, len(values) + 1)
                ax.plot(epochs, values, marker="o" if len(values) <= 30 else None, label=label)
        ax.set_title(quantity)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    return figure


def decision_boundary(model, X, y, resolution: int = 200, title: str | None = None):
    """The predicted class over the plane around 2-D points X (filled contours), with
    the points coloured by their true class y.

    model: a fastnn Model (classes from ``predict_classes``) or anything whose
        ``predict`` returns labels, such as ``fastnn.sklearn.MLPClassifier``.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2-D points X of shape (n, 2); got {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must hold one label per point, shape ({X.shape[0]},); got {y.shape}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2; got {resolution!r}")
    low, high = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.maximum(high - low, 1e-9)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    predicted = _predicted_labels(model, np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    labels, codes = np.unique(np.concatenate([y, predicted]), return_inverse=True)
    true_codes, grid_codes = codes[: y.size], codes[y.size :].reshape(grid_x.shape)

    figure = _figure(figsize=(PANEL[0] + 1, PANEL[1] + 1), layout="constrained")
    ax = figure.subplots()
    colours = _class_colours(len(labels))
    levels = np.arange(len(labels) + 1) - 0.5
    ax.contourf(grid_x, grid_y, grid_codes, levels=levels, cmap=colours, alpha=0.35)
    points = ax.scatter(
        X[:, 0],
        X[:, 1],
        c=true_codes,
        cmap=colours,
        vmin=-0.5,
        vmax=len(labels) - 0.5,
        edgecolors="black",
        linewidths=0.5,
        s=20,
    )
    handles, _ = points.legend_elements()
    ax.legend(handles, [str(label) for label in labels], title="class", loc="best")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "decision boundary")
    return figure


def activations(model, x, title: str | None = None):
    """Each layer's output for one input ``x``: one row of coloured bars per layer
    (the input first), from ``model.forward_trace``. Dropout layers, the identity at
    prediction time, are left out."""
    row = np.asarray(x, dtype=np.float64)
    if row.ndim == 2 and row.shape[0] == 1:
        row = row[0]
    if row.ndim != 1:
        raise ValueError(
            f"activations shows one input: x of shape (n_features,) or (1, n_features); "
            f"got {np.shape(x)}"
        )
    outputs = model.forward_trace(row[None, :])
    rows = [("input", row)]
    for layer, output in zip(model.layers, outputs):
        if isinstance(layer, Dense):
            rows.append((f"{layer.name}\n{layer.activation.name}", output[0]))

    figure = _figure(figsize=(9, 0.5 + 1.1 * len(rows)), layout="constrained")
    for ax, (label, values) in zip(figure.subplots(len(rows), 1, squeeze=False)[:, 0], rows):
        image = ax.imshow(values[None, :], aspect="auto", cmap="viridis")
        figure.colorbar(image, ax=ax, pad=0.01, fraction=0.03)
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
        if values.size <= 32:
            ax.set_xticks(range(values.size))
            if values.size <= 12:
                _annotate_bars(ax, values)
        else:
            ax.set_xticks([])
    figure.axes[0].set_title(title or "activations for one input")
    return figure


def confusion_matrix(y_true, y_pred, labels: Sequence | None = None, title: str | None = None):
    """Annotated counts of samples of true class i (rows) predicted as class j (columns).

    y_pred may be labels or per-class scores (argmax taken, as in fn.metrics); labels
    (any type) selects and orders the classes shown, default: every label present.
    """
    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1) if pred.shape[1] > 1 else (pred[:, 0] > 0.5).astype(int)
    if true.shape != pred.shape or true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred need one label per sample; got shapes {true.shape} and {pred.shape}"
        )
    classes = np.unique(np.concatenate([true, pred])) if labels is None else np.asarray(labels)
    if classes.size == 0:
        raise ValueError("confusion_matrix needs at least one label")
    keep = np.isin(true, classes) & np.isin(pred, classes)
    order = {label: i for i, label in enumerate(classes.tolist())}
    true_index = np.array([order[v] for v in true[keep].tolist()], dtype=np.int64)
    pred_index = np.array([order[v] for v in pred[keep].tolist()], dtype=np.int64)
    counts = metrics.confusion_matrix(true_index, pred_index, n_classes=classes.size)

    size = 1.5 + 0.5 * classes.size
    figure = _figure(figsize=(size + 1, size), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=ax, fraction=0.046)
    dark = counts.max() / 2
    for (i, j), count in np.ndenumerate(counts):
        colour = "white" if count > dark else "black"
        ax.text(j, i, str(count), ha="center", va="center", color=colour)
    names = [str(label) for label in classes]
    ax.set_xticks(range(classes.size), names, rotation=45 if classes.size > 6 else 0)
    ax.set_yticks(range(classes.size), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    return figure


# ------------------------------------------------------------ helpers


def _figure(**options):
    """A new Figure, outside pyplot (nothing global to leak or close)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("fastnn.plot needs matplotlib: pip install 'fastnn[plot]'") from error
    return Figure(**options)


def _class_colours(n: int):
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    base = colormaps[CLASS_COLOURS if n <= 10 else "tab20"]
    return ListedColormap([base(i % base.N) for i in range(max(n, 1))])


def _logs(hist) -> Mapping:
    if hasattr(hist, "loss_curve_"):  # an MLP estimator
        logs = {"loss": hist.loss_curve_}
        if getattr(hist, "validation_scores_", None):
            logs["val_score"] = hist.validation_scores_
        return logs
    return hist.history if hasattr(hist, "history") else hist


def _predicted_labels(model, X: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_classes"):  # a fastnn Model: argmax or > 0.5
        return np.asarray(model.predict_classes(X))
    predicted = np.asarray(model.predict(X))
    if predicted.ndim == 2:  # scores rather than labels
        if predicted.shape[1] > 1:
            return predicted.argmax(axis=1)
        return (predicted[:, 0] > 0.5).astype(np.int64)
    return predicted


def _annotate_bars(ax, values: np.ndarray) -> None:
    middle = (values.max() + values.min()) / 2
    for i, value in enumerate(values):
        colour = "black" if value > middle else "white"
        ax.text(i, 0, f"{value:.2g}", ha="center", va="center", color=colour, fontsize=8)
