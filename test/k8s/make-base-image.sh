#!/usr/bin/env bash
# Builds a minimal local base image (no registry needed) from this machine's own node, npm, a
# shell, the few tools the Dockerfiles' RUN lines use, and the shared libraries they link to.
# Usage: make-base-image.sh IMAGE_NAME     (CONTAINERS_CONF: a containers.conf with runtime "runc" and
# cgroup_manager "cgroupfs", as test/k8s/images.test.ts writes it)
set -euo pipefail
name="${1:?image name}"
node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
tools=(/bin/sh /bin/dash /usr/bin/env /bin/mkdir /bin/rm /bin/ls /bin/cat /usr/bin/find /bin/sleep "$node_bin")

ctr="$(buildah from scratch)"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt="$(buildah mount "$ctr")"

copy() { mkdir -p "$mnt$(dirname "$1")"; cp -aL "$1" "$mnt$1"; }
for t in "${tools[@]}"; do
  copy "$t"
  ldd "$t" 2>/dev/null | awk '/=>/ {print $3} /^[ \t]*\/lib/ {print $1}' | while read -r lib; do [[ -f "$lib" ]] && copy "$lib"; done
done
# The zeromq addon links libstdc++ like node; resolver and name-service libraries for DNS.
for lib in /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libresolv.so.2; do [[ -f "$lib" ]] && copy "$lib"; done
mkdir -p "$mnt/usr/local/bin" "$mnt/usr/lib/node_modules" "$mnt/tmp" "$mnt/etc"
for link in /usr/local/bin/node /usr/bin/node; do [[ "$link" == "$node_bin" ]] || ln -sf "$node_bin" "$mnt$link"; done
cp -a "$npm_dir" "$mnt/usr/lib/node_modules/npm"
ln -sf /usr/lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
chmod 1777 "$mnt/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$mnt/etc/passwd"
printf 'root:x:0:\n' > "$mnt/etc/group"
printf 'hosts: files dns\n' > "$mnt/etc/nsswitch.conf"
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/bin:/usr/bin:/bin --cmd '["node"]' "$ctr"
buildah commit --quiet "$ctr" "$name" >/dev/null
echo "$name"
