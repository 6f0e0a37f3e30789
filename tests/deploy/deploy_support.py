"""Helpers of the deployment checks (conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(
    p.name for p in (DEPLOY / "k8s" / "overlays").iterdir() if (p / "kustomization.yaml").exists()
)


@dataclass(frozen=True)
class Tools:
    kustomize: str
    kubeconform: str
    hadolint: str
    k8s_schemas: str
    crd_schemas: str

    def kubeconform_cmd(self) -> list[str]:
        return [
            self.kubeconform,
            "-strict",
            "-summary",
            "-output",
            "json",
            "-schema-location",
            self.k8s_schemas + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            self.crd_schemas + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
        ]


def fetch_tools() -> Tools:
    out = subprocess.run(
        [str(ROOT / "scripts" / "ensure-deploy-tools.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    ).stdout
    found = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return Tools(
        found["KUSTOMIZE"],
        found["KUBECONFORM"],
        found["HADOLINT"],
        found["K8S_SCHEMAS"],
        found["CRD_SCHEMAS"],
    )


def kustomize_build(tools: Tools, overlay: str) -> str:
    return subprocess.run(
        [tools.kustomize, "build", str(DEPLOY / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def load_gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alliance_deploy_gen", DEPLOY / "gen.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
