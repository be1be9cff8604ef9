#!/usr/bin/env bash
# Install, start and stop the servers retail-hub needs on a development or CI
# machine: RabbitMQ from Debian's packages and FerretDB (SQLite backend) built
# from the Go module proxy. Every server listens on loopback only.
#
#   deploy/services.sh start    install what is missing, start, wait until ready
#   deploy/services.sh stop     stop both servers
#   deploy/services.sh status   show whether each server accepts connections
#
# Settings (environment variables):
#   RETAIL_HUB_STATE_DIR     folder for the servers' data, logs and pid files
#                            (default: .state/ in the repository, ignored by git)
#   FERRETDB_VERSION         FerretDB release to build (default: v1.24.2)
#   FERRETDB_PORT            FerretDB listen port (default: 27017)
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state_dir=${RETAIL_HUB_STATE_DIR:-$repo_dir/.state}
ferretdb_version=${FERRETDB_VERSION:-v1.24.2}
ferretdb_port=${FERRETDB_PORT:-27017}
ferretdb_bin=$state_dir/bin/ferretdb-$ferretdb_version
ferretdb_dir=$state_dir/ferretdb
rabbitmq_dir=$state_dir/rabbitmq
rabbitmq_wait_seconds=300
ferretdb_wait_seconds=60

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_open() {
    # Succeed when something accepts TCP connections on 127.0.0.1:$1.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for_port() {
    local name=$1 port=$2 seconds=$3 i
    for ((i = 0; i < seconds * 2; i++)); do
        if port_open "$port"; then
            log "$name accepts connections on 127.0.0.1:$port"
            return 0
        fi
        if ((i > 0 && i % 60 == 0)); then
            log "still waiting for $name on 127.0.0.1:$port ($((i / 2))s)"
        fi
        sleep 0.5
    done
    return 1
}

apt_updated=0
apt_install() {
    if [[ $apt_updated == 0 ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# RabbitMQ -------------------------------------------------------------------

install_rabbitmq() {
    if ! command -v rabbitmq-server >/dev/null 2>&1; then
        [[ $(id -u) == 0 ]] || die "rabbitmq-server is missing; run this script as root to install it"
        apt_install rabbitmq-server
    fi

    # The Debian package starts nothing without systemd; we configure the node
    # to listen on loopback only and to use a node name that does not depend on
    # the machine's host name.
    install -d -m 755 /etc/rabbitmq
    cp "$repo_dir/deploy/rabbitmq/rabbitmq.conf" /etc/rabbitmq/rabbitmq.conf
    cp "$repo_dir/deploy/rabbitmq/rabbitmq-env.conf" /etc/rabbitmq/rabbitmq-env.conf
    rabbitmq-plugins enable --offline rabbitmq_management rabbitmq_prometheus >/dev/null
}

prepare_rabbitmq_dir() {
    # The node keeps its data in this clone's state folder, not in
    # /var/lib/rabbitmq: a new clone starts with an empty broker, and queues
    # left by earlier work on the machine never slow down its start.
    mkdir -p "$rabbitmq_dir/mnesia" "$rabbitmq_dir/log"
    if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then
        chown -R rabbitmq:rabbitmq "$rabbitmq_dir"
        # The path goes in as an argument, so no character in it is parsed.
        su rabbitmq -s /bin/sh -c 'test -w "$1"' sh "$rabbitmq_dir/mnesia" ||
            die "the rabbitmq user cannot write to $rabbitmq_dir; set RETAIL_HUB_STATE_DIR to a folder it can reach"
    fi
    export RABBITMQ_MNESIA_BASE=$rabbitmq_dir/mnesia
    export RABBITMQ_LOG_BASE=$rabbitmq_dir/log
}

start_rabbitmq() {
    if port_open 5672; then
        log "RabbitMQ already accepts connections on 127.0.0.1:5672"
        return 0
    fi
    install_rabbitmq
    prepare_rabbitmq_dir
    log "starting RabbitMQ (data in $rabbitmq_dir)"
    export ERL_EPMD_ADDRESS=127.0.0.1
    nohup rabbitmq-server >"$state_dir/rabbitmq.log" 2>&1 &
    if ! wait_for_port RabbitMQ 5672 "$rabbitmq_wait_seconds"; then
        tail -n 30 "$state_dir/rabbitmq.log" >&2 || true
        die "RabbitMQ did not start within ${rabbitmq_wait_seconds}s; see $state_dir/rabbitmq.log and $rabbitmq_dir/log/"
    fi
    rabbitmqctl -q await_startup --timeout "$rabbitmq_wait_seconds" >/dev/null
    wait_for_port "RabbitMQ management" 15672 30 || die "the management plugin did not start"
}

stop_rabbitmq() {
    if port_open 5672; then
        log "stopping RabbitMQ"
        rabbitmqctl -q stop >/dev/null 2>&1 || true
    fi
}

# FerretDB -------------------------------------------------------------------

build_ferretdb() {
    [[ -x $ferretdb_bin ]] && return 0
    command -v go >/dev/null 2>&1 || die "go is missing; install Go 1.21+ to build FerretDB"
    log "building FerretDB $ferretdb_version from the Go module proxy (first run only, a few minutes)"

    # `go install .../cmd/ferretdb@VERSION` builds a binary that panics at start,
    # because the module ships an empty build/version/version.txt. We build the
    # same module source with that file filled in.
    local module=github.com/FerretDB/FerretDB src build_dir
    src=$(go mod download -json "$module@$ferretdb_version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [[ -d $src ]] || die "could not download $module@$ferretdb_version"
    build_dir=$(mktemp -d)
    cp -r "$src/." "$build_dir"
    chmod -R u+w "$build_dir"
    echo "$ferretdb_version" >"$build_dir/build/version/version.txt"
    mkdir -p "$(dirname "$ferretdb_bin")"
    (cd "$build_dir" && go build -trimpath -o "$ferretdb_bin.tmp" ./cmd/ferretdb)
    mv "$ferretdb_bin.tmp" "$ferretdb_bin"
    rm -rf "$build_dir"
}

start_ferretdb() {
    # The tests start private FerretDB servers from this binary, so it is
    # built even when a server already listens on the port.
    build_ferretdb
    if port_open "$ferretdb_port"; then
        log "FerretDB already accepts connections on 127.0.0.1:$ferretdb_port"
        return 0
    fi
    mkdir -p "$ferretdb_dir/data"
    log "starting FerretDB $ferretdb_version (SQLite in $ferretdb_dir/data)"
    nohup "$ferretdb_bin" \
        --handler=sqlite \
        --sqlite-url="file:$ferretdb_dir/data/" \
        --state-dir="$ferretdb_dir" \
        --listen-addr="127.0.0.1:$ferretdb_port" \
        --debug-addr=127.0.0.1:0 \
        --telemetry=disable \
        --log-level=warn \
        >"$ferretdb_dir/ferretdb.log" 2>&1 &
    echo $! >"$ferretdb_dir/ferretdb.pid"
    if ! wait_for_port FerretDB "$ferretdb_port" "$ferretdb_wait_seconds"; then
        tail -n 30 "$ferretdb_dir/ferretdb.log" >&2 || true
        die "FerretDB did not start within ${ferretdb_wait_seconds}s; see $ferretdb_dir/ferretdb.log"
    fi
}

stop_ferretdb() {
    local pid_file=$ferretdb_dir/ferretdb.pid
    if [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        log "stopping FerretDB"
        kill "$(cat "$pid_file")"
        rm -f "$pid_file"
    elif port_open "$ferretdb_port"; then
        log "a server on 127.0.0.1:$ferretdb_port was not started from $state_dir; leaving it running"
    fi
}

status() {
    local name port
    for name in RabbitMQ:5672 "RabbitMQ management:15672" "FerretDB:$ferretdb_port"; do
        port=${name##*:}
        if port_open "$port"; then
            echo "${name%:*}: up (127.0.0.1:$port)"
        else
            echo "${name%:*}: down (127.0.0.1:$port)"
        fi
    done
}

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    mkdir -p "$state_dir"
    case ${1:-} in
        start) start_rabbitmq; start_ferretdb ;;
        stop) stop_ferretdb; stop_rabbitmq ;;
        status) status ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
