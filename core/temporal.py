"""Temporal plumbing: one client factory (pydantic converter + payload codec, TLS / API key, the SDK's
environment configuration), typed search attributes, namespace setup, queue health."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType, TaskQueueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfigProfile
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from core.codec import codec_from_spec
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


def data_converter(settings: Settings) -> DataConverter:
    """The converter of every client and worker: pydantic payloads, encrypted whenever payload keys are
    set — then failure messages and stack traces are moved into the (encrypted) payload as well."""
    codec = codec_from_spec(settings.payload_keys.get_secret_value())
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


class TemporalConfigError(RuntimeError):
    """The Temporal client cannot be configured (a TLS file is missing, a TEMPORAL_* profile is invalid)."""


def connect_options(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Client.connect``.

    The SDK's standard environment configuration (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``,
    ``TEMPORAL_API_KEY``, ``TEMPORAL_TLS*``, ``TEMPORAL_CONFIG_FILE`` / ``TEMPORAL_PROFILE``) is read first;
    every ``SOCIALOPS_TEMPORAL_*`` setting that is set explicitly wins over it, and our defaults
    (127.0.0.1:7233, ``default``) apply only where neither says anything.
    """
    try:
        profile = ClientConfigProfile.load(override_env_vars=environ)
    except Exception as exc:  # the bridge raises plain RuntimeErrors for unreadable profiles
        raise TemporalConfigError(f"the TEMPORAL_* client configuration is invalid: {exc}") from exc
    env = profile.to_client_connect_config()
    explicit = settings.model_fields_set
    target = settings.temporal_address
    if "temporal_address" not in explicit and env.get("target_host"):
        target = env["target_host"]
    namespace = settings.temporal_namespace
    if "temporal_namespace" not in explicit and env.get("namespace"):
        namespace = env["namespace"]
    api_key = settings.temporal_api_key.get_secret_value() or env.get("api_key") or None
    tls: bool | TLSConfig
    if _tls_configured(settings):
        tls = _tls_config(settings)
    elif settings.temporal_api_key.get_secret_value():
        # An API key travels over TLS only (as in the SDK's own configuration); keep a CA or SNI from there.
        tls = env["tls"] if isinstance(env.get("tls"), TLSConfig) else True
    else:
        tls = env.get("tls", False)
    options: dict[str, Any] = {
        "target_host": target,
        "namespace": namespace,
        "api_key": api_key,
        "tls": tls,
        "data_converter": data_converter(settings),
    }
    if env.get("rpc_metadata"):
        options["rpc_metadata"] = dict(env["rpc_metadata"])
    return options


def _tls_configured(settings: Settings) -> bool:
    return settings.temporal_tls is not None or any(
        (
            settings.temporal_tls_server_name,
            settings.temporal_tls_server_ca_cert,
            settings.temporal_tls_client_cert,
            settings.temporal_tls_client_key,
        )
    )


def _tls_config(settings: Settings) -> bool | TLSConfig:
    if settings.temporal_tls is False:
        return False
    if bool(settings.temporal_tls_client_cert) != bool(settings.temporal_tls_client_key):
        raise TemporalConfigError(
            "SOCIALOPS_TEMPORAL_TLS_CLIENT_CERT and SOCIALOPS_TEMPORAL_TLS_CLIENT_KEY go together (mTLS)"
        )
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_server_ca_cert, "SOCIALOPS_TEMPORAL_TLS_SERVER_CA_CERT"),
        domain=settings.temporal_tls_server_name or None,
        client_cert=_read(settings.temporal_tls_client_cert, "SOCIALOPS_TEMPORAL_TLS_CLIENT_CERT"),
        client_private_key=_read(settings.temporal_tls_client_key, "SOCIALOPS_TEMPORAL_TLS_CLIENT_KEY"),
    )


def _read(path: Path | None, name: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TemporalConfigError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None


async def connect(settings: Settings) -> Client:
    """The one client factory: API, worker and CLI all connect here."""
    options = connect_options(settings)
    return await Client.connect(options.pop("target_host"), **options)


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


async def ensure_namespace(client: Client, namespace: str, retention: timedelta) -> bool:
    """Register ``namespace`` unless it exists; True when this call created it. Already-exists (a
    concurrent setup) counts as success. An existing namespace is left as it is (its retention too)."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        return False
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
    retention_pb = Duration()
    retention_pb.FromTimedelta(retention)
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                description="socialops processes",
                workflow_execution_retention_period=retention_pb,
            )
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
        return False
    return True


@dataclass(frozen=True)
class SetupReport:
    namespace: str
    namespace_created: bool
    search_attributes_added: list[str]


async def setup_cluster(
    client: Client, namespace: str, retention: timedelta, ready_timeout: float = 60.0
) -> SetupReport:
    """``socialops temporal setup``: the namespace and our search attributes, idempotently.

    A namespace just registered reaches the frontends' caches a few seconds later; until then adding search
    attributes to it answers NOT_FOUND, which is retried here until ``ready_timeout``.
    """
    created = await ensure_namespace(client, namespace, retention)
    deadline = time.monotonic() + ready_timeout
    while True:
        try:
            added = await ensure_search_attributes(client, namespace)
            break
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)
    return SetupReport(namespace, created, added)


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


def _timeout(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
