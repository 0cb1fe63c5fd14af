#!/usr/bin/env bash
# Builds a Postgres image (no registry needed) from this machine's Debian PostgreSQL binaries on the
# base image of make-base-image.sh, with an entrypoint that does what the official `postgres`
# image's does for the chart: on an empty PGDATA, initdb with POSTGRES_USER/POSTGRES_PASSWORD,
# create POSTGRES_DB and allow password logins from the network; then run the server. It runs as
# uid 999 as the chart's securityContext says, with a read-only root filesystem.
# Usage: make-postgres-image.sh BASE_IMAGE IMAGE_NAME   (CONTAINERS_CONF as for make-base-image.sh)
set -euo pipefail
base="${1:?base image}"
name="${2:?image name}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -n "$bin" && -x "$bin/postgres" ]] || { echo "no /usr/lib/postgresql/*/bin/postgres: apt-get install postgresql" >&2; exit 3; }
pg="$(dirname "$bin")"
ver="$(basename "$pg")"

ctr="$(buildah from "$base")"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt="$(buildah mount "$ctr")"

copy() { mkdir -p "$mnt$(dirname "$1")"; cp -aL "$1" "$mnt$1"; }
mkdir -p "$mnt$bin" "$mnt$pg/lib"
for t in postgres initdb pg_ctl pg_isready; do
  copy "$bin/$t"
  ldd "$bin/$t" 2>/dev/null | awk '/=>/ {print $3} /^[ \t]*\/lib/ {print $1}' | while read -r lib; do if [[ -f "$lib" && ! -e "$mnt$lib" ]]; then copy "$lib"; fi; done
done
# The server's loadable modules (no JIT bitcode), its share dir and the time zones it reads.
cp -a "$pg"/lib/*.so "$mnt$pg/lib/"
mkdir -p "$mnt/usr/share/postgresql"
cp -a "/usr/share/postgresql/$ver" "$mnt/usr/share/postgresql/$ver"
cp -a /usr/share/zoneinfo "$mnt/usr/share/zoneinfo"
# initdb looks its user up by uid.
printf 'postgres:x:999:999:postgres:/var/lib/postgresql:/bin/sh\n' >> "$mnt/etc/passwd"
printf 'postgres:x:999:\n' >> "$mnt/etc/group"
# Owned by 999 so that podman's new volumes on these paths (which copy the image's ownership) are too.
mkdir -p "$mnt/var/lib/postgresql/data" "$mnt/var/run/postgresql"
chown -R 999:999 "$mnt/var/lib/postgresql" "$mnt/var/run/postgresql"
cat > "$mnt/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  pwfile="${TMPDIR:-/tmp}/pwfile.$$"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C
  rm -f "$pwfile"
  echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
  db="${POSTGRES_DB:-$user}"
  if [ "$db" != postgres ]; then echo "CREATE DATABASE \"$db\";" | postgres --single -D "$PGDATA" -j template1 >/dev/null; fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
SH
chmod 755 "$mnt/usr/local/bin/docker-entrypoint.sh"
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/bin:$bin:/usr/bin:/bin --user 999:999 --entrypoint '["/usr/local/bin/docker-entrypoint.sh"]' --cmd '[]' --port 5432 "$ctr"
buildah commit --quiet "$ctr" "$name" >/dev/null
echo "$name"
