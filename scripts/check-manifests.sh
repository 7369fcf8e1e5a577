#!/usr/bin/env bash
# Validates the Kubernetes recipes (deploy/kubernetes/*.yaml) against the official schemas in
# strict mode (unknown fields are errors), offline: `kubernetes-validate` from PyPI bundles the
# schemas of every Kubernetes release. A deliberately broken copy must be refused too, so the
# check cannot pass by validating nothing.
#
#   scripts/check-manifests.sh            (CI runs it; installs the validator into target/)
#
# Exit 0 when every manifest passes, 1 when one fails. When the validator cannot be installed
# it says so loudly and exits 0: nothing was checked, and the line says it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Kubernetes release the recipes are written for (backoffLimitPerIndex is GA from 1.33).
k8s_version=1.33.0
validator_version=1.37.0
venv=target/kubernetes-validate-$validator_version

if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian splits venv out of python3.
        if command -v apt-get >/dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 || true
        fi
        rm -rf "$venv"
        python3 -m venv "$venv" >/dev/null 2>&1 || true
    fi
    if [ ! -x "$venv/bin/pip" ] \
        || ! "$venv/bin/pip" install -q "kubernetes-validate==$validator_version" >/dev/null 2>&1; then
        echo "ignored: could not install kubernetes-validate $validator_version (pip); the Kubernetes manifests were NOT checked"
        rm -rf "$venv"
        exit 0
    fi
fi
validate=("$venv/bin/kubernetes-validate" --strict --kubernetes-version "$k8s_version")

manifests=(deploy/kubernetes/*.yaml)
echo "== kubernetes-validate --strict (Kubernetes $k8s_version): ${manifests[*]}"
"${validate[@]}" "${manifests[@]}"

# The check itself must be able to fail: an unknown field in the Job is refused.
broken=$(mktemp --suffix=.yaml)
trap 'rm -f "$broken"' EXIT
sed 's/^  completionMode: Indexed$/  completionMode: Indexed\n  notAField: 1/' \
    deploy/kubernetes/partitions-job.yaml >"$broken"
if "${validate[@]}" --quiet "$broken" >/dev/null 2>&1; then
    echo "FAILED: kubernetes-validate accepted a Job with an unknown field (strict mode is not working)"
    exit 1
fi
echo "manifests ok (and a Job with an unknown field was refused)"
