#!/bin/sh
# Builds the Harrier data-source plugin into deploy/grafana/plugins/
# harrier-datasource, the folder Grafana loads it from. GOARCH selects the
# architecture of the Grafana container (default: this machine's).
# Usage: deploy/grafana/build-plugin.sh [GOARCH]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
arch=${1:-$(go env GOARCH)}
out="$root/deploy/grafana/plugins/harrier-datasource"
mkdir -p "$out"
cd "$root"
CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -o "$out/gpx_harrier_linux_$arch" ./cmd/harrier-datasource
cp dashboards/datasource/plugin.json dashboards/datasource/module.js "$out/"
echo "$out"
