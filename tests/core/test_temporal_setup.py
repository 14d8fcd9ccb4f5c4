"""`socialops temporal setup` against a real (dev) server, and how settings and the SDK's TEMPORAL_*
environment configuration reach ``Client.connect`` (TLS, mTLS, API key, precedence)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import TLSConfig
from typer.testing import CliRunner

from api.deps import TemporalGateway
from core.cli import app
from core.codec import new_key_spec
from core.settings import Settings
from core.temporal import SEARCH_ATTRIBUTES, TemporalConfigError, connect, connect_options
from tests.conftest import DevServer

NO_TEMPORAL_ENV = {"TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml"}


@pytest.fixture(autouse=True)
def _no_ambient_temporal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The machine's own TEMPORAL_* variables or ~/.config/temporalio must not leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("TEMPORAL_") or name.startswith("SOCIALOPS_TEMPORAL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))


def test_setup_creates_a_fresh_namespace_then_is_a_no_op(
    dev_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = f"setup-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SOCIALOPS_TEMPORAL_ADDRESS", dev_server.address)
    runner = CliRunner()
    first = runner.invoke(app, ["temporal", "setup", "--namespace", namespace, "--retention-days", "3"])
    assert first.exit_code == 0, first.output
    assert f"namespace {namespace}: created (retention 3 days)" in first.output
    assert "search attributes added: " + ", ".join(sorted(k.name for k in SEARCH_ATTRIBUTES)) in first.output

    async def described() -> tuple[timedelta, set[str]]:
        client = await Client.connect(dev_server.address)
        ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        sas = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        return ns.config.workflow_execution_retention_ttl.ToTimedelta(), set(sas.custom_attributes)

    retention, attributes = asyncio.run(described())
    assert retention == timedelta(days=3)
    assert {k.name for k in SEARCH_ATTRIBUTES} <= attributes

    second = runner.invoke(app, ["temporal", "setup", "--namespace", namespace, "--retention-days", "9"])
    assert second.exit_code == 0, second.output
    assert f"namespace {namespace}: exists" in second.output and "search attributes: all present" in second.output
    assert asyncio.run(described())[0] == timedelta(days=3)  # an existing namespace is left as it is


def test_setup_against_no_server_fails_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALOPS_TEMPORAL_ADDRESS", "127.0.0.1:1")
    result = CliRunner().invoke(app, ["temporal", "setup"])
    assert result.exit_code == 1 and "temporal setup failed" in result.output


class Captured:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, target_host: str, **kwargs: Any) -> object:
        self.calls.append((target_host, kwargs))
        return object()


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Captured:
    fake = Captured()
    monkeypatch.setattr(Client, "connect", fake)
    return fake


def _pem(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(f"-----BEGIN {name}-----\n".encode())
    return path


async def test_mtls_and_api_key_settings_reach_client_connect(captured: Captured, tmp_path: Path) -> None:
    settings = Settings(
        temporal_address="temporal.example.com:7233",
        temporal_namespace="socialops-prod",
        temporal_tls_server_ca_cert=_pem(tmp_path, "CA"),
        temporal_tls_client_cert=_pem(tmp_path, "CERT"),
        temporal_tls_client_key=_pem(tmp_path, "KEY"),
        temporal_tls_server_name="frontend.temporal.internal",
        temporal_api_key="tk-secret",
        payload_keys=new_key_spec("k1"),
    )
    await connect(settings)
    ((target, kw),) = captured.calls
    assert target == "temporal.example.com:7233" and kw["namespace"] == "socialops-prod"
    assert kw["api_key"] == "tk-secret"
    tls = kw["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == b"-----BEGIN CA-----\n"
    assert tls.client_cert == b"-----BEGIN CERT-----\n" and tls.client_private_key == b"-----BEGIN KEY-----\n"
    assert tls.domain == "frontend.temporal.internal"
    assert kw["data_converter"].payload_codec is not None  # the codec rides on every client


async def test_api_key_alone_turns_tls_on_and_tls_false_turns_it_off(captured: Captured) -> None:
    await connect(Settings(temporal_api_key="k"))
    await connect(Settings(temporal_tls=True))
    await connect(Settings(temporal_tls=False, temporal_api_key="k"))
    await connect(Settings())
    assert [kw["tls"] for _, kw in captured.calls] == [True, TLSConfig(), False, False]
    assert captured.calls[-1][1]["api_key"] is None
    assert captured.calls[-1][1]["data_converter"].payload_codec is None  # no keys: no codec


async def test_sdk_environment_config_is_used_and_our_settings_win(
    captured: Captured, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "cloud.example.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "acme.socialops")
    monkeypatch.setenv("TEMPORAL_API_KEY", "from-env")
    await connect(Settings())  # nothing of ours set: the SDK's configuration applies
    target, kw = captured.calls[-1]
    assert (target, kw["namespace"], kw["api_key"], kw["tls"]) == (
        "cloud.example.tmprl.cloud:7233",
        "acme.socialops",
        "from-env",
        True,
    )

    monkeypatch.setenv("SOCIALOPS_TEMPORAL_ADDRESS", "ours:7233")
    monkeypatch.setenv("SOCIALOPS_TEMPORAL_API_KEY", "ours-key")
    await connect(Settings())  # ours, from SOCIALOPS_* variables, take precedence
    target, kw = captured.calls[-1]
    assert (target, kw["namespace"], kw["api_key"]) == ("ours:7233", "acme.socialops", "ours-key")

    monkeypatch.delenv("SOCIALOPS_TEMPORAL_ADDRESS")
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "sni.example")
    monkeypatch.delenv("TEMPORAL_API_KEY")
    options = connect_options(Settings(temporal_api_key="ours"))  # our key, the SDK's TLS details
    assert options["tls"] == TLSConfig(domain="sni.example") and options["api_key"] == "ours"
    monkeypatch.delenv("TEMPORAL_TLS_SERVER_NAME")

    toml = tmp_path / "temporal.toml"
    toml.write_text('[profile.default]\naddress = "file-host:7233"\nnamespace = "from-file"\n')
    options = connect_options(Settings(temporal_namespace="mine"), {"TEMPORAL_CONFIG_FILE": str(toml)})
    assert (options["target_host"], options["namespace"]) == ("file-host:7233", "mine")


async def test_api_gateway_uses_the_same_connect(captured: Captured) -> None:
    await TemporalGateway(Settings(temporal_address="gw:7233", temporal_api_key="k")).get()
    ((target, kw),) = captured.calls
    assert target == "gw:7233" and kw["api_key"] == "k" and kw["tls"] is True


def test_missing_certificate_or_half_a_pair_is_named(tmp_path: Path) -> None:
    with pytest.raises(TemporalConfigError, match="SOCIALOPS_TEMPORAL_TLS_CLIENT_CERT: cannot read"):
        connect_options(
            Settings(temporal_tls_client_cert=tmp_path / "nope.pem", temporal_tls_client_key=_pem(tmp_path, "K")),
            NO_TEMPORAL_ENV,
        )
    with pytest.raises(TemporalConfigError, match="go together"):
        connect_options(Settings(temporal_tls_client_cert=_pem(tmp_path, "C")), NO_TEMPORAL_ENV)


def test_cli_names_a_bad_tls_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOCIALOPS_TEMPORAL_TLS_SERVER_CA_CERT", str(tmp_path / "missing-ca.pem"))
    result = CliRunner().invoke(app, ["temporal", "setup"])
    assert result.exit_code == 2 and "SOCIALOPS_TEMPORAL_TLS_SERVER_CA_CERT" in result.output
