"""Replay recorded histories against today's workflow code: a non-deterministic change fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from core.registry import WORKFLOWS
from tests.conftest import test_converter

HISTORIES = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_replay_recorded_history(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())  # noqa: ASYNC240
    assert len(history.events) > 50  # a real run, through review, publishing and tracking
    replayer = Replayer(workflows=WORKFLOWS, data_converter=test_converter())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_histories_exist() -> None:
    assert HISTORIES, "no recorded histories: run python -m tests.histories.record"
