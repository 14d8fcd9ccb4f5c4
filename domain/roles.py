"""The roles of R-3 (plan section 3). A role gates every API route and every workflow update."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    leadership = "leadership"
    ops_head = "ops_head"
    content_creator = "content_creator"
    interaction_agent = "interaction_agent"
    platform_admin = "platform_admin"
    marketing = "marketing"
    risk_compliance = "risk_compliance"
    business_reviewer = "business_reviewer"
    admin = "admin"


ROLE_LABELS_ZH: dict[Role, str] = {
    Role.leadership: "领导小组",
    Role.ops_head: "运营中心负责人",
    Role.content_creator: "内容创作组",
    Role.interaction_agent: "用户互动组",
    Role.platform_admin: "平台管理组",
    Role.marketing: "市场部",
    Role.risk_compliance: "风控合规组",
    Role.business_reviewer: "业务审核（事实准确性）",
    Role.admin: "系统管理员",
}

ALL_ROLES: frozenset[Role] = frozenset(Role)


def parse_roles(values: list[str]) -> list[Role]:
    """Parse role names, raising ``ValueError`` that names the unknown ones and lists the valid ones."""
    unknown = [v for v in values if v not in Role.__members__]
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(unknown)}; valid roles: {', '.join(r.value for r in Role)}")
    seen: list[Role] = []
    for v in values:
        if Role(v) not in seen:
            seen.append(Role(v))
    return seen
