"""Does the query adapter hurt text->image search? The adapter is trained on image vectors only, and text
queries pass through the same map; this measures text->image retrieval with and without it.

    python benchmarks/adapt_text_check.py /usr/share/tuxpaint/stamps tests/fixtures/tiny-clip /tmp/tiny.db

Indexes FOLDER with the CLIP model folder MODEL into DB (new), trains the adapter on the folder labels, then
asks one text query per label ("a picture of {label}") and reports P@10 and mAP@10 (relevant = an image of
that label) frozen and adapted, as JSON. With the tiny random-weight fixture both sit near chance: it checks
the plumbing and that the map does not break text queries, not CLIP's real text quality.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np

from pixseek import Query
from pixseek.services import Index

K = 10


def _scores(index: Index, labels: list[str], use_adapter: bool) -> dict[str, float]:
    """P@10, and AP@10 divided by min(10, R) with R the images of the label (as `pixseek eval` divides)."""
    counts = Counter(index.arrays().labels)
    precision, ap = [], []
    for label in labels:
        hits = index.search(Query(texts=((f"a picture of {label}", 1.0),), use_adapter=use_adapter), k=K)
        relevant = np.array([h.label == label for h in hits], dtype=float)
        precision.append(relevant.mean())
        hits_so_far = np.cumsum(relevant)
        ap.append(float((hits_so_far / np.arange(1, K + 1) * relevant).sum() / min(K, counts[label])))
    return {"precision_at_10": round(float(np.mean(precision)), 4), "map_at_10": round(float(np.mean(ap)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("model")
    parser.add_argument("db")
    args = parser.parse_args()
    index = Index(args.db, model=args.model)
    index.add(args.folder)
    report = index.adapt()
    labels = index.labels()
    result = {
        "images": index.info().images,
        "labels": len(labels),
        "adapter": report.to_dict() if report else None,
        "frozen": _scores(index, labels, use_adapter=False),
        "adapted": _scores(index, labels, use_adapter=True),
        "chance_precision_at_10": round(1 / len(labels), 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
