#!/usr/bin/env bash
# Harness-validation shim: accepts the command line the upstream framework gives an
# alternative volume server (framework/cluster_rust.go rustVolumeArgs: `--port N
# --port.grpc N ... --securityFile F --volume.allowUntrustedRemoteEndpoints`) and
# execs the reference Go server (`$WEED_BINARY -config_dir=<dir of F> volume -port=N ...`).
# Used by `run.mjs --impl go` (rust-package tests) and `--impl go-hook` (everything).
set -euo pipefail
: "${WEED_BINARY:?go-volume-shim.sh needs WEED_BINARY}"
config_dir=""
args=()
while [ $# -gt 0 ]; do
  flag="$1"; shift
  case "$flag" in
    --volume.allowUntrustedRemoteEndpoints) args+=("-volume.allowUntrustedRemoteEndpoints") ;;
    --securityFile) config_dir="$(dirname "$1")"; shift ;;
    --*=*) args+=("-${flag#--}") ;;
    --*)
      [ $# -gt 0 ] || { echo "go-volume-shim.sh: $flag needs a value" >&2; exit 2; }
      args+=("-${flag#--}=$1"); shift ;;
    *) echo "go-volume-shim.sh: unexpected argument '$flag'" >&2; exit 2 ;;
  esac
done
exec "$WEED_BINARY" ${config_dir:+"-config_dir=$config_dir"} volume "${args[@]}"
