"""Write a study's report.json and a report.md laid out like the paper's Tables I-IV."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixseek.evaluation.classifiers import DISPLAY_NAMES

REPORT_JSON = "report.json"
REPORT_MD = "report.md"


def write_report(folder: Path, report: dict[str, Any], *, plots: Sequence[Path] = ()) -> tuple[Path, Path]:
    """report.json (the data) and report.md (the same, for people) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / REPORT_JSON
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path = folder / REPORT_MD
    md_path.write_text(
        render_markdown(report, plots=[p.relative_to(folder) for p in plots]), encoding="utf-8"
    )
    return json_path, md_path


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], *, align: str = "") -> list[str]:
    aligns = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in aligns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(report: dict[str, Any], *, plots: Sequence[Path] = ()) -> str:
    split = report["split"]
    lines = [
        "# pixseek evaluation report",
        "",
        f"Model **{report['model']}**, {report['n_images']} images in {report['n_classes']} classes; "
        f"stratified {1 - split['test_size']:.0%}/{split['test_size']:.0%} split with seed {split['seed']} "
        f"({split['n_train']} train, {split['n_test']} test); SVM gamma = {report['gamma']!s}.",
        "",
    ]
    for reason, count in report.get("dropped", {}).items():
        lines.append(f"- Dropped {count} images {reason}.")
    if report.get("dropped_classes"):
        classes = ", ".join(f"{c} ({n})" for c, n in report["dropped_classes"].items())
        lines.append(f"- Classes dropped: {classes}.")
    if report.get("dropped"):
        lines.append("")
    lines += _inputs(report) + _dataset(report) + _overall(report) + _per_class(report) + _comparison(report)
    lines += _cv(report) + _retrieval(report) + _feedback(report) + _adaptation(report)
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem.replace('_', ' ')}]({p.as_posix()})" for p in plots] + [""]
    return "\n".join(lines)


def _inputs(report: dict[str, Any]) -> list[str]:
    """What indexing read, failed on, or never opened (present only when `eval` indexed a folder)."""
    indexing, skipped = report.get("indexing"), report.get("skipped_files")
    if not indexing and not skipped:
        return []
    lines = ["## Input", ""]
    if indexing:
        lines.append(
            f"- Indexed in this run: {indexing['added']} added, {indexing['unchanged']} unchanged, "
            f"{len(indexing['failed'])} failed ({indexing['seconds']:.1f} s, "
            f"{indexing['images_per_second']:.1f} images/s)."
        )
        lines += [f"  - failed: `{f['path']}`: {f['error']}" for f in indexing["failed"][:20]]
    if skipped:
        counts = ", ".join(f"{n} {ext}" for ext, n in skipped.items())
        lines.append(f"- Not images by extension, never read: {counts}.")
    return [*lines, ""]


def _dataset(report: dict[str, Any]) -> list[str]:
    counts = report["class_counts"]
    rows = [(c, n) for c, n in counts.items()]
    return ["## Table I: images per class", "", *_table(["Class", "Images"], rows)]


def _overall(report: dict[str, Any]) -> list[str]:
    s = report["classifiers"]["svm"]
    rows = [
        ("Overall accuracy", _pct(s["accuracy"])),
        ("Macro avg precision", _pct(s["macro_precision"])),
        ("Macro avg recall", _pct(s["macro_recall"])),
        ("Macro avg F1", _pct(s["macro_f1"])),
        ("Weighted avg F1", _pct(s["weighted_f1"])),
        ("Test set size", f"{report['split']['n_test']} samples"),
    ]
    return [
        "## Table II: SVM (StandardScaler + RBF, C=10) on the test split",
        "",
        *_table(["Metric", "Value"], rows),
    ]


def _per_class(report: dict[str, Any]) -> list[str]:
    per_class = report["details"]["svm"]["per_class"]
    s = report["classifiers"]["svm"]
    n = report["split"]["n_test"]
    rows = [
        (c, f"{v['precision']:.4f}", f"{v['recall']:.4f}", f"{v['f1']:.4f}", v["support"])
        for c, v in per_class.items()
    ]
    rows.append(
        ("Macro avg", f"{s['macro_precision']:.4f}", f"{s['macro_recall']:.4f}", f"{s['macro_f1']:.4f}", n)
    )
    rows.append(
        (
            "Weighted avg",
            f"{s['weighted_precision']:.4f}",
            f"{s['weighted_recall']:.4f}",
            f"{s['weighted_f1']:.4f}",
            n,
        )
    )
    header = ["Class", "Precision", "Recall", "F1", "Support"]
    return ["## Table III: per-class report (SVM)", "", *_table(header, rows)]


def _comparison(report: dict[str, Any]) -> list[str]:
    rows, skipped = [], []
    for name, m in report["classifiers"].items():
        label = DISPLAY_NAMES.get(name, name)
        if m.get("skipped"):
            skipped.append(f"- {label}: skipped, {m['reason']}.")
            continue
        fit = f"{m['fit_seconds']:.2f}" if "fit_seconds" in m else "-"
        metrics = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1")
        rows.append((label, *(_pct(m[k]) for k in metrics), fit))
    header = ["Model", "Accuracy", "Macro P", "Macro R", "Macro F1", "Weighted F1", "Fit (s)"]
    out = ["## Table IV: comparison of classifiers (same split)", "", *_table(header, rows)]
    return out + ([*skipped, ""] if skipped else [])


def _cv(report: dict[str, Any]) -> list[str]:
    cv = report.get("cv")
    if not cv:
        return []
    rows = []
    for name, m in cv["classifiers"].items():
        cells = [
            f"{_pct(m[k]['mean'])} ± {_pct(m[k]['std'])}" for k in ("accuracy", "macro_f1", "weighted_f1")
        ]
        rows.append((DISPLAY_NAMES.get(name, name), *cells))
    title = f"## Stratified {cv['folds']}-fold cross-validation (mean ± std over folds, seed {cv['seed']})"
    return [title, "", *_table(["Model", "Accuracy", "Macro F1", "Weighted F1"], rows)]


def _retrieval(report: dict[str, Any]) -> list[str]:
    r = report["retrieval"]
    rows = [("Precision@10", f"{r['precision_at_10']:.4f}"), ("Recall@1", f"{r['recall_at_1']:.4f}"),
            ("mAP@10", f"{r['map_at_10']:.4f}"), ("Queries", r["queries"])]  # fmt: skip
    note = (
        "Leave-one-out over all images, cosine similarity; relevant = same class. AP@10 is divided by "
        "min(10, R), R = the other images of the query's class; recall@1 = the nearest other image "
        "has the query's class."
    )
    active = report.get("active_adapter")
    if active:
        a = active["retrieval"]
        note += (
            f" Through the index's active adapter ({active['method']}, trained on {active['trained_on']} of"
            f" these images' labels, so optimistic): P@10 {a['precision_at_10']:.4f}, mAP@10"
            f" {a['map_at_10']:.4f}. The held-out measure is `pixseek eval --adapt`."
        )
    return ["## Retrieval (leave-one-out)", "", *_table(["Metric", "Value"], rows), note, ""]


def _feedback(report: dict[str, Any]) -> list[str]:
    block = report.get("feedback")
    if not block:
        return []
    header = ["Method", "Round", "P@10", "Residual P@10", "Residual P@10 without feedback"]
    rows = []
    for method, result in block["compared"].items():
        name = f"{method} (default)" if method == block["method"] else method
        for i, (r, plain) in enumerate(zip(result["rounds"], block["without_feedback"], strict=True)):
            figures = [r["precision_at_10"], r["residual_precision_at_10"], plain["residual_precision_at_10"]]
            rows.append((name if i == 0 else "", i, *(f"{x:.4f}" for x in figures)))
    note = (
        f"A simulated user over {block['queries']} queries: round 0 is the plain top-10; after each round "
        "every result not seen before is marked relevant (same class) or not, and the next round re-queries "
        "with all marks. P@10 lists the marked relevant images first; residual P@10 counts only images not "
        "shown before; without feedback, the same user pages through the plain ranking (ranks 11-20, 21-30)."
    )
    return ["## Relevance feedback (simulated user)", "", *_table(header, rows), note, ""]


def _adaptation(report: dict[str, Any]) -> list[str]:
    block = report.get("adaptation")
    if not block:
        return []
    rows = []
    for part in ("seen", "unseen"):
        frozen, adapted = block[part]["frozen"], block[part]["adapted"]
        for metric, name in (("precision_at_10", "P@10"), ("map_at_10", "mAP@10")):
            change = adapted[metric] - frozen[metric]
            rows.append(
                (f"{part} classes", name, f"{frozen[metric]:.4f}", f"{adapted[metric]:.4f}", f"{change:+.4f}")
            )
    note = (
        f"The query adapter ({block['method']}, trained in {block['train_seconds']} s on "
        f"{block['train_images']} images): seen classes are measured among the held-out half of every "
        "class; unseen classes among classes it was not trained on. Leave-one-out retrieval, ranked as "
        "search ranks it (class-posterior: each query's 200 nearest re-scored)."
    )
    header = ["Classes", "Metric", "Frozen", "Adapted", "Change"]
    return ["## Adaptation (query adapter)", "", *_table(header, rows), note, ""]
