"""Temporal plumbing: one client factory (pydantic converter), typed search attributes, queue health."""

from __future__ import annotations

import time
from dataclasses import dataclass

from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from core.settings import Settings

# Typed search attributes: every process sets the ones that apply, so the Temporal UI can filter
# e.g. `SocialopsProcess = "content" AND SocialopsStage = "review_compliance"`.
SA_PROCESS = SearchAttributeKey.for_keyword("SocialopsProcess")
SA_STAGE = SearchAttributeKey.for_keyword("SocialopsStage")
SA_OWNER = SearchAttributeKey.for_keyword("SocialopsOwner")
SA_RISK_LEVEL = SearchAttributeKey.for_keyword("SocialopsRiskLevel")
SA_MODE = SearchAttributeKey.for_keyword("SocialopsMode")
SA_PLATFORMS = SearchAttributeKey.for_keyword_list("SocialopsPlatforms")

SEARCH_ATTRIBUTES: list[SearchAttributeKey] = [
    SA_PROCESS,
    SA_STAGE,
    SA_OWNER,
    SA_RISK_LEVEL,
    SA_MODE,
    SA_PLATFORMS,
]

_CLI_TYPE_NAMES = {
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD: "Keyword",
    IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST: "KeywordList",
    IndexedValueType.INDEXED_VALUE_TYPE_TEXT: "Text",
    IndexedValueType.INDEXED_VALUE_TYPE_INT: "Int",
    IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE: "Double",
    IndexedValueType.INDEXED_VALUE_TYPE_BOOL: "Bool",
    IndexedValueType.INDEXED_VALUE_TYPE_DATETIME: "Datetime",
}


def dev_server_search_attribute_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += [
            "--search-attribute",
            f"{key.name}={_CLI_TYPE_NAMES[IndexedValueType.ValueType(int(key.indexed_value_type))]}",
        ]
    return flags


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register our search attributes where they are missing; returns the names added.

    The time-skipping test server cannot list search attributes, only add them: there we add all.
    """
    wanted = {k.name: IndexedValueType.ValueType(int(k.indexed_value_type)) for k in SEARCH_ATTRIBUTES}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        missing = wanted
    else:
        known = set(existing.custom_attributes) | set(existing.system_attributes)
        missing = {name: kind for name, kind in wanted.items() if name not in known}
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            return []
    return sorted(missing)


@dataclass(frozen=True)
class QueuePollers:
    workflow_pollers: int
    activity_pollers: int
    freshest_poll_age_s: float | None

    @property
    def ok(self) -> bool:
        return self.workflow_pollers > 0 and self.activity_pollers > 0


async def describe_pollers(client: Client, namespace: str, task_queue: str, stale_after_s: float) -> QueuePollers:
    """Count pollers Temporal saw on the queue within ``stale_after_s`` (a stopped worker ages out)."""
    now = time.time()
    counts: dict[int, int] = {}
    freshest: float | None = None
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=kind
            ),
            timeout=_timeout(5),
        )
        fresh = 0
        for poller in resp.pollers:
            age = now - poller.last_access_time.ToMicroseconds() / 1e6
            if age <= stale_after_s:
                fresh += 1
                freshest = age if freshest is None else min(freshest, age)
        counts[kind] = fresh
    return QueuePollers(
        workflow_pollers=counts[TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW],
        activity_pollers=counts[TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
        freshest_poll_age_s=None if freshest is None else round(freshest, 1),
    )


def _timeout(seconds: float):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(seconds=seconds)
