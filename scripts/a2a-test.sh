#!/usr/bin/env bash
# End-to-end test of the A2A gateway (`colony a2a`) with the official A2A Python SDK.
#
# Starts `colony serve` (the debug binary) on a free loopback port with a temporary data directory,
# registers a funded manager and two workers offering `dex.scan` through the CLI, starts `colony a2a`
# for the manager with a bearer token (`--token-file`), and runs tests/a2a/test_gateway.py: the card
# through the SDK's resolver, requests without the token refused, what a web page could send refused, then, with the token, a message
# announced as a task, the task carried out by the workers through the CLI and followed over a
# subscription, read back completed with its result, a second task cancelled, an unknown task.
#
# Needs Python 3 with venv, and PyPI on the first run (the SDK is installed, pinned, into
# target/a2a-venv, which later runs reuse). Fails on any error; stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

A2A_SDK_VERSION=1.3.0
VENV=target/a2a-venv
COLONY=target/debug/colony

run() {
    printf '+ %s\n' "$*" >&2
    "$@"
}

# shellcheck source=lib/python.sh
source scripts/lib/python.sh
require_python_venv "the A2A test"
installed=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("a2a-sdk"))' 2>/dev/null || true)
if [[ "$installed" != "$A2A_SDK_VERSION" ]]; then
    run python3 -m venv "$VENV"
    run "$VENV/bin/pip" install --quiet --disable-pip-version-check "a2a-sdk==$A2A_SDK_VERSION"
fi
# As in api-fuzz.sh: the suite's test step has just built the binary.
if [[ -z "${COLONY_BINARY_BUILT:-}" || ! -x "$COLONY" ]]; then
    run cargo build --locked -p colony
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/colony-a2a.XXXXXX")
SERVER_PID=""
GATEWAY_PID=""
stop() {
    if [[ -n "$1" ]]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}
cleanup() {
    stop "$GATEWAY_PID"
    stop "$SERVER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT

# Waits until the log `$2` of process `$1` names the URL it listens on (printed after `$3`), and
# prints that URL. Port 0: the kernel picks a free port, and each process prints what it bound.
listening_url() {
    local pid=$1 log=$2 prefix=$3 url=""
    for _ in $(seq 1 200); do
        url=$(grep -o "$prefix http://127\.0\.0\.1:[0-9]*" "$log" | head -n 1 | sed "s/^$prefix //") || true
        if [[ -n "$url" ]]; then
            echo "$url"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            echo "$log: the process exited before it listened" >&2
            return 1
        fi
        sleep 0.1
    done
    cat "$log" >&2
    echo "$log: no address reported" >&2
    return 1
}

printf '+ %s\n' "$COLONY serve --data $WORK/data --listen 127.0.0.1:0 --log warn" >&2
"$COLONY" serve --data "$WORK/data" --listen 127.0.0.1:0 --log warn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
SERVER_URL=$(listening_url "$SERVER_PID" "$WORK/server.log" "listening on")
echo "server: $SERVER_URL (data $WORK/data)"

colony() { run "$COLONY" --server "$SERVER_URL" "$@" >/dev/null; }
colony keygen --signer manager --out "$WORK/manager.key"
colony agent register --role orchestrator --key "$WORK/manager.key"
for worker in worker-a worker-b; do
    colony keygen --signer "$worker" --out "$WORK/$worker.key"
    colony agent register --role analyst --capability dex.scan --key "$WORK/$worker.key"
done
colony mint --to manager --amount 1000000 --id a2a-funding --key "$WORK/data/operator.key"

# The token file must be its owner's only, or the gateway refuses it.
GATEWAY_TOKEN=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')
(umask 077 && printf '%s\n' "$GATEWAY_TOKEN" >"$WORK/gateway.token")

printf '+ %s\n' "$COLONY a2a --key $WORK/manager.key --server $SERVER_URL --listen 127.0.0.1:0 --token-file $WORK/gateway.token" >&2
"$COLONY" a2a --key "$WORK/manager.key" --server "$SERVER_URL" --listen 127.0.0.1:0 \
    --token-file "$WORK/gateway.token" >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
GATEWAY_URL=$(listening_url "$GATEWAY_PID" "$WORK/gateway.log" "listening on")
echo "gateway: $GATEWAY_URL"

GATEWAY_URL="$GATEWAY_URL" GATEWAY_TOKEN="$GATEWAY_TOKEN" SERVER_URL="$SERVER_URL" COLONY="$COLONY" KEYS="$WORK" \
    run "$VENV/bin/python" tests/a2a/test_gateway.py || {
    echo "--- gateway log:" >&2
    cat "$WORK/gateway.log" >&2
    exit 1
}
