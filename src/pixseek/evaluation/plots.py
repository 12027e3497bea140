"""PNG plots for a study: confusion matrix, model comparison, per-class F1 (matplotlib, Agg, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window, also on machines without a display
import matplotlib.pyplot as plt
import numpy as np

from pixseek.evaluation.classifiers import DISPLAY_NAMES

DPI = 110


def write_plots(folder: Path, report: dict[str, Any]) -> list[Path]:
    """All three plots into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        confusion_plot(folder / "confusion_matrix.png", report),
        comparison_plot(folder / "model_comparison.png", report),
        per_class_f1_plot(folder / "per_class_f1.png", report),
    ]


def confusion_plot(path: Path, report: dict[str, Any], *, classifier: str = "svm") -> Path:
    """Row-normalised confusion matrix (recall per true class); counts in the cells when few classes."""
    labels = report["labels"]
    counts = np.asarray(report["details"][classifier]["confusion_matrix"], dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(labels)
    side = min(4 + 0.45 * n, 18)
    fig, ax = plt.subplots(figsize=(side, side * 0.85))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8 if n > 12 else 10)
    ax.set_yticks(range(n), labels, fontsize=8 if n > 12 else 10)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    color = "white" if rates[i, j] > 0.6 else "black"
                    ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    ax.set_title(f"{DISPLAY_NAMES.get(classifier, classifier)}: confusion matrix ({report['model']})")
    return _save(fig, path)


def comparison_plot(path: Path, report: dict[str, Any]) -> Path:
    """Accuracy and macro F1 per classifier, side by side."""
    scored = {k: v for k, v in report["classifiers"].items() if not v.get("skipped")}
    names = [DISPLAY_NAMES.get(k, k) for k in scored]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), 4.2))
    for offset, key, label in ((-0.2, "accuracy", "accuracy"), (0.2, "macro_f1", "macro F1")):
        values = [100 * v[key] for v in scored.values()]
        bars = ax.bar(x + offset, values, width=0.4, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"Classifiers on {report['model']} embeddings ({report['split']['n_test']} test images)")
    return _save(fig, path)


def per_class_f1_plot(path: Path, report: dict[str, Any], *, classifier: str = "svm") -> Path:
    """Horizontal bars of per-class F1, worst at the top, with each class's test support."""
    per_class = report["details"][classifier]["per_class"]
    items = sorted(per_class.items(), key=lambda kv: kv[1]["f1"])
    fig, ax = plt.subplots(figsize=(6.5, max(2.5, 0.28 * len(items) + 1)))
    y = np.arange(len(items))
    bars = ax.barh(y, [v["f1"] for _, v in items], color="tab:green")
    ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.set_yticks(y, [f"{c} (n={v['support']})" for c, v in items], fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("F1")
    macro = report["classifiers"][classifier]["macro_f1"]
    ax.axvline(macro, color="black", linestyle="--", linewidth=1)
    ax.text(macro, -0.7, f"macro F1 {macro:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_title(f"Per-class F1, {DISPLAY_NAMES.get(classifier, classifier)}")
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
