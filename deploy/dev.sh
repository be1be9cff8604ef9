#!/usr/bin/env bash
# Set up retail-hub on a development or CI machine and run it.
#
#   deploy/dev.sh demo    set up everything, then run the demo
#   deploy/dev.sh test    set up everything, then run the linters, the type
#                         check, the test suite and then the fault-injection
#                         suite (extra arguments go to both pytest runs)
#   deploy/dev.sh setup   only set up: the virtual environment and the servers
#
# Setting up creates .venv/ with the project installed in editable mode,
# installs Chart.js into monitor/web/node_modules with npm and Debian's
# chromium (for the dashboard's browser test), and starts RabbitMQ and
# FerretDB through deploy/services.sh (root is needed the first time, to
# install RabbitMQ and Chromium). Each step is skipped when already done.
#
# Settings: PYTHON (interpreter to build .venv from, default python3, 3.11+).
set -euo pipefail

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$repo_dir/.venv
python=${PYTHON:-python3}

log() { printf '[dev] %s\n' "$*" >&2; }

setup_venv() {
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        log "error: $python is missing or older than 3.11; set PYTHON to a Python 3.11+ interpreter"
        exit 1
    fi
    if [[ ! -x $venv/bin/python ]]; then
        log "creating $venv"
        "$python" -m venv "$venv"
    fi
    # Reinstall only when the dependencies changed since the last install.
    local stamp=$venv/.installed-from
    local wanted
    wanted=$(cat "$repo_dir/pyproject.toml" "$repo_dir/requirements.lock" | sha256sum | cut -d' ' -f1)
    if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
        log "installing retail-hub and its dependencies into $venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        # The runtime dependencies come from the same lock as the container
        # image, so the tests run on the versions production runs.
        "$venv/bin/python" -m pip install --quiet --require-hashes -r "$repo_dir/requirements.lock"
        "$venv/bin/python" -m pip install --quiet -e "$repo_dir[dev]"
        echo "$wanted" >"$stamp"
    fi
}

# Chart.js for the monitor's dashboard, from package-lock.json.
setup_web() {
    local web=$repo_dir/monitor/web
    [[ -f $web/node_modules/chart.js/dist/chart.umd.min.js ]] && return
    if ! command -v npm >/dev/null; then
        log "error: npm is missing; install Node.js 18+ (Debian: apt-get install nodejs npm)"
        exit 1
    fi
    log "npm ci in $web"
    (cd "$web" && npm ci --no-audit --no-fund)
}

# Debian's Chromium, for the dashboard's browser test; it needs root to install.
setup_chromium() {
    [[ -x /usr/bin/chromium ]] && return
    if [[ $(id -u) != 0 ]]; then
        log "warning: chromium is missing and installing it needs root; the browser test will be skipped"
        return
    fi
    log "apt-get install chromium chromium-driver"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    if ! apt-cache policy chromium | grep -q 'Candidate: [0-9]'; then
        log "error: apt has no chromium package; add Debian's main archive to the apt sources"
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver >/dev/null
}

setup_promtool() {
    # promtool checks and tests deploy/prometheus/alerts.yml. Debian ships it
    # in the prometheus package; only the tool is wanted, not the service.
    command -v promtool >/dev/null 2>&1 && return 0
    if [[ $(id -u) != 0 ]]; then
        log "promtool is missing; run this script as root to install it"
        return 0
    fi
    log "apt-get install prometheus (for promtool)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus >/dev/null
    # Where an init system started the service, stop it: it listens on
    # 0.0.0.0:9090, and the tests need only the tool.
    if pgrep -x prometheus >/dev/null 2>&1; then
        log "stopping the prometheus service the package started"
        if command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now prometheus prometheus-node-exporter || true
        else
            service prometheus stop || true
        fi
    fi
}

setup() {
    setup_venv
    setup_web
    setup_chromium
    setup_promtool
    bash "$repo_dir/deploy/services.sh" start
}

run_tests() {
    cd "$repo_dir"
    log "ruff check"
    "$venv/bin/ruff" check .
    log "ruff format --check"
    "$venv/bin/ruff" format --check .
    log "mypy"
    "$venv/bin/mypy"
    local status=0
    log "pytest -m 'not faults'"
    run_pytest -m "not faults" "$@" || status=$?
    # The fault-injection suite kills and restarts servers and processes of
    # its own (never the shared ones), so it runs as a step of its own. It
    # runs even after failures above, and the command fails if either did.
    log "pytest -m faults (fault-injection suite)"
    run_pytest -m faults "$@" || status=$?
    return "$status"
}

# pytest, where a selection (-k) that leaves no test in one step is no error.
run_pytest() {
    local status=0
    "$venv/bin/pytest" "$@" || status=$?
    if [[ $status == 5 ]]; then
        log "no tests selected in this step"
        return 0
    fi
    return "$status"
}

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case ${1:-} in
    demo) setup; shift; exec "$venv/bin/retail-hub" demo "$@" ;;
    test) setup; shift; run_tests "$@" ;;
    setup) setup ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
