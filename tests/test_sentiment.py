"""The shipped sentiment model: loads from the package, classifies, is rebuilt reproducibly, CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli import app
from domain.sentiment import Sentiment, default_model, scores, train

SAMPLES = [
    "房间很干净，服务热情，下次还住",
    "外卖送得太慢了，饭都凉了，难吃",
    "客服态度恶劣，再也不买了",
    "物流很快，包装完好，好评",
    "质量太差，用了两天就坏了",
    "味道不错，分量足",
]


def test_shipped_model_classifies_clear_cases() -> None:
    labels = [label for label, _, _ in default_model().classify(SAMPLES)]
    assert labels == [
        Sentiment.positive,
        Sentiment.negative,
        Sentiment.negative,
        Sentiment.positive,
        Sentiment.negative,
        Sentiment.positive,
    ]
    meta = default_model().meta or {}
    assert meta["held_out_macro_f1"] >= 0.85


def test_training_is_reproducible_and_meets_the_target() -> None:
    model, report = train()
    assert report["held_out_macro_f1"] >= 0.85 and report["held_out"] > 3000
    shipped = default_model()
    assert report == shipped.meta
    for text in [*SAMPLES, "今天发布会", "还行吧，一般般"]:
        assert model.decision(text) == pytest.approx(shipped.decision(text), abs=1e-4)


def test_scores() -> None:
    assert scores([1, 0, 1, 0], [1, 0, 0, 0]) == {
        "n": 4,
        "accuracy": 0.75,
        "macro_f1": round((2 / 3 + 0.8) / 2, 4),
    }


def test_cli_sentiment_and_eval(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["analyze", "sentiment", "服务太差了"])
    assert r.exit_code == 0 and json.loads(r.stdout)["label"] == "negative"
    csv = tmp_path / "eval.csv"
    csv.write_text(
        "label,review\n1,房间很干净\n0,太难吃了\n1,服务热情周到\n0,等了两个小时还没送到\n", encoding="utf-8"
    )
    r = CliRunner().invoke(app, ["analyze", "eval", "--input", str(csv)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out) == {"n", "accuracy", "macro_f1"} and out["n"] == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("stars,text\n5,好\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["analyze", "eval", "--input", str(bad)])
    assert r.exit_code == 2 and "label,review" in r.output
