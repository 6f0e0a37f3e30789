#!/usr/bin/env bash
# PostgreSQL 15 server binaries and `patch` for the embedded store (FerretDB on PostgreSQL).
# Skipped when present; otherwise installed from Debian's packages (needs root, or sudo).
# The package's own cluster is not used: localinfra starts a private one per run.
set -euo pipefail

PG_BIN="${ALLIANCE_PG_BIN:-/usr/lib/postgresql/15/bin}"
missing=()
[[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" ]] || missing+=(postgresql-15)
command -v patch >/dev/null 2>&1 || missing+=(patch)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
  echo "ensure-postgres: ${missing[*]} missing and not root; install them: apt-get install ${missing[*]}" >&2
  exit 1
fi
command -v apt-get >/dev/null 2>&1 || { echo "ensure-postgres: no apt-get; install ${missing[*]} or set ALLIANCE_PG_BIN" >&2; exit 1; }
started=$(date +%s)
echo "ensure-postgres: installing ${missing[*]} from Debian's packages ..." >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# policy-rc.d 101: the package must not start its default cluster (we never use it)
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee $policy >/dev/null; "${sudo[@]}" chmod +x $policy; trap '"${sudo[@]}" rm -f '"$policy" EXIT; fi
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ensure-postgres: installed ${missing[*]} in $(( $(date +%s) - started ))s" >&2
