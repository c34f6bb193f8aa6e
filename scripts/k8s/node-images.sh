#!/usr/bin/env bash
# The two images the real test node needs and cannot pull (no registry.k8s.io, no Docker Hub here), made locally
# from Debian's packages and cached as docker-archive tars (containerd's `ctr images import` reads their tags):
#   pause    the pod sandbox: a static C program that sleeps until SIGTERM/SIGINT (what registry.k8s.io/pause does)
#   busybox  a shell and coreutils (Debian's busybox-static) for test pods that print, sleep and exit
# Usage: node-images.sh DIR → writes DIR/pause.tar and DIR/busybox.tar once (idempotent), prints nothing.
set -euo pipefail
out=$1
mkdir -p "$out"
[ -s "$out/pause.tar" ] && [ -s "$out/busybox.tar" ] && exit 0
for tool in gcc umoci skopeo; do command -v "$tool" >/dev/null || { echo "node-images: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }; done
[ -x /bin/busybox ] || { echo "node-images: /bin/busybox is missing: apt-get install busybox-static" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# image NAME TAG ENTRYPOINT: an OCI layout from $work/NAME-rootfs, copied into $out/NAME.tar as cellpipe.local/NAME:TAG.
image() {
  local name=$1 tag=$2 entry=$3
  local layout=$work/$name-layout bundle=$work/$name-bundle
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$bundle" >/dev/null
  cp -a "$work/$name-rootfs/." "$bundle/rootfs/"
  umoci repack --image "$layout:$tag" "$bundle"
  umoci config --image "$layout:$tag" --config.entrypoint "$entry" --os linux --architecture amd64
  skopeo copy -q "oci:$layout:$tag" "docker-archive:$out/$name.tar.part:cellpipe.local/$name:$tag"
  mv "$out/$name.tar.part" "$out/$name.tar"
}

mkdir -p "$work/pause-rootfs"
cat >"$work/pause.c" <<'EOF'
/* The pod sandbox process: holds the pod's namespaces and does nothing until asked to stop. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; }
int main(void) {
  signal(SIGTERM, stop);
  signal(SIGINT, stop);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
EOF
gcc -static -O2 -o "$work/pause-rootfs/pause" "$work/pause.c"
image pause 1 /pause

mkdir -p "$work/busybox-rootfs/bin" "$work/busybox-rootfs/tmp" "$work/busybox-rootfs/etc"
cp /bin/busybox "$work/busybox-rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/busybox-rootfs/bin/$applet"
done
chmod 1777 "$work/busybox-rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$work/busybox-rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/busybox-rootfs/etc/group"
image busybox 1 /bin/sh
