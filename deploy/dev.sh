#!/usr/bin/env bash
# Set up retail-hub on a development or CI machine and run it.
#
#   deploy/dev.sh demo    set up everything, then run the demo
#   deploy/dev.sh test    set up everything, then run the linters, the type
#                         check and the test suite (extra arguments go to pytest)
#   deploy/dev.sh setup   only set up: the virtual environment and the servers
#
# Setting up creates .venv/ with the project installed in editable mode and
# starts RabbitMQ and FerretDB through deploy/services.sh (root is needed the
# first time, to install RabbitMQ). Each step is skipped when already done.
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
    wanted=$(sha256sum "$repo_dir/pyproject.toml" | cut -d' ' -f1)
    if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
        log "installing retail-hub and its dependencies into $venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -e "$repo_dir[dev]"
        echo "$wanted" >"$stamp"
    fi
}

setup() {
    setup_venv
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
    log "pytest"
    "$venv/bin/pytest" "$@"
}

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case ${1:-} in
    demo) setup; shift; exec "$venv/bin/retail-hub" demo "$@" ;;
    test) setup; shift; run_tests "$@" ;;
    setup) setup ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
