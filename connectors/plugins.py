"""Connectors are plug-ins: each installed distribution names its factories in the ``socialops.connectors``
entry-point group (name = the connector kind stored on ``platform_accounts.connector``, value = a
``ConnectorFactory``). Adding a platform is a package with one entry point, not a change here.

A connector may carry its platform's publishing rules: a ``rules`` attribute (on its factory — a class
attribute when the factory is the class) mapping ``Platform`` to ``domain.platform_rules.PlatformRules``.
``install_rules`` puts them in place of the built-in ones when the worker and the API start, so
adaptation, self-checks and ``GET /content/platform-rules`` use the connector's rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

import structlog

from connectors.base import PlatformConnector
from connectors.credentials import ConnectorContext, ConnectorFactory

GROUP = "socialops.connectors"


def _builtin_rules() -> dict[Any, Any]:
    from domain import platform_rules

    return dict(platform_rules.RULES)


_BUILTIN = _builtin_rules()

log = structlog.get_logger("socialops.connectors")


def factories() -> dict[str, ConnectorFactory]:
    """Every installed connector factory by kind (a broken plug-in is logged and left out)."""
    found: dict[str, ConnectorFactory] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a third-party package that fails to import must not stop the worker
            log.error("connector plug-in failed to load", kind=ep.name, target=ep.value, error=str(exc))
    return found


def installed_kinds() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def build(ctx: ConnectorContext, kinds: Iterable[str] | None = None) -> dict[str, PlatformConnector]:
    """One connector per installed kind (or the ``kinds`` asked for), built from its factory."""
    out: dict[str, PlatformConnector] = {}
    wanted = set(kinds) if kinds is not None else None
    for kind, factory in factories().items():
        if wanted is not None and kind not in wanted:
            continue
        try:
            out[kind] = factory(ctx)
        except Exception as exc:
            log.error("connector could not be built", kind=kind, error=str(exc))
    return out


def build_one(ctx: ConnectorContext, kind: str) -> PlatformConnector | None:
    return build(ctx, [kind]).get(kind)


def install_rules(factories_or_connectors: Iterable[object]) -> list[str]:
    """Let each connector's own platform rules (a ``rules`` attribute on its factory or on the connector)
    replace the built-in ones; returns the platforms changed. Called once at start-up, before any
    workflow runs, so every adaptation in the process sees the same rules."""
    from domain import platform_rules

    changed: list[str] = []
    for item in factories_or_connectors:
        rules = getattr(item, "rules", None)
        if not isinstance(rules, Mapping):
            continue
        for platform, r in rules.items():
            if r is _BUILTIN.get(platform):
                continue  # the built-in rules, carried by a shipped connector: never undo a plug-in's own
            if isinstance(r, platform_rules.PlatformRules) and platform_rules.RULES.get(platform) is not r:
                platform_rules.RULES[platform] = r
                changed.append(platform.value)
    return changed
