#!/usr/bin/env bash
# A real Apache Kafka (KRaft, one combined broker+controller) on 127.0.0.1, to check BlazeMQ's
# answers against Kafka's and to run test suites against both.
#
# Usage:
#   scripts/kafka-reference.sh run CMD [ARG...]
#       Starts Kafka, runs CMD with BLAZEMQ_BOOTSTRAP=127.0.0.1:<port> in its environment, stops
#       Kafka when CMD ends (or the script is interrupted) and exits with CMD's status. E.g.
#         scripts/kafka-reference.sh run .venv/bin/python -m pytest tests/python/test_idempotence.py
#   scripts/kafka-reference.sh start DIR [key=value...]
#       Starts Kafka with its state in DIR (created; must not hold a running one), waits until it
#       answers, and prints its bootstrap address (the only line on stdout). Kafka is stopped when
#       the caller (this script's parent process) exits, unless KAFKA_REFERENCE_DETACH=1.
#       key=value pairs are added to server.properties, e.g.
#         transaction.partition.verification.enable=false
#   scripts/kafka-reference.sh stop DIR
#       Stops the Kafka started in DIR (SIGTERM, then SIGKILL after 20 s) and removes DIR's data.
#   scripts/kafka-reference.sh jars
#       Only fetches the jars; prints the directory that holds them.
#
# Environment:
#   KAFKA_VERSION            Kafka's version (default 4.1.1; any 4.x on Maven Central).
#   KAFKA_REFERENCE_CACHE    where the jars are gathered (default ~/.cache/blazemq/kafka-reference);
#                            Maven itself caches them in ~/.m2.
#   KAFKA_REFERENCE_DETACH=1 `start` leaves Kafka running after its caller exits (stop it with
#                            `stop DIR`).
#   KAFKA_HEAP_OPTS          JVM heap flags (default -Xms256m -Xmx768m).
#
# Needs java (17+), mvn and python3. The jars come from Maven Central the first time
# (scripts/kafka-reference/pom.xml: kafka_2.13 and log4j2); later runs work offline.
# Kafka's own log is DIR/kafka.log; the script's progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
cache_root="${KAFKA_REFERENCE_CACHE:-$HOME/.cache/blazemq/kafka-reference}"
jars="$cache_root/$KAFKA_VERSION"
ready_timeout_s=90

log() { printf 'kafka-reference: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is required (${2})"
}

# Gathers Kafka's runtime jars into $jars once per version; a lock keeps two concurrent first
# runs from copying into the same directory at the same time.
fetch_jars() {
    if [ -f "$jars/.complete" ]; then
        return
    fi
    need mvn "apt-get install maven"
    mkdir -p "$cache_root"
    exec 9>"$cache_root/.lock"
    flock 9
    if [ ! -f "$jars/.complete" ]; then
        log "fetching Kafka $KAFKA_VERSION's jars with Maven (cached in ~/.m2)"
        rm -rf "$jars.partial"
        if ! mvn -q -B -Dstyle.color=never -f "$here/kafka-reference/pom.xml" \
            -Dkafka.version="$KAFKA_VERSION" \
            dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$jars.partial" >&2; then
            rm -rf "$jars.partial"
            die "Maven could not fetch Kafka $KAFKA_VERSION"
        fi
        rm -rf "$jars"
        mv "$jars.partial" "$jars"
        touch "$jars/.complete"
    fi
    flock -u 9
    exec 9>&-
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# A cluster id as Kafka's Uuid prints it: 16 random bytes, URL-safe base64 without padding.
cluster_id() {
    python3 -c 'import base64, os
print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))'
}

# Sets java_args to the JVM's command line up to the main class.
set_java_args() {
    local heap
    read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
    # Serial GC and C1 only: a test broker starts in seconds and shares a small machine.
    java_args=(java "${heap[@]}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1
        -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$here/kafka-reference/log4j2.properties"
        -Dkafka.reference.log="$dir/kafka.log"
        -cp "$jars/*")
}

write_properties() {
    local port=$1 controller_port=$2
    shift 2
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=0
controller.quorum.voters=0@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    local kv
    for kv in "$@"; do
        case "$kv" in
            *=*) printf '%s\n' "$kv" >>"$dir/server.properties" ;;
            *) die "not a key=value property: $kv" ;;
        esac
    done
}

# Kafka is ready when its log says the server started and the port accepts connections.
wait_ready() {
    local pid=$1 port=$2 deadline=$((SECONDS + ready_timeout_s))
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if grep -q "Kafka Server started" "$dir/kafka.log" 2>/dev/null &&
            python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# Stops Kafka when the process `watched` is gone (or Kafka itself is); detached from the
# caller's stdout so that `$(scripts/kafka-reference.sh start DIR)` returns.
watch_parent() {
    local watched=$1 pid=$2
    (
        trap '' HUP
        while kill -0 "$watched" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do
            sleep 1
        done
        stop_pid "$pid"
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watcher.pid"
}

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
}

start_once() {
    local port controller_port pid
    local -a java_args
    port=$(free_port)
    controller_port=$(free_port)
    rm -rf "$dir/data" "$dir/kafka.log"
    write_properties "$port" "$controller_port" "$@"
    set_java_args
    "${java_args[@]}" kafka.tools.StorageTool format --ignore-formatted \
        --cluster-id="$(cluster_id)" --config="$dir/server.properties" >"$dir/format.out" 2>&1 ||
        die "formatting the storage failed: $(cat "$dir/format.out")"
    # setsid: Kafka gets its own session, so a terminal's ^C reaches it only through stop.
    setsid "${java_args[@]}" kafka.Kafka "$dir/server.properties" \
        </dev/null >"$dir/kafka.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/kafka.pid"
    if wait_ready "$pid" "$port"; then
        echo "127.0.0.1:$port" >"$dir/bootstrap"
        return 0
    fi
    stop_pid "$pid"
    rm -f "$dir/kafka.pid"
    return 1
}

cmd_start() {
    [ $# -ge 1 ] || die "usage: $0 start DIR [key=value...]"
    dir=$1
    shift
    need java "apt-get install openjdk-17-jre-headless"
    need python3 "for free ports"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ -f "$dir/kafka.pid" ] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
        die "a Kafka is already running in $dir (stop it first)"
    fi
    fetch_jars
    local attempt
    # A free port may be taken between choosing it and Kafka binding it: try again.
    for attempt in 1 2 3; do
        log "starting Kafka $KAFKA_VERSION in $dir (attempt $attempt)"
        if start_once "$@"; then
            if [ "${KAFKA_REFERENCE_DETACH:-0}" != 1 ]; then
                watch_parent "${KAFKA_REFERENCE_PARENT:-$PPID}" "$(cat "$dir/kafka.pid")"
            fi
            log "ready at $(cat "$dir/bootstrap")"
            cat "$dir/bootstrap"
            return 0
        fi
        log "Kafka did not start; the end of its log:"
        tail -n 20 "$dir/kafka.log" "$dir/kafka.out" >&2 2>/dev/null || true
    done
    die "Kafka did not start in $dir"
}

cmd_stop() {
    [ $# -eq 1 ] || die "usage: $0 stop DIR"
    dir=$1
    [ -d "$dir" ] || die "no such directory: $dir"
    if [ -f "$dir/watcher.pid" ]; then
        kill "$(cat "$dir/watcher.pid")" 2>/dev/null || true
        rm -f "$dir/watcher.pid"
    fi
    if [ -f "$dir/kafka.pid" ]; then
        stop_pid "$(cat "$dir/kafka.pid")"
        rm -f "$dir/kafka.pid"
    fi
    rm -rf "$dir/data"
    log "stopped"
}

cmd_run() {
    [ $# -ge 1 ] || die "usage: $0 run CMD [ARG...]"
    local bootstrap status=0
    # Global: the EXIT trap runs after this function has returned.
    run_dir=$(mktemp -d "${TMPDIR:-/tmp}/kafka-reference.XXXXXX")
    # Stop Kafka however this script ends; the parent watcher covers a SIGKILL of the script.
    trap 'cmd_stop "$run_dir" 2>/dev/null; rm -rf "$run_dir"' EXIT
    trap 'exit 130' INT TERM
    bootstrap=$(KAFKA_REFERENCE_PARENT=$$ cmd_start "$run_dir")
    BLAZEMQ_BOOTSTRAP="$bootstrap" "$@" || status=$?
    return "$status"
}

main() {
    [ $# -ge 1 ] || die "usage: $0 run|start|stop|jars ... (see the top of this script)"
    local sub=$1
    shift
    case "$sub" in
        run) cmd_run "$@" ;;
        start) cmd_start "$@" ;;
        stop) cmd_stop "$@" ;;
        jars) fetch_jars && echo "$jars" ;;
        *) die "unknown command $sub: run, start, stop or jars" ;;
    esac
}

main "$@"
