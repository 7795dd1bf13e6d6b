#!/usr/bin/env bash
# Installs what is missing, builds harrier and runs 'harrier demo'. Extra
# arguments go to the demo, for example --kafka HOST:PORT --clickhouse HOST:PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
mkdir -p bin
go build -o bin/harrier ./cmd/harrier
go build -o bin/harrier-agent ./cmd/harrier-agent
exec bin/harrier demo "$@"
