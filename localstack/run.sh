#!/usr/bin/env bash
# make localstack-test: runs the tests marked localstack against LocalStack at
# $LOCALSTACK_ENDPOINT (default http://localhost:4566). When nothing answers there, starts
# localstack-core in host mode (no Docker) from its own Python 3.13 venv, .localstack-venv/,
# installed from localstack/requirements.txt and reinstalled only when that file changes, and
# stops it when the tests end, pass or fail. Its log is .localstack/localstack.log, printed
# in part when a test fails. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

ENDPOINT=${LOCALSTACK_ENDPOINT:-http://localhost:4566}
PYTHON313=${LOCALSTACK_PYTHON:-python3.13}
VENV=.localstack-venv
STATE=$PWD/.localstack        # LocalStack's files, its log, and the Step Functions mocks
LOG=$STATE/localstack.log
export LOCALSTACK_ENDPOINT=$ENDPOINT
export DOCFLOW_SFN_MOCK_CONFIG=${DOCFLOW_SFN_MOCK_CONFIG:-$STATE/sfn-mock-config.json}

answers() { curl -sf -o /dev/null --max-time 2 "$ENDPOINT/_localstack/health"; }

# pyenv's shim for python3.13 works only when 3.13 is among the selected versions: ask pyenv
# for the interpreter itself when it has one.
python313() {
    if command -v pyenv >/dev/null && pyenv prefix 3.13 >/dev/null 2>&1; then
        echo "$(pyenv prefix 3.13)/bin/python3.13"
    else
        command -v "$PYTHON313"
    fi
}

install() {
    if [ -f $VENV/.installed ] && cmp -s localstack/requirements.txt $VENV/.installed; then
        return
    fi
    echo "localstack: installing localstack-core into $VENV (the first time, a minute or two; pip's log in $STATE/pip.log)…"
    local python began=$SECONDS
    python=$(python313) || { echo "localstack: needs Python 3.13 (set LOCALSTACK_PYTHON)" >&2; exit 1; }
    rm -rf $VENV
    "$python" -m venv $VENV
    $VENV/bin/python -m pip install -q --disable-pip-version-check -r localstack/requirements.txt >"$STATE/pip.log" 2>&1 \
        || { tail -n 30 "$STATE/pip.log" >&2; exit 1; }
    cp localstack/requirements.txt $VENV/.installed
    echo "localstack: installed in $((SECONDS - began)) s"
}

started=""
stop() {
    if [ -n "$started" ]; then
        kill "$started" 2>/dev/null || true
        # Its shutdown can hang (seen with CloudWatch alarms scheduled): 10 s, then SIGKILL.
        for _ in $(seq 1 50); do kill -0 "$started" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$started" 2>/dev/null || true
        wait "$started" 2>/dev/null || true
        echo "localstack: stopped (log: $LOG)"
    fi
}
trap stop EXIT

mkdir -p "$STATE"
if answers; then
    echo "localstack: using the LocalStack at $ENDPOINT (its SFN_MOCK_CONFIG must read $DOCFLOW_SFN_MOCK_CONFIG)"
else
    case "$ENDPOINT" in
        http://localhost:* | http://127.0.0.1:*) ;;
        *) echo "localstack: nothing answers at $ENDPOINT, and only a local one can be started" >&2; exit 1 ;;
    esac
    install
    rm -rf "$STATE/fs"
    began=$SECONDS
    # Host mode: no Docker; state in .localstack/fs, none kept between runs; Step Functions
    # reads its mocked task results from the file the tests write (SFN_MOCK_CONFIG).
    OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$STATE/fs" GATEWAY_LISTEN="127.0.0.1:${ENDPOINT##*:}" PERSISTENCE=0 \
        SFN_MOCK_CONFIG="$DOCFLOW_SFN_MOCK_CONFIG" $VENV/bin/python -m localstack.runtime.main >"$LOG" 2>&1 &
    started=$!
    for _ in $(seq 1 300); do
        answers && break
        kill -0 "$started" 2>/dev/null || { echo "localstack: exited at start:" >&2; tail -n 40 "$LOG" >&2; exit 1; }
        sleep 0.2
    done
    answers || { echo "localstack: not ready after 60 s:" >&2; tail -n 40 "$LOG" >&2; exit 1; }
    echo "localstack: localstack-core ready in host mode at $ENDPOINT in $((SECONDS - began)) s (pid $started, log $LOG)"
fi

status=0
.venv/bin/python -m pytest -m localstack "$@" || status=$?
if [ $status -ne 0 ] && [ -n "$started" ]; then
    echo "localstack: the tests failed; the end of LocalStack's log ($LOG):"
    tail -n 80 "$LOG"
fi
exit $status
