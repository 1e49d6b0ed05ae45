#!/usr/bin/env bash
# Builds the container images the real node runs, without a daemon or a
# registry (docs/real-node.md):
#
#   localhost/infermon:dev   the project's Dockerfile, unchanged (what a user
#                            builds with docker build), by buildah bud
#   localhost/engine-sim:dev llm-d-inference-sim on bookworm-slim
#                            (hack/images/engine.Dockerfile)
#   localhost/pause:infermon the pod sandbox (hack/images/pause.c, static)
#   localhost/prometheus:infermon, localhost/prometheus-config-reloader:infermon
#                            what prometheus-operator runs as its Prometheus
#                            StatefulSet (hack/images/prometheus.Dockerfile,
#                            config-reloader.Dockerfile), from the binaries
#                            hack/tools/build.sh builds
#   localhost/engine-pages:dev the dashboard test's composed engine pages
#                            (hack/images/pages.Dockerfile)
#
# No registry is reachable, so the Dockerfile's FROM images are made here:
# a bookworm minbase root file system from this host's Debian sources
# (bookworm_base_tar in hack/lib.sh) committed as docker.io/library/debian:
# bookworm and :bookworm-slim, and every build runs with --pull=never.
# Base images and build layers live in buildah's storage under
# $(infermon_cache)/containers, so a warm run rebuilds only what changed.
#
#   hack/images.sh build           builds them all (the default)
#   hack/images.sh export DIR      writes DIR/NAME.tar (docker archives, for
#                                  ctr images import) of what build built;
#                                  needs no network
#   hack/images.sh size            the infermon image's size in bytes
#
# Needs root (buildah's chroot isolation and overlay storage).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hack/lib.sh
. "$here/lib.sh"
ROOT=$(infermon_root)
CACHE=$(infermon_cache)

INFERMON_IMAGE=localhost/infermon:dev
ENGINE_IMAGE=localhost/engine-sim:dev
PAUSE_IMAGE=localhost/pause:infermon
PROMETHEUS_IMAGE=localhost/prometheus:infermon
RELOADER_IMAGE=localhost/prometheus-config-reloader:infermon
PAGES_IMAGE=localhost/engine-pages:dev
IMAGES=("$INFERMON_IMAGE" "$ENGINE_IMAGE" "$PAUSE_IMAGE" "$PROMETHEUS_IMAGE" "$RELOADER_IMAGE" "$PAGES_IMAGE")

[ "$(id -u)" -eq 0 ] || die "images: needs root (buildah --isolation chroot, overlay storage)"
command -v buildah >/dev/null || ensure_debs buildah
command -v buildah >/dev/null || die "images: no buildah after installing Debian's buildah"

STORE=$CACHE/containers
B=(buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver overlay)

exists() { "${B[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# base_images: docker.io/library/debian:bookworm and :bookworm-slim from the
# cached minbase tarball; made again when the tarball changes (monthly).
base_images() {
	local tar stamp=$STORE/.base.stamp c
	tar=$(bookworm_base_tar) || die "images: no bookworm root file system (output above)"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$tar" ] &&
		exists docker.io/library/debian:bookworm && exists docker.io/library/debian:bookworm-slim; then
		return 0
	fi
	log "images: committing $tar as debian:bookworm and debian:bookworm-slim"
	c=$("${B[@]}" from scratch)
	"${B[@]}" add --quiet "$c" "$tar" / >/dev/null
	"${B[@]}" config --cmd '["bash"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
	"${B[@]}" commit --quiet --rm "$c" docker.io/library/debian:bookworm >/dev/null
	"${B[@]}" tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim
	echo "$tar" > "$stamp"
}

bud() { "${B[@]}" bud --quiet --isolation chroot --pull=never --layers "$@" >/dev/null; }

build_infermon() {
	local commit
	commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	log "images: $INFERMON_IMAGE from $ROOT/Dockerfile (commit $commit)"
	bud -t "$INFERMON_IMAGE" --build-arg INFERMON_GIT_COMMIT="$commit" -f "$ROOT/Dockerfile" "$ROOT"
}

# bud_with IMAGE DOCKERFILE FILE...: IMAGE from hack/images/DOCKERFILE with
# the FILEs as the whole build context.
bud_with() {
	local img=$1 df=$2 ctx
	shift 2
	ctx=$(mktemp -d)
	cp "$@" "$ctx/"
	log "images: $img from hack/images/$df"
	bud -t "$img" -f "$here/images/$df" "$ctx" || { rm -rf "$ctx"; return 1; }
	rm -rf "$ctx"
}

build_engine() {
	"$here/tools/build.sh" sim
	bud_with "$ENGINE_IMAGE" engine.Dockerfile "$CACHE/bin/llm-d-inference-sim"
}

build_monitoring() {
	"$here/tools/build.sh" prometheus operator
	bud_with "$PROMETHEUS_IMAGE" prometheus.Dockerfile "$CACHE/bin/prometheus" "$CACHE/bin/promtool"
	bud_with "$RELOADER_IMAGE" config-reloader.Dockerfile "$CACHE/bin/prometheus-config-reloader"
	bud_with "$PAGES_IMAGE" pages.Dockerfile "$ROOT/test/integration/dashboard_targets.py"
}

build_pause() {
	local bin=$STORE/pause sum stamp=$STORE/.pause.stamp c
	sum=$(sha256sum < "$here/images/pause.c" | cut -c1-16)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && exists "$PAUSE_IMAGE"; then return 0; fi
	log "images: $PAUSE_IMAGE from hack/images/pause.c"
	mkdir -p "$STORE"
	cc -static -Os -Wall -Wextra -Werror -o "$bin" "$here/images/pause.c"
	c=$("${B[@]}" from scratch)
	"${B[@]}" copy --quiet "$c" "$bin" /pause >/dev/null
	"${B[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$c"
	"${B[@]}" commit --quiet --rm "$c" "$PAUSE_IMAGE" >/dev/null
	echo "$sum" > "$stamp"
}

build_all() {
	mkdir -p "$STORE"
	exec 7>"$STORE.lock"
	flock -w 1200 7 || die "images: another build has held $STORE.lock for 20 minutes"
	# working containers a killed build left behind (the lock is ours)
	"${B[@]}" rm --all > /dev/null 2>&1 || true
	base_images
	build_pause
	build_engine
	build_monitoring
	build_infermon
}

# prune_if_big: the intermediate images of earlier builds are what --layers
# reuses (the build stage's package layer above all), so they stay until
# the storage passes 10 GiB; then every unused image goes and the next
# build starts cold.
prune_if_big() {
	local kib
	kib=$(du -sk "$STORE/storage" 2>/dev/null | cut -f1)
	[ "${kib:-0}" -gt $((10 * 1024 * 1024)) ] || return 0
	log "images: $STORE holds $((kib / 1024)) MiB: removing images no tag uses"
	"${B[@]}" rmi --prune >/dev/null 2>&1 || true
}

# export_all DIR: DIR/infermon.tar, engine-sim.tar, pause.tar
export_all() {
	local dir=$1 img name
	mkdir -p "$dir"
	for img in "${IMAGES[@]}"; do
		name=${img#localhost/}
		name=${name%%:*}
		rm -f "$dir/$name.tar"
		"${B[@]}" push --quiet "$img" "docker-archive:$dir/$name.tar:$img" >/dev/null
	done
}

case ${1:-build} in
build)
	prune_if_big
	build_all
	# containers/storage leaves its overlay dir bind-mounted on the host
	umount "$STORE/storage/overlay" 2> /dev/null || true
	;;
export)
	[ $# -eq 2 ] || die "usage: hack/images.sh export DIR"
	for img in "${IMAGES[@]}"; do exists "$img" || die "images: no $img: run hack/images.sh build first"; done
	export_all "$2"
	;;
size) "${B[@]}" inspect --type image --format '{{.Size}}' "$INFERMON_IMAGE" 2>/dev/null ||
	"${B[@]}" images --format '{{.Size}}' "$INFERMON_IMAGE" ;;
names) printf '%s\n' "${IMAGES[@]}" ;;
*) die "usage: hack/images.sh [build|export DIR|size|names]" ;;
esac
