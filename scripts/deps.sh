#!/usr/bin/env bash
# Installs what Harrier's demo and tests need on a Debian machine and skips
# what is already there. The demo and tests need the clickhouse-server binary
# from Debian's packages, because they start private servers from it; the
# packaged service is not started. Go 1.26 must already be installed.
set -euo pipefail
need=()
command -v clickhouse-server >/dev/null 2>&1 || need+=(clickhouse-server clickhouse-client)
if [ "${1:-}" = "--test" ]; then
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
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
