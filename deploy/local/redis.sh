#!/usr/bin/env bash
# A real Redis (Debian's redis-server) on loopback, append-only persistence in
# $SIGAP_DATA_DIR/redis, without Docker.
#
#   redis.sh start    install redis-server when missing, start, wait for PONG
#   redis.sh stop     redis-cli shutdown (falls back to the pid)
#   redis.sh status   exit 0 when something answers PONG on the port, 3 otherwise
#   redis.sh owned    exit 0 when the Redis answering is the one this script started (its pid file in
#                     $SIGAP_DATA_DIR/redis), 3 otherwise: only that one may get ACL users (redis-acl.sh)
#
# Environment: see deploy/local/README.md.
set -euo pipefail

_sigap_tag="redis"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

REDIS_URL="${SIGAP_REDIS_URL:-redis://127.0.0.1:6379/0}"
# redis://[user[:password]@]host[:port][/db]
_rest="${REDIS_URL#*://}"
_rest="${_rest##*@}"
_rest="${_rest%%/*}"
_rest="${_rest%%\?*}"
split_hostport "$_rest" 6379
REDIS_HOST="$_host"
REDIS_PORT="$_port"
[[ "$REDIS_HOST" == localhost ]] && REDIS_HOST=127.0.0.1
REDIS_DIR="$SIGAP_DATA_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_START_TIMEOUT="${SIGAP_REDIS_START_TIMEOUT:-30}"

check_loopback() {
  is_loopback "$REDIS_HOST" ||
    die "SIGAP_REDIS_URL host '$REDIS_HOST' is not a loopback address; this Redis binds to loopback only"
  [[ "$REDIS_PORT" =~ ^[0-9]+$ ]] || die "bad port in SIGAP_REDIS_URL='$REDIS_URL'"
}

ping() {
  command -v redis-cli >/dev/null 2>&1 || return 1
  [[ "$(timeout 5 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

port_open() { (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT") 2>/dev/null; }

our_pid() {
  local pid
  pid="$(read_pid "$REDIS_PIDFILE")"
  if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmd_has "$pid" redis-server; then
    printf '%s\n' "$pid"
  fi
}

# Debian's postinst may start the packaged service on 6379 right away (where
# init scripts are allowed to run); stop it so our own instance (append-only,
# data in $SIGAP_DATA_DIR/redis) can take the port.
stop_packaged_service() {
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    as_root systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif [[ -x /etc/init.d/redis-server ]]; then
    as_root /etc/init.d/redis-server stop >/dev/null 2>&1 || true
  fi
}

ensure_installed() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 ||
    missing "redis-server (and apt-get is not available to install it; install Redis 7+ by hand)"
  info "redis-server not found; installing Debian's redis-server with apt-get ..."
  local t0
  t0="$(now)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -qq -o Dpkg::Use-Pty=0 redis-server >&2; then
    info "apt-get install failed; running apt-get update and trying again"
    as_root apt-get update -q >&2 || true
    as_root apt-get install -y -qq -o Dpkg::Use-Pty=0 redis-server >&2 ||
      missing "redis-server (apt-get install -y redis-server failed)"
  fi
  command -v redis-server >/dev/null 2>&1 || missing "redis-server (not on PATH after apt-get install)"
  info "installed $(redis-server --version | cut -d' ' -f1-3) in $(elapsed "$t0")s"
  stop_packaged_service
}

cmd_start() {
  check_loopback
  local pid t0 i
  # One start at a time for this data dir (fd 9 is closed for redis-server).
  mkdir -p "$REDIS_DIR"
  exec 9>"$REDIS_DIR/.start.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  pid="$(our_pid)"
  if ping; then
    if [[ -n "$pid" ]]; then
      info "already running and answering PONG on $REDIS_HOST:$REDIS_PORT (pid $pid)"
    else
      info "a Redis not started by this script already answers PONG on $REDIS_HOST:$REDIS_PORT; using it"
    fi
    return 0
  fi
  ensure_installed
  if ping; then
    info "a Redis not started by this script already answers PONG on $REDIS_HOST:$REDIS_PORT; using it"
    return 0
  fi
  if [[ -n "$pid" ]]; then
    die "redis-server pid $pid is alive but does not answer on port $REDIS_PORT; log: $REDIS_LOG"
  fi
  port_open && die "port $REDIS_PORT on $REDIS_HOST is in use by something that does not answer PING"
  rm -f "$REDIS_PIDFILE"
  mkdir -p "$REDIS_DIR"
  t0="$(now)"
  info "starting redis-server on $REDIS_HOST:$REDIS_PORT (data $REDIS_DIR)"
  # --daemonize forks and detaches; redis writes its own pid file.
  if ! redis-server --port "$REDIS_PORT" --bind "$REDIS_HOST" --protected-mode yes \
      --appendonly yes --dir "$REDIS_DIR" \
      --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" </dev/null 9>&-; then
    show_log_tail "$REDIS_LOG"
    die "redis-server failed to start"
  fi
  for ((i = 0; i < REDIS_START_TIMEOUT * 10; i++)); do
    if ping; then
      info "Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') answers PONG on $REDIS_HOST:$REDIS_PORT (pid $(read_pid "$REDIS_PIDFILE"), ready in $(elapsed "$t0")s)"
      return 0
    fi
    sleep 0.1
  done
  show_log_tail "$REDIS_LOG"
  die "redis-server did not answer PONG on $REDIS_HOST:$REDIS_PORT within ${REDIS_START_TIMEOUT}s"
}

cmd_stop() {
  local pid i
  pid="$(our_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$REDIS_PIDFILE"
    if ping; then
      info "the Redis on $REDIS_HOST:$REDIS_PORT was not started by this script (no live pid in $REDIS_PIDFILE); leaving it alone"
    else
      info "not running"
    fi
    return 0
  fi
  info "stopping redis-server (pid $pid) ..."
  if command -v redis-cli >/dev/null 2>&1; then
    timeout 30 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    for ((i = 0; i < 150; i++)); do
      pid_alive "$pid" || break
      sleep 0.2
    done
  fi
  if pid_alive "$pid"; then
    warn "redis-cli shutdown did not stop pid $pid; signalling it"
    stop_pid "$pid" redis-server 30
  fi
  rm -f "$REDIS_PIDFILE"
  info "stopped"
}

cmd_status() {
  local pid
  pid="$(our_pid)"
  if ping; then
    if [[ -n "$pid" ]]; then
      info "running and answering PONG on $REDIS_HOST:$REDIS_PORT (pid $pid, data $REDIS_DIR)"
    else
      info "a Redis not started by this script answers PONG on $REDIS_HOST:$REDIS_PORT"
    fi
    return 0
  elif [[ -n "$pid" ]]; then
    info "process running (pid $pid) but not answering on $REDIS_HOST:$REDIS_PORT; log: $REDIS_LOG"
    return 3
  fi
  info "not running"
  return 3
}

cmd_owned() {
  [[ -n "$(our_pid)" ]] && ping
}

case "${1:-}" in
  start) cmd_start ;;
  owned) cmd_owned || exit 3 ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  *) printf 'usage: %s start|stop|restart|status|owned\n' "$0" >&2; exit 64 ;;
esac
