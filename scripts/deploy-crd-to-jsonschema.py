"""Turn CustomResourceDefinition YAML files into strict JSON schemas for kubeconform.

    python scripts/deploy-crd-to-jsonschema.py CRD_DIR OUT_DIR

writes OUT_DIR/{group}/{kind}_{version}.json for every served version (kubeconform's
`{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json` layout). Strict as kubeconform's own
openapi2jsonschema: an object that lists its properties accepts no others, unless the CRD says it
preserves unknown fields; `int-or-string` becomes a oneOf.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any) -> Any:
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if out.get("x-kubernetes-int-or-string") or out.get("format") == "int-or-string":
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def convert(crd_dir: Path, out_dir: Path) -> list[Path]:
    written = []
    for path in sorted(crd_dir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = strict(version["schema"]["openAPIV3Schema"])
                # metadata is validated by the API server, not by the CRD: keep it open
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                schema["properties"]["apiVersion"] = {
                    "type": "string",
                    "enum": [f"{spec['group']}/{version['name']}"],
                }
                schema["properties"]["kind"] = {"type": "string", "enum": [spec["names"]["kind"]]}
                target = out_dir / spec["group"] / f"{spec['names']['kind'].lower()}_{version['name']}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, indent=1, ensure_ascii=False))
                written.append(target)
    return written


if __name__ == "__main__":
    files = convert(Path(sys.argv[1]), Path(sys.argv[2]))
    if not files:
        sys.exit(f"no CustomResourceDefinition found in {sys.argv[1]}")
    print(f"{len(files)} schemas written", file=sys.stderr)
