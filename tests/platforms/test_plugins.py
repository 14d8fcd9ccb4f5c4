"""Plug-ins (issue 14.5): a third-party connector package is found by its entry point, brings its own
platform rules, and a content item publishes through it with no change to the core."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from temporalio.testing import ActivityEnvironment

from activities.content import ContentActivities
from api.app import create_app
from connectors import plugins
from connectors.registry import ConnectorRegistry
from core import connectors as core_connectors
from db.engine import Database
from db.models import ContentPublication
from domain.content import ContentFormat, PublicationRecord, Target
from domain.content_io import ConfirmInput, PublishInput
from domain.kernel import Platform
from domain.platform_rules import RULES, adapt
from domain.roles import Role
from tests.conftest import make_user, test_settings
from tests.content_helpers import insert_item, plan, seed_people, version

THIRD_PARTY = Path(__file__).parent / "thirdparty"


def test_the_shipped_connectors_are_entry_points() -> None:
    kinds = plugins.installed_kinds()
    assert "sandbox" in kinds
    assert "hello_cms" not in kinds  # not installed until the test puts it on the path


def test_a_third_party_connector_publishes_a_content_item_without_touching_the_core(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(THIRD_PARTY))  # the package as pip lays it out: module + .dist-info
    monkeypatch.setitem(RULES, Platform.website, RULES[Platform.website])  # restored afterwards
    assert "hello_cms" in plugins.installed_kinds()
    db = sqlite_database
    settings = test_settings(db, sandbox_database_url=f"sqlite:///{tmp_path / 'sandbox.db'}")
    client = TestClient(create_app(settings, db=db))
    admin = make_user(db, "pa", Role.platform_admin)
    h = {"Authorization": f"Bearer {admin}"}
    r = client.post(
        "/platform-accounts", json={"platform": "website", "handle": "cms", "connector": "hello_cms"}, headers=h
    )
    assert r.status_code == 201, r.text
    r = client.put(
        f"/platform-accounts/{r.json()['id']}/credentials", json={"access_token": "hello-token"}, headers=h
    )
    assert r.status_code == 200 and r.json()["credentials"]["access_token_set"] is True

    # The connector's rules replaced the built-in website rules (the API installed them at start-up).
    rules = client.get("/content/platform-rules", headers=h).json()
    website = next(x for x in rules if x["platform"] == "website")
    assert "60" in str(website), website
    connectors = core_connectors.installed(settings, db)
    assert set(connectors) >= {"sandbox", "hello_cms"}
    long = version(body="这是一段很长的网站正文。" * 8)
    found = adapt(long, Target(platform=Platform.website, account="cms"), ContentFormat.article)
    assert any(e.field.endswith("body") or "60" in e.message for e in found.errors), found.errors

    people = seed_people(db)
    v = version(body="官网新闻：新品上线。", title="新品上线")
    cid = insert_item(db, people.creator, plan(datetime.now(UTC)), v)
    variant = adapt(v, Target(platform=Platform.website, account="cms"), ContentFormat.article)
    assert variant.errors == []
    acts = ContentActivities(db, ConnectorRegistry(db, connectors))
    env = ActivityEnvironment()
    rec: PublicationRecord = env.run(
        acts.publish,
        PublishInput(
            content_id=cid, version=1, variant=variant, idempotency_key=f"c{cid}-website", at=datetime.now(UTC)
        ),
    )
    assert rec.external_id.startswith("hello-")
    confirmed = env.run(
        acts.confirm,
        ConfirmInput(content_id=cid, publication=rec, expected_title=variant.title, expected_text=variant.body),
    )
    assert confirmed.confirmed, confirmed.confirmation_note
    with db.session() as s:
        row = s.exec(select(ContentPublication).where(ContentPublication.content_id == cid)).one()
        assert row.external_id == rec.external_id and row.confirmed
