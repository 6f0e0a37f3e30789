"""The Dockerfile passes hadolint and keeps the image rules; docker-compose.yml is valid Compose and
comes up in order without a secret in the file."""

from __future__ import annotations

import json
import re
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from deploy_support import DEPLOY, ROOT, Tools

pytestmark = pytest.mark.unit

DOCKERFILES = sorted((DEPLOY / "docker").glob("Dockerfile*"))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_each_dockerfile_passes_hadolint(tools: Tools, dockerfile: Path) -> None:
    done = subprocess.run(
        [tools.hadolint, "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_a_bad_dockerfile(tools: Tools, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    done = subprocess.run([tools.hadolint, str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "DL3007" in done.stdout


def test_the_image_is_multi_stage_non_root_locked_and_healthchecked() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "uv sync --frozen --no-dev" in text and "COPY pyproject.toml uv.lock" in text
    runtime = text.split("AS runtime", 1)[1]
    assert "USER 10001" in runtime and "HEALTHCHECK" in runtime and "/healthz" in runtime
    assert "uv" not in re.sub(r"#.*", "", runtime.replace(".venv", "")), "no build tool in the final stage"


def test_the_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(
        files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    jsonschema.validate(compose, schema)
    broken = {
        **compose,
        "services": {
            **compose["services"],
            "kafka": {**compose["services"]["kafka"], "healthcheck": {"tests": ["CMD", "true"]}},
        },
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_compose_brings_everything_up_in_order_on_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "mongo", "otel-collector", "mailpit", "kafka-topics"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in " ".join(services["mongo"]["healthcheck"]["test"])
    for name in ("registry", "activity", "evaluation", "notification"):
        svc = services[name]
        assert svc["depends_on"]["mongo"]["condition"] == "service_healthy"
        assert svc["depends_on"]["kafka-topics"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in svc and svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert services["notification"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith("./") or source in compose["volumes"], volume


def test_compose_holds_no_secret_and_env_example_names_every_one() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / ".env.example").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert {"AUTH_JWT_SECRET", "REGISTRY_PII_ENCRYPTION_KEY"} <= required
    for name in required:
        assert re.search(rf"^{name}=$", example, re.M), f".env.example should name {name} (empty)"
    for line in text.splitlines():
        if re.search(r"(SECRET|PASSWORD|_KEY)\b\s*:", line):
            assert "${" in line, f"a secret written into docker-compose.yml: {line.strip()}"
