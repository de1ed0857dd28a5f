#!/usr/bin/env bash
# Fetch the pinned SeaweedFS Go module and build the reference `weed` binary.
# Prints the path of the built binary on stdout (last line). Cached under $HOME/.cache.
#   usage: build-weed.sh [4|5]   (offset width; 5 builds with -tags 5BytesOffset)
#          build-weed.sh --src   (only fetch the module source; print its directory)
set -euo pipefail
VERSION="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
SRC_ONLY=0
if [ "${1:-}" = "--src" ]; then SRC_ONLY=1; shift; fi
WIDTH="${1:-${WEED_OFFSET_BYTES:-5}}"
CACHE="${SEAWEED_CACHE_DIR:-$HOME/.cache/ts-weed-volume}"
SRC="$CACHE/src-$VERSION"
case "$WIDTH" in
  4) TAGS=""; BIN="$CACHE/weed-$VERSION-4byte" ;;
  5) TAGS="5BytesOffset"; BIN="$CACHE/weed-$VERSION-5byte" ;;
  *) echo "build-weed.sh: offset width must be 4 or 5, got '$WIDTH'" >&2; exit 2 ;;
esac
mkdir -p "$CACHE"
if [ ! -f "$SRC/.complete" ]; then
  echo "fetching github.com/seaweedfs/seaweedfs@$VERSION" >&2
  dir=$(cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || { echo "build-weed.sh: go mod download gave no Dir" >&2; exit 1; }
  rm -rf "$SRC.tmp"; cp -r "$dir" "$SRC.tmp"; chmod -R u+w "$SRC.tmp"
  rm -rf "$SRC"; mv "$SRC.tmp" "$SRC"; touch "$SRC/.complete"
fi
if [ "$SRC_ONLY" = 1 ]; then echo "$SRC"; exit 0; fi
# Serialise concurrent callers building the same binary (best effort: needs flock).
if [ ! -x "$BIN" ] && command -v flock >/dev/null 2>&1; then
  exec 9>"$BIN.lock"; flock 9
fi
if [ ! -x "$BIN" ]; then
  echo "building weed ($WIDTH-byte offsets) in $SRC" >&2
  (cd "$SRC" && go build ${TAGS:+-tags "$TAGS"} -o "$BIN.tmp" ./weed) >&2
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
