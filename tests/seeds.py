"""The one set of seed data tests build on: the brand's sandbox accounts and people with roles."""

from __future__ import annotations

from sqlmodel import select

from db.accounts import create_user
from db.engine import Database
from db.models import PlatformAccount
from domain.kernel import Actor, Platform
from domain.roles import Role

ACCOUNTS = [(Platform.weibo, "brand_weibo"), (Platform.wechat_oa, "brand_wechat")]

# Everyone a test may need, by the name tests use. Some hold two roles on purpose: "creator" (and the
# campaign "owner") also holds risk_compliance, and must still never review their own work.
CONTENT_PEOPLE = {
    "creator": [Role.content_creator, Role.risk_compliance],
    "rc": [Role.risk_compliance],
    "brand": [Role.marketing],
    "biz": [Role.business_reviewer],
    "ops": [Role.ops_head],
    "lead": [Role.leadership],
}
EMERGENCY_TEAM = {
    "reporter": [Role.interaction_agent],
    "rc": [Role.risk_compliance],
    "lead": [Role.leadership],
    "ops": [Role.ops_head],
    "mkt": [Role.marketing],
    "agent": [Role.interaction_agent],
}
CAMPAIGN_TEAM = {
    "owner": [Role.marketing, Role.risk_compliance],
    "rc": [Role.risk_compliance],
    "lead": [Role.leadership],
    "ops": [Role.ops_head],
    "agent": [Role.interaction_agent],
}


def seed_accounts(db: Database, accounts: list[tuple[Platform, str]] = ACCOUNTS) -> None:
    """The brand's sandbox accounts (idempotent)."""
    with db.session() as s:
        for platform, handle in accounts:
            if s.exec(select(PlatformAccount).where(PlatformAccount.handle == handle)).first():
                continue
            s.add(
                PlatformAccount(platform=platform.value, handle=handle, display_name=handle, connector="sandbox")
            )
        s.commit()


def seed_users(db: Database, spec: dict[str, list[Role]]) -> tuple[dict[str, Actor], dict[str, str]]:
    """Create the users of ``spec`` (name → roles); returns them as workflow actors and their API tokens."""
    actors: dict[str, Actor] = {}
    tokens: dict[str, str] = {}
    with db.session() as s:
        for name, roles in spec.items():
            user, token = create_user(s, name, roles)
            assert user.id is not None
            actors[name] = Actor(user_id=user.id, name=name, roles=roles)
            tokens[name] = token
        s.commit()
    return actors, tokens
