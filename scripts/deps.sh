#!/usr/bin/env bash
# Installs what Harrier's demo and tests need on a Debian machine and skips
# what is already there. The demo and tests need the clickhouse-server binary
# from Debian's packages, because they start private servers from it; the
# packaged service is not started. With --test it also installs chDB, the
# embedded build of a current ClickHouse from the npm package
# @chdb/lib-linux-x64-gnu, into $CHDB_DIR (default
# ~/.cache/harrier/chdb), where the storage/shipped tests look for
# libchdb.so. Go 1.26 must already be installed.
set -euo pipefail
need=()
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
if [ "${1:-}" = "--test" ]; then
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  [ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
  [ -x /usr/bin/prometheus ] || need+=(prometheus)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  command -v gcc >/dev/null 2>&1 || need+=(gcc)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing ${need[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
  echo "Go is not installed: install Go 1.26 or newer from https://go.dev/dl/ and run again" >&2
  exit 1
fi

if [ "${1:-}" = "--test" ]; then
  chdb_version="26.7.3-stable.1"
  chdb_dir="${CHDB_DIR:-$HOME/.cache/harrier/chdb}"
  chdb_lib="$chdb_dir/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so"
  if [ ! -f "$chdb_lib" ] || [ "$(cat "$chdb_dir/version" 2>/dev/null)" != "$chdb_version" ]; then
    echo "Installing chDB $chdb_version (about 180 MB) into $chdb_dir with npm" >&2
    mkdir -p "$chdb_dir"
    npm install --prefix "$chdb_dir" --no-save --no-audit --no-fund --loglevel=error \
      "@chdb/lib-linux-x64-gnu@$chdb_version" >&2
    echo "$chdb_version" > "$chdb_dir/version"
  fi
fi
