"""deploy/ checked offline (no Docker, no Helm, no cluster here): the Kubernetes manifests against the
Kubernetes JSON schemas (kubernetes-validate), compose and the Temporal chart's values against what the
project and the chart actually read, and the three kept consistent with each other."""

from __future__ import annotations

import re
import subprocess
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from core.cli import app as cli
from core.codec import new_key_spec
from core.settings import Environment, Settings, load_settings

DEPLOY = Path(__file__).parents[2] / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
SETTING_NAMES = {f"SOCIALOPS_{name.upper()}" for name in Settings.model_fields}
SECRET_SETTINGS = {
    f"SOCIALOPS_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if SecretStr in (field.annotation, *typing.get_args(field.annotation))
}
# Settings that carry a password inside a URL.
SECRET_SETTINGS |= {"SOCIALOPS_DATABASE_URL", "SOCIALOPS_SANDBOX_DATABASE_URL"}
STRONG_SECRET = "Zq8r2LwX5nVb9TcJ3mKp7YdF1sHg4QeA"


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else ""


# --- compose ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_compose_follows_current_upstream_practice(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        assert "auto-setup" not in svc.get("image", ""), f"{name}: the auto-setup image is deprecated"
        tag = _tag(svc.get("image", ""))
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: image must be pinned to a version"
    server, tools, ui = (services[s]["image"] for s in ("temporal", "temporal-schema", "temporal-ui"))
    assert server.startswith("temporalio/server:") and tools.startswith("temporalio/admin-tools:")
    assert ui.startswith("temporalio/ui:")
    assert _tag(server) == _tag(tools), "the schema in admin-tools must match the server's version"

    # Schema job → server → namespace/search attributes → worker and API.
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert services["temporal-setup"]["command"][:3] == ["socialops", "temporal", "setup"]
    for role in ("worker", "api"):
        deps = services[role]["depends_on"]
        assert (
            deps["temporal-setup"]["condition"] == deps["migrate"]["condition"] == "service_completed_successfully"
        )


def test_compose_schema_job_sets_up_both_stores_on_postgresql(compose: dict[str, Any], tmp_path: Path) -> None:
    """Run the job's script with stand-ins for nc and temporal-sql-tool: it creates, sets up and migrates the
    default and the visibility store, in that order, and goes on past an existing database."""
    job = compose["services"]["temporal-schema"]
    (mount,) = job["volumes"]
    script_path, target = mount.split(":")[:2]
    assert job["entrypoint"] == ["/bin/sh", target]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    (bin_dir / "nc").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "temporal-sql-tool").write_text(
        f'#!/bin/sh\necho "$* pw=$SQL_PASSWORD" >> {log}\ncase "$*" in *" create") exit 1;; esac\n'
    )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {k: str(v) for k, v in job["environment"].items() if not str(v).startswith("${")}
    env.update(SQL_PASSWORD="pw-from-env", PATH=f"{bin_dir}:/usr/bin:/bin")
    run = subprocess.run(
        ["/bin/sh", str(DEPLOY / script_path)], env=env, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    base = "--plugin postgres12 --ep postgresql -p 5432 -u socialops --db"
    schema = "/etc/temporal/schema/postgresql/v12"
    assert log.read_text().splitlines() == [
        f"{base} temporal create pw=pw-from-env",  # fails (exists): tolerated
        f"{base} temporal setup-schema -v 0.0 pw=pw-from-env",
        f"{base} temporal update-schema -d {schema}/temporal/versioned pw=pw-from-env",
        f"{base} temporal_visibility create pw=pw-from-env",
        f"{base} temporal_visibility setup-schema -v 0.0 pw=pw-from-env",
        f"{base} temporal_visibility update-schema -d {schema}/visibility/versioned pw=pw-from-env",
    ]  # the password only through the environment, never in argv


def _socialops_env(compose: dict[str, Any], service: str) -> dict[str, str]:
    return {k: str(v) for k, v in compose["services"][service]["environment"].items()}


def test_compose_env_names_exist_and_secrets_come_from_outside(compose: dict[str, Any]) -> None:
    for service in ("temporal-setup", "migrate", "worker", "api"):
        env = _socialops_env(compose, service)
        unknown = {k for k in env if k.startswith("SOCIALOPS_")} - SETTING_NAMES
        assert unknown == set(), f"{service} sets variables socialops never reads: {unknown}"
        for name in SECRET_SETTINGS & set(env):
            assert "${" in env[name] and ":?" in env[name], f"{service}: {name} must come from the environment"
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["postgresql"]["environment"]["POSTGRES_PASSWORD"]


def test_compose_settings_start_in_production(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    given = {
        "POSTGRES_PASSWORD": "pw",
        "SOCIALOPS_SECRET_KEY": STRONG_SECRET,
        "SOCIALOPS_PAYLOAD_KEYS": new_key_spec(),
    }
    for name, value in _socialops_env(compose, "worker").items():
        monkeypatch.setenv(name, re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: given[m.group(1)], value))
    settings = load_settings()
    assert settings.environment is Environment.production and settings.worker_health_port == 8081
    # The UI, as the browser sees it, may call the codec endpoint, which the API serves on its published port.
    ui = _socialops_env(compose, "temporal-ui")
    ui_port = compose["services"]["temporal-ui"]["ports"][0].split(":")[0]
    assert f"http://localhost:{ui_port}" in settings.codec_cors_origins
    endpoint = urlparse(ui["TEMPORAL_CODEC_ENDPOINT"])
    assert endpoint.path == "/codec" and str(endpoint.port) == compose["services"]["api"]["ports"][0].split(":")[0]
    # It sends the codec sign-in cookie; an OIDC token in Authorization would be refused as not ours.
    assert ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true" and ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "false"


# --- Kubernetes ---------------------------------------------------------------------------------


def _k8s_docs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (p.name, d) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml" for d in _load_all(p)
    ]


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in _k8s_docs() if d["kind"] == kind}


def _pod_specs() -> dict[str, dict[str, Any]]:
    out = {}
    for _, d in _k8s_docs():
        if d["kind"] in ("Deployment", "Job"):
            out[d["metadata"]["name"]] = d["spec"]["template"]["spec"]
    return out


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("name", "doc"), _k8s_docs(), ids=[f"{n}:{d['kind']}" for n, d in _k8s_docs()])
def test_manifest_is_valid_kubernetes(name: str, doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)  # raises on any schema error or unknown field


def test_kustomization_lists_every_manifest_and_pins_the_image() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    pinned = {i["name"]: i["newTag"] for i in kustomization["images"]}
    for pod_name, spec in _pod_specs().items():
        for c in spec["containers"]:
            assert c["image"] in pinned, f"{pod_name}: image {c['image']} is not set by the kustomization"
            assert re.search(r"\d", pinned[c["image"]]) and pinned[c["image"]] != "latest"
    assert kustomization["namespace"] == "socialops"


def test_no_literal_secrets_in_the_manifests() -> None:
    assert not _by_kind("Secret"), "Secrets are created in the cluster, never committed"
    config = _by_kind("ConfigMap")["socialops-config"]["data"]
    assert not SECRET_SETTINGS & set(config)
    for pod_name, spec in _pod_specs().items():
        for c in spec["containers"]:
            for e in c.get("env", []):
                if e["name"] in SECRET_SETTINGS:
                    assert "value" not in e and "secretKeyRef" in e["valueFrom"], f"{pod_name}: {e['name']}"
            assert {"SOCIALOPS_DATABASE_URL", "SOCIALOPS_SECRET_KEY", "SOCIALOPS_PAYLOAD_KEYS"} <= {
                e["name"] for e in c["env"] if "secretKeyRef" in e.get("valueFrom", {})
            }


def test_k8s_env_names_exist_and_settings_start_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _by_kind("ConfigMap")["socialops-config"]["data"]
    commented = re.findall(r"#\s*(SOCIALOPS_\w+):", (K8S / "config.yaml").read_text(encoding="utf-8"))
    names = set(config) | set(commented)
    for spec in _pod_specs().values():
        for c in spec["containers"]:
            names |= {e["name"] for e in c.get("env", [])}
            assert c["envFrom"] == [{"configMapRef": {"name": "socialops-config"}}]
    assert names - SETTING_NAMES == set(), "variables socialops never reads"

    for name, value in config.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOCIALOPS_DATABASE_URL", "postgresql://socialops@db/socialops")
    monkeypatch.setenv("SOCIALOPS_SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("SOCIALOPS_PAYLOAD_KEYS", new_key_spec())
    settings = load_settings()
    assert settings.environment is Environment.production and settings.codec_roles == ["admin", "risk_compliance"]


def test_api_and_worker_probes_replicas_and_autoscaling() -> None:
    deployments = _by_kind("Deployment")
    api, worker = deployments["socialops-api"], deployments["socialops-worker"]
    for d in (api, worker):
        assert d["spec"]["replicas"] >= 2
    (api_c,) = api["spec"]["template"]["spec"]["containers"]
    assert api_c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert api_c["readinessProbe"]["timeoutSeconds"] > 5  # /health gives each check 5 s
    assert api_c["livenessProbe"]["httpGet"]["path"] in {"/health", "/openapi.json"}
    api_env = {e["name"]: e.get("value") for e in api_c["env"]}
    assert api_env["SOCIALOPS_API_HOST"] == "0.0.0.0"
    assert int(api_env["SOCIALOPS_API_PORT"]) == api_c["ports"][0]["containerPort"]
    service = _by_kind("Service")["socialops-api"]
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]

    (worker_c,) = worker["spec"]["template"]["spec"]["containers"]
    port = int({e["name"]: e.get("value") for e in worker_c["env"]}["SOCIALOPS_WORKER_HEALTH_PORT"])
    assert worker_c["ports"] == [{"name": "health", "containerPort": port}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert worker_c[probe]["httpGet"] == {"path": "/health", "port": "health"}
    (hpa,) = _by_kind("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "socialops-worker",
    }
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_jobs_run_commands_that_exist() -> None:
    jobs = _by_kind("Job")
    commands = {name: j["spec"]["template"]["spec"]["containers"][0]["command"] for name, j in jobs.items()}
    assert commands["socialops-migrate"] == ["socialops", "db", "upgrade"]
    assert commands["socialops-temporal-setup"][:3] == ["socialops", "temporal", "setup"]
    for command in commands.values():
        result = CliRunner().invoke(cli, [*command[1:], "--help"])
        assert result.exit_code == 0, (command, result.output)


# --- Helm values for the official Temporal chart ------------------------------------------------

ANY = "*"  # a map whose keys are the user's (environment, annotations) or a value we do not descend into
_IMAGE = {"repository": None, "tag": None, "pullPolicy": None}
_SQL_STORE = {
    "sql": {
        "createDatabase": None,
        "manageSchema": None,
        "pluginName": None,
        "driverName": None,
        "databaseName": None,
        "connectAddr": None,
        "connectProtocol": None,
        "user": None,
        "password": None,
        "existingSecret": None,
        "secretKey": None,
        "maxConns": None,
        "maxIdleConns": None,
        "maxConnLifetime": None,
        "connectAttributes": ANY,
        "tls": {
            "enabled": None,
            "enableHostVerification": None,
            "serverName": None,
            "caFile": None,
            "certFile": None,
            "keyFile": None,
        },
    }
}
_SERVICE = {
    "replicaCount": None,
    "resources": ANY,
    "additionalEnv": ANY,
    "podAnnotations": ANY,
    "podLabels": ANY,
    "nodeSelector": ANY,
    "tolerations": ANY,
    "affinity": ANY,
    "topologySpreadConstraints": ANY,
    "podDisruptionBudget": ANY,
    "containerSecurityContext": ANY,
    "service": ANY,
    "metrics": ANY,
}
# The chart's documented structure (chart 1.x): values.yaml and UPGRADING.md of temporalio/helm-charts
# (persistence under server.config.persistence.datastores, existingSecret/secretKey, createDatabase /
# manageSchema), templates/server-deployment.yaml (per-service replicaCount), server-namespace-job.yaml
# (server.config.namespaces), web-deployment.yaml (web.additionalEnv, web.image).
HELM_DOCUMENTED: dict[str, Any] = {
    "server": {
        "enabled": None,
        "image": _IMAGE,
        "replicaCount": None,
        "resources": ANY,
        "additionalEnv": ANY,
        "securityContext": ANY,
        "config": {
            "logLevel": None,
            "tls": ANY,
            "authorization": ANY,
            "persistence": {
                "defaultStore": None,
                "visibilityStore": None,
                "numHistoryShards": None,
                "datastores": {"default": _SQL_STORE, "visibility": _SQL_STORE},
            },
            "namespaces": {"create": None, "namespace": ANY},
        },
        "frontend": _SERVICE,
        "history": _SERVICE,
        "matching": _SERVICE,
        "worker": _SERVICE,
        "internal-frontend": {**_SERVICE, "enabled": None},
    },
    "admintools": {"enabled": None, "image": _IMAGE, "resources": ANY, "additionalEnv": ANY},
    "web": {
        "enabled": None,
        "replicaCount": None,
        "image": _IMAGE,
        "additionalEnv": ANY,
        "additionalEnvSecretName": None,
        "resources": ANY,
        "ingress": ANY,
        "service": ANY,
    },
    "schema": ANY,
    "imagePullSecrets": ANY,
}


def _undocumented(values: Any, documented: Any, path: str = "") -> list[str]:
    if documented == ANY or documented is None:
        return [] if documented == ANY or not isinstance(values, dict) else [f"{path} (a value, not a map)"]
    if not isinstance(values, dict):
        return [f"{path} (a map in the chart)"]
    out: list[str] = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if key not in documented:
            out.append(where)
        else:
            out += _undocumented(value, documented[key], where)
    return out


@pytest.fixture(scope="module")
def helm() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "temporal-values.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_helm_values_use_only_keys_the_chart_documents(helm: dict[str, Any]) -> None:
    assert _undocumented(helm, HELM_DOCUMENTED) == []
    # ... and the check can fail: an old-layout key (chart 0.x) is caught.
    assert _undocumented({"server": {"config": {"persistence": {"default": {}}}}}, HELM_DOCUMENTED) == [
        "server.config.persistence.default"
    ]


def test_helm_values_external_postgresql_with_secret_refs(helm: dict[str, Any], compose: dict[str, Any]) -> None:
    persistence = helm["server"]["config"]["persistence"]
    assert persistence["defaultStore"] == "default" and persistence["visibilityStore"] == "visibility"
    names = set()
    for store in ("default", "visibility"):
        sql = persistence["datastores"][store]["sql"]
        assert sql["pluginName"] == sql["driverName"] == "postgres12"
        assert sql["existingSecret"] and sql["secretKey"] and "password" not in sql  # no literal password
        assert sql["manageSchema"] is True  # the chart's schema job migrates on every upgrade
        names.add(sql["databaseName"])
    assert names == {"temporal", "temporal_visibility"}
    images = [helm["server"]["image"], helm["admintools"]["image"], helm["web"]["image"]]
    assert all(re.search(r"\d", i["tag"]) for i in images)
    assert helm["server"]["image"]["tag"] == helm["admintools"]["image"]["tag"]
    # The same Temporal as the compose stack.
    assert helm["server"]["image"]["tag"] == _tag(compose["services"]["temporal"]["image"])
    assert helm["web"]["image"]["tag"] == _tag(compose["services"]["temporal-ui"]["image"])


def test_helm_and_manifests_meet(helm: dict[str, Any]) -> None:
    # Namespace and search attributes come from our setup Job, not the chart's namespace job.
    assert helm["server"]["config"]["namespaces"]["create"] is False
    assert "socialops-temporal-setup" in _by_kind("Job")
    config = _by_kind("ConfigMap")["socialops-config"]["data"]
    # The README installs release `temporal` in namespace `temporal`: its frontend Service.
    assert config["SOCIALOPS_TEMPORAL_ADDRESS"] == "temporal-frontend.temporal.svc:7233"
    web_env = {e["name"]: e["value"] for e in helm["web"]["additionalEnv"]}
    assert web_env["TEMPORAL_DEFAULT_NAMESPACE"] == config["SOCIALOPS_TEMPORAL_NAMESPACE"]
    assert urlparse(web_env["TEMPORAL_CODEC_ENDPOINT"]).path == "/codec"
    assert web_env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert web_env["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "false"
