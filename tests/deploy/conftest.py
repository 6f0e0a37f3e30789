"""Fixtures of the deployment checks: the tools (fetched once per version by
scripts/ensure-deploy-tools.sh into ~/.cache/alliance/deploy-tools) and the rendered overlays."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_support import OVERLAYS, ROOT, Tools, fetch_tools, kustomize_build


@pytest.fixture(scope="session")
def tools() -> Tools:
    return fetch_tools()


@pytest.fixture(scope="session")
def rendered(tools: Tools) -> dict[str, list[dict[str, Any]]]:
    """overlay name → its rendered objects."""
    return {o: [d for d in yaml.safe_load_all(kustomize_build(tools, o)) if d] for o in OVERLAYS}


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())
