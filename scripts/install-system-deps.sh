#!/usr/bin/env bash
# Debian packages the tests and benchmarks use: a Postgres server for the test database (its
# binaries also make the Postgres image the podman tests run), the Python ZeroMQ binding for the
# legacy-turret compatibility test, Chromium for the report test, Prometheus for the scrape test,
# podman/buildah for the image and kube-play tests (netavark and aardvark-dns for the pods' network
# and its aliases, iptables for netavark), nginx, wrk and Locust (python3-locust) for benchmarks,
# openssl for the self-signed certificates of the HTTPS tests.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
/usr/bin/python3 -c 'import zmq' >/dev/null 2>&1 || need+=(python3-zmq)
# fuse-overlayfs, uidmap and fonts-liberation are Recommends of podman and chromium that the tests
# rely on (overlay mounts in the image build, a readable report screenshot): named so they are
# there even where podman or chromium came without their Recommends.
for pkg in openssl chromium fonts-liberation prometheus podman buildah runc slirp4netns netavark aardvark-dns iptables fuse-overlayfs uidmap unzip nginx-light wrk python3-locust; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian's postgresql package keeps initdb/pg_ctl off PATH.
if ! command -v initdb >/dev/null 2>&1; then
  for b in /usr/lib/postgresql/*/bin; do export PATH="$b:$PATH"; done
  echo "note: add $(ls -d /usr/lib/postgresql/*/bin | tail -1) to PATH for initdb/pg_ctl"
fi
