"""Save and load the trained scaler + SVM safely: skops (no pickle), an allowlist, a checksum, the model id.

A pickle runs code from whoever wrote the file. skops stores the object tree as data and refuses,
on load, every type outside its built-in safe set and the few calibration types listed here; the
JSON sidecar records the embedding model's fingerprint, so a classifier is never applied to vectors
from another model, and the file's SHA-256, so a swapped file is noticed before it is parsed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import sklearn
import skops
import skops.io as sio
from sklearn.calibration import CalibratedClassifierCV

from pixseek.errors import EvaluationError, ModelMismatchError

MODEL_FILE = "classifier.skops"
META_FILE = "classifier.json"
# Beyond skops' defaults: what CalibratedClassifierCV(StandardScaler + SVC) is made of. Nothing else.
TRUSTED_TYPES = frozenset(
    {"sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration"}
)


@dataclass(frozen=True)
class ClassifierMeta:
    """What `classify` checks before trusting the saved classifier."""

    model: str  # embedding model name
    fingerprint: str  # embedding model fingerprint: weights + preprocessing
    dim: int
    classes: list[str]
    sha256: str  # of MODEL_FILE
    sklearn_version: str
    skops_version: str


def save_classifier(
    folder: Path, classifier: CalibratedClassifierCV, *, model: str, fingerprint: str, dim: int
) -> ClassifierMeta:
    """Write MODEL_FILE and META_FILE into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    sio.dump(classifier, path)
    meta = ClassifierMeta(
        model=model,
        fingerprint=fingerprint,
        dim=dim,
        classes=[str(c) for c in classifier.classes_],
        sha256=_sha256(path),
        sklearn_version=sklearn.__version__,
        skops_version=skops.__version__,
    )
    (folder / META_FILE).write_text(json.dumps(asdict(meta), indent=2) + "\n", encoding="utf-8")
    return meta


def read_meta(folder: Path) -> ClassifierMeta:
    """The sidecar, or EvaluationError saying what is missing or malformed."""
    path = folder / META_FILE
    if not path.is_file():
        raise EvaluationError(f"{path} not found: run `pixseek eval ... --out {folder}` first")
    try:
        return ClassifierMeta(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise EvaluationError(f"{path}: malformed classifier metadata ({exc})") from exc


def load_classifier(
    folder: Path, *, fingerprint: str | None = None
) -> tuple[CalibratedClassifierCV, ClassifierMeta]:
    """Load after checking the model fingerprint (when given), the checksum and the types in the file."""
    meta = read_meta(folder)
    if fingerprint is not None and fingerprint != meta.fingerprint:
        raise ModelMismatchError(
            f"the classifier in {folder} was trained on {meta.model!r} embeddings (fingerprint "
            f"{meta.fingerprint}), not on this model's (fingerprint {fingerprint}); use --model {meta.model}"
        )
    path = folder / MODEL_FILE
    if not path.is_file():
        raise EvaluationError(f"{path} not found")
    if _sha256(path) != meta.sha256:
        raise EvaluationError(
            f"{path}: checksum does not match {META_FILE}; refusing to load a replaced file"
        )
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises assorted errors on a corrupt archive
        raise EvaluationError(f"{path}: not a readable skops file ({exc})") from exc
    unexpected = untrusted - TRUSTED_TYPES
    if unexpected:
        raise EvaluationError(f"{path}: refusing to load untrusted types {sorted(unexpected)}")
    classifier = sio.load(path, trusted=sorted(untrusted))
    if not isinstance(classifier, CalibratedClassifierCV):
        raise EvaluationError(f"{path}: expected a calibrated classifier, found {type(classifier).__name__}")
    return classifier, meta


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
