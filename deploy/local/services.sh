#!/usr/bin/env bash
# Start, stop or show the Sigap services on this machine, in the background:
#
#   bash deploy/local/services.sh start    dispatcher worker(s), notifier, gateway; demo roster; URLs & keys
#   bash deploy/local/services.sh stop     SIGTERM, wait, SIGKILL what is left
#   bash deploy/local/services.sh status
#
# Pid files and logs live in ${SIGAP_DATA_DIR:-.data}/run/. Idempotent: a running service is left alone.
# Kafka and Redis are expected up already (`make up` runs deploy/local/up-infra.sh first).
# One owner per key space (DESIGN.md §1): on the Redis deploy/local/redis.sh started, `start` applies the
# services' ACL users (deploy/local/redis-acl.sh) and starts each service as its own user; a Redis
# started by something else keeps its ACL (then each service uses SIGAP_REDIS_USER_/PASSWORD_<SERVICE>
# from the environment, or the credentials of SIGAP_REDIS_URL).
#
#   SIGAP_DISPATCHER_WORKERS   dispatcher worker processes (default 1); worker i listens on
#                              SIGAP_DISPATCHER_PORT + 10*(i-1) (default 6066, 6076, …)
#   SIGAP_NOTIFIER_PORT        the notifier's web port (default 6067)
#   SIGAP_HTTP_HOST/PORT       the gateway (default 127.0.0.1:8080)
#   SIGAP_SKIP_DEMO_ROSTER=1   do not load the demo roster
set -euo pipefail
_sigap_tag=services
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

RUN_DIR="$SIGAP_DATA_DIR/run"
PY="$SIGAP_ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY="$(command -v python3)"
HTTP_HOST="${SIGAP_HTTP_HOST:-127.0.0.1}"
HTTP_PORT="${SIGAP_HTTP_PORT:-8080}"
DISPATCHER_PORT="${SIGAP_DISPATCHER_PORT:-6066}"
NOTIFIER_PORT="${SIGAP_NOTIFIER_PORT:-6067}"
WORKERS="${SIGAP_DISPATCHER_WORKERS:-1}"
WAIT_S="${SIGAP_START_TIMEOUT_S:-90}"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || die "SIGAP_DISPATCHER_WORKERS must be a positive number (got '$WORKERS')"

has_module() {  # has_module services.dispatcher -> 0 when `python -m` can run it
  "$PY" - "$1" <<'EOF' 2>/dev/null
import importlib.util, sys
name = sys.argv[1]
try:
    ok = importlib.util.find_spec(name) is not None and importlib.util.find_spec(name + ".__main__") is not None
except ImportError:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

pid_of() { local f="$RUN_DIR/$1.pid"; [[ -f "$f" ]] && cat "$f" || true; }

running() { pid_alive "$(pid_of "$1")"; }

# http_up URL -> 0 when something answers HTTP there (any status but a connection failure)
http_up() {
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)"
  [[ -n "$code" && "$code" != 000 ]]
}

# http_ok URL -> 0 when it answers 200
http_ok() { [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)" == 200 ]]; }

# start_service NAME HEALTH_URL ENV... -- ARGS...
start_service() {
  local name="$1" url="$2"; shift 2
  local envs=()
  while [[ "$1" != -- ]]; do envs+=("$1"); shift; done
  shift
  local log="$RUN_DIR/$name.log"
  if running "$name"; then
    info "$name already running (pid $(pid_of "$name"))"
    return 0
  fi
  if http_up "$url"; then
    die "$name: something else already answers on $url; stop it or change the port"
  fi
  printf '\n=== %s start %s ===\n' "$name" "$(date -Is)" >>"$log"
  (
    cd "$SIGAP_ROOT"
    env "${envs[@]}" setsid nohup "$PY" "$@" >>"$log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$name.pid"
  )
  info "$name started (pid $(pid_of "$name")), log $log"
}

wait_healthy() {  # wait_healthy NAME URL
  local name="$1" url="$2" t0
  t0="$(now)"
  while ! http_ok "$url"; do
    if ! running "$name"; then
      warn "$name exited during start; last lines of $RUN_DIR/$name.log:"
      tail -n 30 "$RUN_DIR/$name.log" >&2 || true
      return 1
    fi
    if awk -v a="$t0" -v b="$(now)" -v w="$WAIT_S" 'BEGIN { exit !(b - a > w) }'; then
      warn "$name did not answer on $url within ${WAIT_S}s; last lines of $RUN_DIR/$name.log:"
      tail -n 30 "$RUN_DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 0.3
  done
  info "$name healthy on $url ($(elapsed "$t0")s)"
}

stop_service() {
  local name="$1" pid
  pid="$(pid_of "$name")"
  if ! pid_alive "$pid"; then
    rm -f "$RUN_DIR/$name.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do  # up to 20 s for a clean shutdown (faust commits offsets, uvicorn drains)
    pid_alive "$pid" || break
    sleep 0.2
  done
  if pid_alive "$pid"; then
    warn "$name (pid $pid) ignored SIGTERM for 20s; SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$name.pid"
  info "$name stopped"
}

ACL_ENV=()
# redis_users: apply the ACL users on our own Redis and keep each service's SIGAP_REDIS_USER_/PASSWORD_
redis_users() {
  if bash "$SIGAP_ROOT/deploy/local/redis.sh" owned >/dev/null 2>&1; then
    SIGAP_PYTHON="$PY" bash "$SIGAP_ROOT/deploy/local/redis-acl.sh" apply
    mapfile -t ACL_ENV < <(SIGAP_PYTHON="$PY" bash "$SIGAP_ROOT/deploy/local/redis-acl.sh" env)
  else
    warn "the Redis at ${SIGAP_REDIS_URL:-redis://127.0.0.1:6379/0} was not started by deploy/local/redis.sh: its ACL users are not set here"
  fi
}

acl_env_of() {  # acl_env_of SERVICE -> that service's SIGAP_REDIS_USER_/PASSWORD_ lines
  local upper line
  upper="$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')"
  for line in "${ACL_ENV[@]}"; do
    [[ "$line" == SIGAP_REDIS_USER_"$upper"=* || "$line" == SIGAP_REDIS_PASSWORD_"$upper"=* ]] && printf '%s\n' "$line"
  done
  return 0
}

dispatcher_names() { local i; for i in $(seq 1 "$WORKERS"); do echo "dispatcher-$i"; done; }
dispatcher_port() { echo $((DISPATCHER_PORT + 10 * ($1 - 1))); }

cmd_start() {
  mkdir -p "$RUN_DIR"
  local failed=0 skipped=() i port
  local dispatcher_acl=() notifier_acl=() gateway_acl=()
  redis_users
  mapfile -t dispatcher_acl < <(acl_env_of dispatcher)
  mapfile -t notifier_acl < <(acl_env_of notifier)
  mapfile -t gateway_acl < <(acl_env_of gateway)
  if has_module services.dispatcher; then
    for i in $(seq 1 "$WORKERS"); do
      port="$(dispatcher_port "$i")"
      # each worker keeps its faust state apart (two workers must not share a data directory)
      mkdir -p "$SIGAP_DATA_DIR/dispatcher-$i/faust"
      start_service "dispatcher-$i" "http://127.0.0.1:$port/healthz" \
        "SIGAP_DISPATCHER_PORT=$port" "SIGAP_DATA_DIR=$SIGAP_DATA_DIR/dispatcher-$i" "${dispatcher_acl[@]}" -- \
        -m services.dispatcher worker -l info
    done
  else
    skipped+=(dispatcher)
  fi
  if has_module services.notifier; then
    mkdir -p "$SIGAP_DATA_DIR/notifier/faust"
    start_service notifier "http://127.0.0.1:$NOTIFIER_PORT/healthz" \
      "SIGAP_NOTIFIER_PORT=$NOTIFIER_PORT" "SIGAP_DATA_DIR=$SIGAP_DATA_DIR/notifier" "${notifier_acl[@]}" -- \
      -m services.notifier worker -l info
  else
    skipped+=(notifier)
  fi
  start_service gateway "http://$HTTP_HOST:$HTTP_PORT/healthz" "SIGAP_DATA_DIR=$SIGAP_DATA_DIR" "${gateway_acl[@]}" -- \
    -m services.gateway

  if has_module services.dispatcher; then
    for i in $(seq 1 "$WORKERS"); do
      wait_healthy "dispatcher-$i" "http://127.0.0.1:$(dispatcher_port "$i")/healthz" || failed=1
    done
  fi
  if has_module services.notifier; then
    wait_healthy notifier "http://127.0.0.1:$NOTIFIER_PORT/healthz" || failed=1
  fi
  wait_healthy gateway "http://$HTTP_HOST:$HTTP_PORT/healthz" || failed=1
  for name in "${skipped[@]}"; do
    warn "services.$name is not installed in this tree yet: not started"
  done
  [[ "$failed" == 0 ]] || die "some services did not start (logs in $RUN_DIR); 'make down' stops the rest"

  if [[ "${SIGAP_SKIP_DEMO_ROSTER:-0}" != 1 ]]; then
    "$PY" -m services.cli demo-roster load || warn "the demo roster did not load (see above)"
  fi
  echo
  echo "Sigap is up."
  "$PY" -m services.cli info
  echo "logs:    $RUN_DIR/*.log    stop: make down"
}

cmd_stop() {
  local name
  [[ -d "$RUN_DIR" ]] || { info "nothing to stop"; return 0; }
  stop_service gateway
  stop_service notifier
  for f in "$RUN_DIR"/dispatcher-*.pid; do
    [[ -e "$f" ]] || continue
    name="$(basename "$f" .pid)"
    stop_service "$name"
  done
}

cmd_status() {
  local name state
  for name in $(dispatcher_names) notifier gateway; do
    if running "$name"; then
      state="running (pid $(pid_of "$name"))"
    else
      state="stopped"
    fi
    printf '%-14s %s\n' "$name" "$state"
  done
  if http_up "http://$HTTP_HOST:$HTTP_PORT/readyz"; then
    printf '%-14s %s\n' readyz "$(curl -s -m 5 "http://$HTTP_HOST:$HTTP_PORT/readyz")"
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart) cmd_stop; cmd_start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
