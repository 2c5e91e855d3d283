#!/usr/bin/env bash
# Redis that fails over, on loopback, without Docker: one primary and two
# replicas (Debian's redis-server, append-only) watched by three Sentinels.
# Started on demand (fault tests, `make faults`); `make up` keeps one Redis.
#
#   sentinel.sh start          start the three nodes and three sentinels, wait until the primary is known
#   sentinel.sh stop           stop them (the data stays in $SIGAP_DATA_DIR/sentinel)
#   sentinel.sh status         the primary the sentinels name; exit 3 when they name none
#   sentinel.sh primary        print the primary's host:port
#   sentinel.sh kill-primary   SIGKILL the current primary (fault tests); prints its node number
#   sentinel.sh start-node N   start node N again (after kill-primary); the sentinels make it a replica
#   sentinel.sh restart-node N shutdown (AOF kept) and start node N
#
# Environment:
#   SIGAP_SENTINEL_REDIS_PORT   first node's port (default 6380; nodes on it, +1, +2)
#   SIGAP_SENTINEL_PORT         first sentinel's port (default 26379; sentinels on it, +1, +2)
#   SIGAP_REDIS_SENTINEL_MASTER the monitored primary's name (default sigap)
#   SIGAP_SENTINEL_DOWN_AFTER_MS how long a silent primary takes to be declared down (default 2000)
# Services use it with SIGAP_REDIS_SENTINELS=127.0.0.1:<port>,… (`sentinel.sh start` prints the value).
set -euo pipefail

_sigap_tag="sentinel"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

NODE_PORT="${SIGAP_SENTINEL_REDIS_PORT:-6380}"
SENTINEL_PORT="${SIGAP_SENTINEL_PORT:-26379}"
MASTER="${SIGAP_REDIS_SENTINEL_MASTER:-sigap}"
DOWN_AFTER_MS="${SIGAP_SENTINEL_DOWN_AFTER_MS:-2000}"
HOST=127.0.0.1
BASE="$SIGAP_DATA_DIR/sentinel"
START_TIMEOUT="${SIGAP_REDIS_START_TIMEOUT:-30}"
[[ "$NODE_PORT" =~ ^[0-9]+$ && "$SENTINEL_PORT" =~ ^[0-9]+$ ]] || die "ports must be numbers"
[[ "$MASTER" =~ ^[A-Za-z0-9_-]+$ ]] || die "SIGAP_REDIS_SENTINEL_MASTER must be a plain name"

node_port() { echo $((NODE_PORT + $1 - 1)); }
sentinel_port() { echo $((SENTINEL_PORT + $1 - 1)); }
cli() { timeout 5 redis-cli -h "$HOST" -p "$1" "${@:2}" 2>/dev/null; }
ping() { [[ "$(cli "$1" ping)" == PONG ]]; }

ensure_installed() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  missing "redis-server (deploy/local/redis.sh start installs it, or apt-get install redis-server)"
}

sentinels_list() {
  local i out=""
  for i in 1 2 3; do out+="${out:+,}$HOST:$(sentinel_port "$i")"; done
  echo "$out"
}

write_node_conf() {  # write_node_conf N  (once: sentinels rewrite it at failover)
  local n="$1" dir="$BASE/node-$1"
  mkdir -p "$dir"
  [[ -f "$dir/redis.conf" ]] && return 0
  {
    echo "port $(node_port "$n")"
    echo "bind $HOST"
    echo "protected-mode yes"
    echo "dir $dir"
    echo "appendonly yes"
    echo "daemonize yes"
    echo "pidfile $dir/redis.pid"
    echo "logfile $dir/redis.log"
    echo "repl-diskless-sync-delay 0"  # a new replica gets its copy at once, not after 5 s
    ((n == 1)) || echo "replicaof $HOST $(node_port 1)"
  } >"$dir/redis.conf"
}

write_sentinel_conf() {  # write_sentinel_conf N  (once: a sentinel keeps its state in it)
  local n="$1" dir="$BASE/sentinel-$1"
  mkdir -p "$dir"
  [[ -f "$dir/sentinel.conf" ]] && return 0
  {
    echo "port $(sentinel_port "$n")"
    echo "bind $HOST"
    echo "dir $dir"
    echo "daemonize yes"
    echo "pidfile $dir/sentinel.pid"
    echo "logfile $dir/sentinel.log"
    echo "sentinel resolve-hostnames no"
    echo "sentinel monitor $MASTER $HOST $(node_port 1) 2"
    echo "sentinel down-after-milliseconds $MASTER $DOWN_AFTER_MS"
    echo "sentinel failover-timeout $MASTER 10000"
    echo "sentinel parallel-syncs $MASTER 1"
  } >"$dir/sentinel.conf"
}

wait_pong() {  # wait_pong PORT NAME
  local i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    ping "$1" && return 0
    sleep 0.1
  done
  die "$2 did not answer PONG on $HOST:$1 within ${START_TIMEOUT}s"
}

# start_server KIND N PORT CONF [ARGS] -> starts a node or a sentinel unless one answers on PORT
start_server() {
  local what="$1 $2" port="$3" conf="$4"
  if ping "$port"; then return 0; fi
  redis-server "$conf" "${@:5}" </dev/null >/dev/null || die "$what did not start (log: ${conf%/*}/*.log)"
  wait_pong "$port" "$what"
}

start_node() {
  write_node_conf "$1"
  start_server node "$1" "$(node_port "$1")" "$BASE/node-$1/redis.conf"
}

start_sentinel() {
  write_sentinel_conf "$1"
  start_server sentinel "$1" "$(sentinel_port "$1")" "$BASE/sentinel-$1/sentinel.conf" --sentinel
}

# primary -> host:port the sentinels name (empty when none answers)
primary() {
  local i addr
  for i in 1 2 3; do
    addr="$(cli "$(sentinel_port "$i")" sentinel get-master-addr-by-name "$MASTER" | paste -sd: -)"
    [[ -n "$addr" ]] && { echo "$addr"; return 0; }
  done
  return 1
}

# replicas_in_sync -> how many nodes are replicas whose link to their primary is up
replicas_in_sync() {
  local i count=0
  for i in 1 2 3; do
    cli "$(node_port "$i")" info replication | grep -q '^master_link_status:up' && count=$((count + 1))
  done
  echo "$count"
}

node_of_port() {
  local i
  for i in 1 2 3; do [[ "$(node_port "$i")" == "$1" ]] && { echo "$i"; return 0; }; done
  return 1
}

cmd_start() {
  ensure_installed
  mkdir -p "$BASE"
  exec 9>"$BASE/.start.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  local t0 i
  t0="$(now)"
  for i in 1 2 3; do start_node "$i"; done
  for i in 1 2 3; do start_sentinel "$i"; done
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    if primary >/dev/null && [[ "$(cli "$(sentinel_port 1)" sentinel replicas "$MASTER" | grep -c '^name$')" -ge 2 ]] &&
      [[ "$(replicas_in_sync)" -ge 2 ]]; then
      info "primary $(primary) with 2 replicas, sentinels on $(sentinels_list) (ready in $(elapsed "$t0")s)"
      echo "SIGAP_REDIS_SENTINELS=$(sentinels_list) SIGAP_REDIS_SENTINEL_MASTER=$MASTER"
      return 0
    fi
    sleep 0.1
  done
  die "the sentinels did not see the primary and two replicas within ${START_TIMEOUT}s"
}

stop_pidfile() {  # stop_pidfile FILE NAME
  local pid
  pid="$(read_pid "$1")"
  if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmd_has "$pid" redis-server; then
    stop_pid "$pid" "$2" 20
  fi
  rm -f "$1"
}

cmd_stop() {
  local i
  for i in 1 2 3; do stop_pidfile "$BASE/sentinel-$i/sentinel.pid" "sentinel $i"; done
  for i in 1 2 3; do stop_pidfile "$BASE/node-$i/redis.pid" "node $i"; done
  info "stopped"
}

cmd_kill_primary() {
  local addr n pid
  addr="$(primary)" || die "no sentinel names a primary"
  n="$(node_of_port "${addr##*:}")" || die "the primary $addr is not one of this script's nodes"
  pid="$(read_pid "$BASE/node-$n/redis.pid")"
  [[ -n "$pid" ]] && pid_alive "$pid" || die "node $n (the primary) is not running"
  kill -KILL "$pid"
  info "killed (SIGKILL) the primary, node $n ($addr, pid $pid)"
  echo "$n"
}

cmd_restart_node() {
  local n="$1"
  cli "$(node_port "$n")" shutdown >/dev/null || true  # SHUTDOWN writes the AOF; the node comes back from it
  local pid i
  pid="$(read_pid "$BASE/node-$n/redis.pid")"
  for ((i = 0; i < 100; i++)); do
    [[ -n "$pid" ]] && pid_alive "$pid" || break
    sleep 0.1
  done
  start_node "$n"
}

cmd_status() {
  local addr
  if addr="$(primary)"; then
    info "primary $addr; sentinels $(sentinels_list)"
    return 0
  fi
  info "no sentinel answers"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  primary) primary ;;
  kill-primary) cmd_kill_primary ;;
  start-node) [[ "${2:-}" =~ ^[123]$ ]] || die "start-node takes 1, 2 or 3"; start_node "$2" ;;
  restart-node) [[ "${2:-}" =~ ^[123]$ ]] || die "restart-node takes 1, 2 or 3"; cmd_restart_node "$2" ;;
  *) printf 'usage: %s start|stop|status|primary|kill-primary|start-node N|restart-node N\n' "$0" >&2; exit 64 ;;
esac
