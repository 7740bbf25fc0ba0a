#!/usr/bin/env bash
# Build shipyard/ship:latest from host-built wheels; skip all work when the image is current.
#
#   SHIP_IMAGE        tag to build (default shipyard/ship:latest)
#   SHIP_IMAGE_BASE   base image; default: a Debian bookworm made here with debootstrap, for
#                     machines that reach a Debian mirror but no container registry.
#                     Online, python:3.11-slim-bookworm works too.
#   DEBIAN_MIRROR     mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${SHIP_IMAGE:-shipyard/ship:latest}
BOOTSTRAPPED=shipyard/bookworm-base:latest
BASE=${SHIP_IMAGE_BASE:-$BOOTSTRAPPED}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
UV=${UV:-$(command -v uv || echo "$PWD/.tools/bin/uv")}
CACHE=${SHIP_IMAGE_CACHE:-$PWD/.tools/cache/ship-image}
# The wheels must match the image's interpreter: Debian bookworm's CPython 3.11.
PYTHON=${SHIP_IMAGE_PYTHON:-$(command -v python3.11 || command -v python3)}
export DOCKER_BUILDKIT=0

say() { echo "image: $*"; }

ship_requirements() {
  "$UV" export --package shipyard-ship --no-dev --no-hashes --frozen --no-emit-workspace \
    --format requirements-txt --quiet
}

# Everything that decides the image's content; the image carries this hash as a label.
inputs_hash() {
  {
    echo "$BASE"
    ship_requirements
    find images/ship scripts/build_ship_image.sh packages/ship packages/protocol -type f \
      -not -path '*/__pycache__/*' -not -name '*.pyc' | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -d' ' -f1
}

current_hash() {
  docker image inspect --format '{{ index .Config.Labels "shipyard.inputs" }}' "$IMAGE" \
    2>/dev/null || true
}

bootstrap_base() {
  if docker image inspect "$BOOTSTRAPPED" >/dev/null 2>&1; then
    return
  fi
  command -v debootstrap >/dev/null || { echo "image: install debootstrap" >&2; exit 1; }
  local root=$WORK/rootfs
  say "bootstrapping Debian bookworm from $MIRROR (about a minute)"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,ca-certificates,curl,git,procps \
    bookworm "$root" "$MIRROR" 2>&1 | awk '
      /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) / {
        if ($2 != last) { print "image:   " $2 " packages"; fflush(); last = $2 } }
      /^[EW]: / { print; fflush() }'
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  say "importing the root filesystem as $BOOTSTRAPPED"
  tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BOOTSTRAPPED" >/dev/null
}

collect_wheels() {
  local wheels=$1/wheels
  rm -rf "$wheels" && mkdir -p "$wheels"
  say "building protocol and ship wheels"
  "$UV" build --quiet --wheel --package shipyard-protocol --out-dir "$wheels"
  "$UV" build --quiet --wheel --package shipyard-ship --out-dir "$wheels"
  ship_requirements >"$wheels/requirements.txt"
  grep -v '^#' images/ship/requirements-extra.txt >>"$wheels/requirements.txt"
  printf 'shipyard-protocol\nshipyard-ship\n' >>"$wheels/requirements.txt"
  say "downloading dependency wheels on the host"
  "$PYTHON" -m pip download -qq --only-binary=:all: --dest "$CACHE/downloads" \
    -r "$wheels/requirements.txt" --find-links "$wheels"
  # Our own wheels keep one version number across edits: never take them from the cache.
  rm -f "$CACHE"/downloads/shipyard_*.whl
  cp "$CACHE"/downloads/*.whl "$wheels/"
}

main() {
  command -v docker >/dev/null || { echo "image: docker is not installed" >&2; exit 1; }
  docker info >/dev/null 2>&1 || { echo "image: dockerd is not running" >&2; exit 1; }
  local want
  want=$(inputs_hash)
  if [ "$(current_hash)" = "$want" ]; then
    say "$IMAGE is current (${want:0:12})"
    return
  fi
  WORK=$(mktemp -d /tmp/ship-image.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  if [ "$BASE" = "$BOOTSTRAPPED" ]; then
    bootstrap_base
  fi
  mkdir -p "$CACHE/downloads" "$WORK/context"
  collect_wheels "$WORK/context"
  say "building $IMAGE from $BASE"
  docker build --build-arg "BASE=$BASE" --build-arg "INPUTS=$want" \
    -f images/ship/Dockerfile -t "$IMAGE" "$WORK/context" 2>&1 \
    | awk '/^( ---> |Removing intermediate|Sending build context|Successfully)/ { next }
           /legacy builder is deprecated|BuildKit is currently disabled|^ *environment-variable|^$/ { next }
           { print "image:   " substr($0, 1, 100); fflush() }'
  docker image prune --force --filter "label=org.opencontainers.image.title=shipyard/ship" \
    >/dev/null
  say "built $IMAGE (${want:0:12})"
}

main "$@"
