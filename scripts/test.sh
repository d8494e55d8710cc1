#!/usr/bin/env bash
# Runs every test of BlazeMQ: Rust unit, property and end-to-end tests (`cargo test --workspace`),
# the Python client tests (pytest), the kafkajs tests (node --test), the web console's tests in
# headless Chromium (node --test in tests/console), the Java client and Kafka tools tests (mvn
# test in tests/jvm) and the Go client tests (franz-go and sarama: go test in tests/go). Installs
# what a fresh machine lacks first: kcat and Chromium from the system's packages, a Python venv at
# .venv with tests/python/requirements.txt, and tests/js/node_modules and tests/console/node_modules
# from their package-lock.json; Maven fetches the JVM tests' jars into ~/.m2 and Go its modules
# (go.sum) from the module proxy. Ends with each suite's time and the total.
# Exits non-zero if anything fails.
#
# `scripts/test.sh --against-kafka` is the reference pass: the Python, JavaScript, Java and Go
# end-to-end suites run against Apache Kafka itself (scripts/kafka-reference.sh starts a fresh one
# for each suite; KAFKA_VERSION picks it) instead of BlazeMQ, leaving out the tests of what only
# BlazeMQ has (restarting its binary, its flags), which are marked in each suite. Every other test
# must pass there too. The Rust tests are BlazeMQ's own and do not run in that pass.
set -euo pipefail
cd "$(dirname "$0")/.."

against_kafka=false
for arg in "$@"; do
    case "$arg" in
        --against-kafka) against_kafka=true ;;
        *) echo "usage: scripts/test.sh [--against-kafka]" >&2; exit 2 ;;
    esac
done
reference="$PWD/scripts/kafka-reference.sh"

# Runs one end-to-end suite: against the BlazeMQ binary the suite starts itself, or in the
# reference pass with BLAZEMQ_BOOTSTRAP naming a Kafka started for it.
suite() {
    if [ "$against_kafka" = true ]; then
        "$reference" run "$@"
    else
        "$@"
    fi
}

log() { printf '==> %s\n' "$*"; }

# Each step's name, outcome and seconds, for the summary at the end.
started=$SECONDS
summary=()
status=0
# `timed NAME COMMAND...`: runs COMMAND, records how it went; a failure fails the run at the end.
timed() {
    local name=$1 t0=$SECONDS
    shift
    log "$name"
    if "$@"; then
        summary+=("$name ok $((SECONDS - t0))s")
    else
        summary+=("$name FAILED $((SECONDS - t0))s")
        status=1
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v kcat >/dev/null 2>&1; then
    log "installing kcat"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat
fi

# The web console's tests drive Debian's Chromium (headless).
if [ "$against_kafka" != true ] && ! command -v chromium >/dev/null 2>&1; then
    log "installing chromium"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
log "installing Python test requirements"
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/python/requirements.txt
log "installing kafkajs (npm ci)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
log "installing the console tests' kafkajs and playwright-core (npm ci)"
(cd tests/console && npm ci --no-audit --no-fund --loglevel=error)
summary+=("installing ok $((SECONDS - started))s")

# The end-to-end suites run target/debug/blazemq; build it before they look for it. The Rust
# tests' build makes it too (the server's integration tests need it), with the features the tests
# turn on in blazemq-core (a test harness and quickcheck impls, code added beside the broker's):
# building it alone first would compile the crates it shares with the tests a second time.
if [ "$against_kafka" = true ]; then
    timed "cargo build -p blazemq" cargo build -p blazemq
else
    timed "cargo build (broker and tests)" cargo test --workspace --no-run
fi
if [ "$status" -ne 0 ]; then
    log "FAILED: the broker or its tests do not build"
    exit 1
fi

if [ "$against_kafka" = true ]; then
    log "reference pass: the end-to-end suites against Apache Kafka"
else
    timed "cargo test --workspace" cargo test --workspace
fi

# Two pytest workers (pytest-xdist), each test file wholly on one (--dist loadfile), in the order
# collected (conftest.py puts the test that waits out Kafka's one-minute minimum offsets retention
# first), so the other files run while it waits. Every test starts its own broker. The reference
# pass runs them one at a time: there they share one Kafka, whose broker-wide settings one test
# changes for a moment.
pytest_workers=(-n 2 --dist loadfile --no-loadscope-reorder)
if [ "$against_kafka" = true ]; then
    pytest_workers=()
fi
timed "pytest tests/python" suite .venv/bin/python -m pytest tests/python -q -p no:cacheprovider \
    "${pytest_workers[@]}"

js() { (cd tests/js && suite node --test); }
timed "node --test tests/js" js

# The web console in headless Chromium: BlazeMQ's own, so not in the reference pass. Without
# Chromium it skips itself, except under CI=true, where that fails. Screenshots of each view
# are left in target/console-screenshots/.
if [ "$against_kafka" != true ]; then
    console() { (cd tests/console && node --test); }
    timed "node --test tests/console" console
fi

# The Java client and Kafka's own tools (kafka-clients, kafka-tools); Maven fetches them into
# ~/.m2 the first time. CI must run them: there a missing java or mvn is a failure.
if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
    timed "mvn test (tests/jvm)" suite mvn -q -B -f tests/jvm/pom.xml test
elif [ "${CI:-}" = true ]; then
    log "tests/jvm needs java (17+) and mvn"
    status=1
else
    log "skipping tests/jvm: java or mvn is missing"
fi

# The Go suite needs only the go command; its modules (go.sum) download on first use.
go_suite() { (cd tests/go && go vet ./... && suite go test -count=1 ./...); }
if command -v go >/dev/null 2>&1; then
    timed "go test tests/go" go_suite
elif [ "${CI:-}" = "true" ]; then
    log "go is missing: the Go client tests cannot run"
    status=1
else
    log "skipping tests/go: go is not installed"
fi

log "summary"
for line in "${summary[@]}"; do
    printf '    %s\n' "$line"
done
total="$(( (SECONDS - started) / 60 ))m$(( (SECONDS - started) % 60 ))s"
if [ "$status" -ne 0 ]; then
    log "FAILED after $total"
else
    log "all tests passed in $total"
fi
exit "$status"
