#!/usr/bin/env bash
# Starts a single-node Apache Kafka 4.x (KRaft) on 127.0.0.1 with free ports,
# fetching it from Maven Central on first use. Prints the bootstrap address
# on stdout and writes the PID to $DIR/kafka.pid.
#
#   scripts/kafka/start.sh [DIR]     # DIR defaults to a new temporary folder
#   kill "$(cat DIR/kafka.pid)"      # stops it
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$(mktemp -d /tmp/harrier-kafka.XXXXXX)}"
mkdir -p "$dir"

if [ ! -f "$here/target/lib/kafka_2.13-4.4.0.jar" ]; then
  (cd "$here" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=target/lib -DincludeScope=runtime) >&2
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
controller="$(free_port)"

cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS

cp="$here/target/lib/*"
java -cp "$cp" kafka.tools.StorageTool format -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" \
  -c "$dir/server.properties" > "$dir/format.log" 2>&1

setsid java -Xms256m -Xmx512m -cp "$cp" kafka.Kafka "$dir/server.properties" > "$dir/kafka.log" 2>&1 < /dev/null &
echo $! > "$dir/kafka.pid"

for _ in $(seq 1 120); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  if ! kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
    echo "Kafka exited; see $dir/kafka.log" >&2
    tail -20 "$dir/kafka.log" >&2
    exit 1
  fi
  sleep 0.5
done
echo "Kafka did not listen on 127.0.0.1:$port within 60 s; see $dir/kafka.log" >&2
exit 1
