"""The kustomize overlays build, validate against the Kubernetes, Strimzi and prometheus-operator
schemas, and keep the platform's hardening and availability rules."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import OVERLAYS, Tools, kustomize_build, of_kind

pytestmark = pytest.mark.unit

SERVICES = ("registry", "activity", "evaluation", "notification")


def kubeconform(tools: Tools, manifest: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "manifest.yaml"
    path.write_text(manifest)
    done = subprocess.run([*tools.kubeconform_cmd(), str(path)], capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    report["returncode"] = done.returncode
    return report


def test_there_is_a_dev_and_a_prod_overlay() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_of_an_overlay_is_valid_against_its_schema(
    tools: Tools, overlay: str, tmp_path: Path
) -> None:
    report = kubeconform(tools, kustomize_build(tools, overlay), tmp_path)
    summary = report["summary"]
    assert report["returncode"] == 0, report["resources"]
    assert summary["invalid"] == 0 and summary["errors"] == 0 and summary["skipped"] == 0, report["resources"]
    assert summary["valid"] > 50


@pytest.mark.parametrize(
    "broken",
    [
        # a misspelt field in a Deployment's container
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "x", "image": "x", "livenessProbes": {}}]},
                },
            },
        },
        # a KafkaTopic whose partitions are not a number
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": {"name": "t"},
            "spec": {"partitions": "six", "replicas": 3},
        },
        # a KafkaNodePool with a role Strimzi does not know
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaNodePool",
            "metadata": {"name": "p"},
            "spec": {"replicas": 1, "roles": ["zookeeper"], "storage": {"type": "ephemeral"}},
        },
        # a PrometheusRule rule with an unknown field
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": "r"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expression": "up == 0"}]}]},
        },
    ],
)
def test_the_validator_rejects_a_broken_object(tools: Tools, broken: dict[str, Any], tmp_path: Path) -> None:
    report = kubeconform(tools, yaml.safe_dump(broken), tmp_path)
    assert report["returncode"] != 0
    assert report["summary"]["invalid"] == 1, report["resources"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_hardened_with_resources_and_a_writable_tmp(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    workloads = [o for o in rendered[overlay] if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert workloads
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert {"requests", "limits"} <= set(container["resources"]), where
        tmp = [m for m in pod["containers"][0].get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        assert tmp and "emptyDir" in volumes[tmp[0]["name"]], workload["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_probes_an_account_a_budget_and_the_busy_ones_an_autoscaler(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod["serviceAccountName"] == name
    assert {o["metadata"]["name"] for o in of_kind(objects, "ServiceAccount")} >= set(SERVICES)
    assert {o["metadata"]["name"] for o in of_kind(objects, "PodDisruptionBudget")} >= {*SERVICES, "mongodb"}
    hpas = {o["spec"]["scaleTargetRef"]["name"] for o in of_kind(objects, "HorizontalPodAutoscaler")}
    assert hpas == {"activity", "evaluation"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_everything_and_allow_only_the_architectures_flows(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(rendered[overlay], "NetworkPolicy")}
    deny = policies["default-deny-all"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    for name in SERVICES:
        egress_ports = {p["port"] for rule in policies[f"{name}-egress"]["egress"] for p in rule["ports"]}
        assert {9092, 27017, 4318} <= egress_ports, name
        assert (egress_ports & {25, 465, 587, 443} != set()) == (name == "notification"), name
        assert policies[f"{name}-ingress-http"]["policyTypes"] == ["Ingress"]
        # one service calls another over HTTP: activity's L1 form reads the registry's roll by name
        peers = {(peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name"), p["port"])
                 for rule in policies[f"{name}-egress"]["egress"] for peer in rule["to"] for p in rule["ports"]}
        calls = {peer for peer in peers if peer[0] in SERVICES}
        assert calls == ({("registry", 8001)} if name == "activity" else set()), name
    mongo_peers = [peer["podSelector"]["matchLabels"] for peer in policies["mongodb"]["ingress"][0]["from"]]
    assert {"app.kubernetes.io/part-of": "alliance", "app.kubernetes.io/component": "service"} in mongo_peers


def test_prod_kafka_replicates_three_times_and_acknowledges_on_two(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    prod = rendered["prod"]
    (kafka,) = of_kind(prod, "Kafka")
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    assert kafka["spec"]["kafka"]["config"]["default.replication.factor"] == 3
    assert sum(p["spec"]["replicas"] for p in of_kind(prod, "KafkaNodePool")) == 3
    for topic in of_kind(prod, "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3 and topic["spec"]["config"]["min.insync.replicas"] == 2
    (mongo,) = of_kind(prod, "StatefulSet")
    assert mongo["spec"]["replicas"] == 3
    assert all(d["spec"]["replicas"] >= 2 for d in of_kind(prod, "Deployment"))


def test_prod_carries_no_secret_and_runs_in_production_mode(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    prod = rendered["prod"]
    assert of_kind(prod, "Secret") == []
    common = next(
        c for c in of_kind(prod, "ConfigMap") if c["metadata"]["name"].startswith("alliance-common")
    )
    assert common["data"]["ENVIRONMENT"] == "production"
    images = {
        c["image"] for d in of_kind(prod, "Deployment") for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert all(":" in image and not image.endswith(":latest") for image in images)


def test_the_alerts_of_the_runbook_are_all_in_the_prometheus_rule(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (rule,) = of_kind(rendered["prod"], "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {
        "AllianceConsumerLagHigh",
        "AllianceDeadLettersGrowing",
        "AllianceOutboxPending",
        "AllianceServiceNotReady",
        "AllianceDeliveryFailures",
    } <= alerts
    runbook = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text()
    for alert in alerts:
        assert f"### {alert}" in runbook, f"deploy/README.md does not explain {alert}"
