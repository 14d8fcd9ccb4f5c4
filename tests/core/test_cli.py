"""The CLI outside the system's checkout: a missing or unmigrated database is one clear line, never a file
created on the spot or a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli import app


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SOCIALOPS_DATABASE_URL", "SOCIALOPS_VAR_DIR", "SOCIALOPS_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # "wherever it is run"


COMMANDS = [["users", "list"], ["users", "token", "admin"], ["users", "create", "x", "--role", "marketing"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_missing_database_is_one_line_saying_what_to_run(tmp_path: Path, command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--var-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: no database at "), result.output
    assert "db upgrade" in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "var").exists()  # nothing created


def test_an_unmigrated_database_names_its_revision_and_the_fix(tmp_path: Path) -> None:
    var = tmp_path / "data"
    var.mkdir()
    sqlite3.connect(var / "socialops.db").close()  # a file, no tables
    result = CliRunner().invoke(app, ["users", "list", "--var-dir", str(var)])
    assert result.exit_code == 1
    assert "is at revision none" in result.output and "socialops db upgrade --var-dir" in result.output
    assert "no such table" not in result.output


def test_var_dir_reaches_the_database_up_created(tmp_path: Path) -> None:
    var = tmp_path / "data"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--var-dir", str(var)]).exit_code == 0
    created = runner.invoke(app, ["users", "create", "li", "--role", "ops_head", "--var-dir", str(var)])
    assert created.exit_code == 0 and "API token" in created.output, created.output
    listed = runner.invoke(app, ["users", "list", "--var-dir", str(var)])
    assert listed.exit_code == 0 and "li\tactive\tops_head" in listed.output
    current = runner.invoke(app, ["db", "current", "--var-dir", str(var)])
    assert current.exit_code == 0 and "current: 0" in current.output
