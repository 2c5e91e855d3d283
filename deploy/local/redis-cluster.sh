#!/usr/bin/env bash
# A real three-node Redis Cluster (Debian's redis-server, `--cluster-enabled yes` x3 joined with
# `redis-cli --cluster create`) on loopback, for running the dispatcher against RedisCluster.
#
#   redis-cluster.sh start    start the three nodes, create the cluster, wait for cluster_state:ok
#   redis-cluster.sh stop     shut the three nodes down and forget the cluster (its data is scratch)
#   redis-cluster.sh status   exit 0 when the cluster answers cluster_state:ok, 3 otherwise
#
# Environment: SIGAP_REDIS_CLUSTER_PORTS (default "7101 7102 7103"); data in
# $SIGAP_DATA_DIR/redis-cluster/<port>. No replicas, no persistence: a test fixture, not a deployment.
set -euo pipefail

_sigap_tag="redis-cluster"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

read -r -a PORTS <<<"${SIGAP_REDIS_CLUSTER_PORTS:-7101 7102 7103}"
[[ ${#PORTS[@]} -eq 3 ]] || die "SIGAP_REDIS_CLUSTER_PORTS must name three ports"
HOST=127.0.0.1
BASE="$SIGAP_DATA_DIR/redis-cluster"

cli() { timeout 10 redis-cli -h "$HOST" -p "$1" "${@:2}"; }

cluster_ok() { [[ "$(cli "${PORTS[0]}" cluster info 2>/dev/null | tr -d '\r' | grep '^cluster_state:')" == "cluster_state:ok" ]]; }

cmd_start() {
  command -v redis-server >/dev/null 2>&1 || missing "redis-server (run deploy/local/redis.sh start once: it installs it)"
  if cluster_ok; then
    info "already running: cluster_state:ok on ports ${PORTS[*]}"
    return 0
  fi
  local port t0 i
  t0="$(now)"
  for port in "${PORTS[@]}"; do
    mkdir -p "$BASE/$port"
    if [[ "$(cli "$port" ping 2>/dev/null)" == PONG ]]; then
      die "port $port already answers PING but the cluster is not ok; run '$0 stop' first"
    fi
    rm -f "$BASE/$port/nodes.conf"
    redis-server --port "$port" --bind "$HOST" --protected-mode yes \
      --cluster-enabled yes --cluster-config-file "$BASE/$port/nodes.conf" --cluster-node-timeout 5000 \
      --appendonly no --save '' --dir "$BASE/$port" \
      --daemonize yes --pidfile "$BASE/$port/redis.pid" --logfile "$BASE/$port/redis.log" </dev/null
  done
  for port in "${PORTS[@]}"; do
    for ((i = 0; i < 100; i++)); do
      [[ "$(cli "$port" ping 2>/dev/null)" == PONG ]] && break
      sleep 0.1
    done
  done
  local nodes=()
  for port in "${PORTS[@]}"; do nodes+=("$HOST:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$BASE/create.log" 2>&1 ||
    { cat "$BASE/create.log" >&2; die "redis-cli --cluster create failed"; }
  for ((i = 0; i < 300; i++)); do
    if cluster_ok; then
      info "Redis Cluster of three nodes on ${PORTS[*]} ready in $(elapsed "$t0")s"
      return 0
    fi
    sleep 0.1
  done
  die "the cluster did not reach cluster_state:ok; logs in $BASE/*/redis.log"
}

cmd_stop() {
  local port pid
  for port in "${PORTS[@]}"; do
    pid="$(read_pid "$BASE/$port/redis.pid")"
    if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmd_has "$pid" redis-server; then
      cli "$port" shutdown nosave >/dev/null 2>&1 || stop_pid "$pid" redis-server 10
    fi
    rm -rf "${BASE:?}/$port"
  done
  info "stopped"
}

cmd_status() {
  if cluster_ok; then
    info "cluster_state:ok on ports ${PORTS[*]}"
    return 0
  fi
  info "not running"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) printf 'usage: %s start|stop|status\n' "$0" >&2; exit 64 ;;
esac
