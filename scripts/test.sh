#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, starts a real Apache
# Kafka (KRaft) for the integration tests, runs 'go test ./...' and stops
# the broker it started. ClickHouse servers are started by the tests
# themselves from the clickhouse-server binary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test

kafka_dir="$(mktemp -d /tmp/harrier-test-kafka.XXXXXX)"
stop_kafka() {
  if [ -f "$kafka_dir/kafka.pid" ]; then
    pid="$(cat "$kafka_dir/kafka.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$kafka_dir"
}
trap stop_kafka EXIT
KAFKA_TEST_BROKERS="$(scripts/kafka/start.sh "$kafka_dir")"
export KAFKA_TEST_BROKERS
echo "Apache Kafka for integration tests on $KAFKA_TEST_BROKERS (pid $(cat "$kafka_dir/kafka.pid"))" >&2

# The storage/shipped tests run every statement on chDB from this library.
CHDB_LIB_PATH="${CHDB_LIB_PATH:-${CHDB_DIR:-$HOME/.cache/harrier/chdb}/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so}"
export CHDB_LIB_PATH

go test -count=1 -timeout 20m "$@" ./...
