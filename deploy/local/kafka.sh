#!/usr/bin/env bash
# A real Apache Kafka 4.x broker (KRaft, broker+controller) from Maven Central
# jars, on loopback, without Docker: one node, or a cluster of
# SIGAP_KAFKA_NODES combined broker+controller nodes (node n listens on the
# bootstrap port + n-1 and the controller port + n-1, data in kafka-<n>/).
#
#   kafka.sh fetch           copy the broker's jars into the cache (once)
#   kafka.sh start           fetch, format the log dir(s) (once), start, wait until it answers
#   kafka.sh stop            SIGTERM, wait up to 30 s, then SIGKILL
#   kafka.sh status          exit 0 when running and answering, 3 otherwise
#   kafka.sh start-node N    start node N of a cluster (after kill-node), wait until it answers
#   kafka.sh kill-node N     SIGKILL node N of a cluster (fault tests)
#
# Environment: see deploy/local/README.md.
set -euo pipefail

_sigap_tag="kafka"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

KAFKA_VERSION="${SIGAP_KAFKA_VERSION:-4.4.0}"
KAFKA_JARS="$SIGAP_CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_MARKER="$KAFKA_JARS/.fetch-complete"
KAFKA_HEAP="${SIGAP_KAFKA_HEAP:-512m}"
KAFKA_START_TIMEOUT="${SIGAP_KAFKA_START_TIMEOUT:-90}"
KAFKA_NODES="${SIGAP_KAFKA_NODES:-1}"
[[ "$KAFKA_NODES" =~ ^[1-9]$ ]] || die "SIGAP_KAFKA_NODES must be 1 to 9 (got '$KAFKA_NODES')"

split_hostport "${SIGAP_KAFKA_BOOTSTRAP:-127.0.0.1:9092}" 9092
KAFKA_HOST="$_host"
[[ "$KAFKA_HOST" == localhost ]] && KAFKA_HOST=127.0.0.1
KAFKA_FIRST_PORT="$_port"
KAFKA_FIRST_CONTROLLER_PORT="${SIGAP_KAFKA_CONTROLLER_PORT:-9093}"
# Internal topics' replication: every node holds a copy up to three; a write needs all but one.
KAFKA_RF=$((KAFKA_NODES < 3 ? KAFKA_NODES : 3))
KAFKA_MIN_ISR=$((KAFKA_RF > 1 ? KAFKA_RF - 1 : 1))

# select_node N -> the KAFKA_* variables of node N (1 when there is one node)
select_node() {
  KAFKA_NODE="$1"
  KAFKA_PORT=$((KAFKA_FIRST_PORT + KAFKA_NODE - 1))
  KAFKA_CONTROLLER_PORT=$((KAFKA_FIRST_CONTROLLER_PORT + KAFKA_NODE - 1))
  KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
  if ((KAFKA_NODES == 1)); then
    KAFKA_HOME="$SIGAP_DATA_DIR/kafka"
  else
    KAFKA_HOME="$SIGAP_DATA_DIR/kafka-$KAFKA_NODE"
  fi
  KAFKA_LOG_DIR="$KAFKA_HOME/logdir"
  KAFKA_CONFIG="$KAFKA_HOME/server.properties"
  KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"
  KAFKA_LOG="$KAFKA_HOME/kafka.log"
  KAFKA_FORMAT_INFO="$KAFKA_HOME/format.info"
  _sigap_tag="kafka"
  ((KAFKA_NODES == 1)) || _sigap_tag="kafka-$KAFKA_NODE"
}
select_node 1

# the whole cluster's bootstrap list and controller quorum
cluster_bootstrap() {
  local i out=""
  for ((i = 0; i < KAFKA_NODES; i++)); do out+="${out:+,}$KAFKA_HOST:$((KAFKA_FIRST_PORT + i))"; done
  printf '%s\n' "$out"
}
quorum_voters() {
  local i out=""
  for ((i = 0; i < KAFKA_NODES; i++)); do
    out+="${out:+,}$((i + 1))@$KAFKA_HOST:$((KAFKA_FIRST_CONTROLLER_PORT + i))"
  done
  printf '%s\n' "$out"
}

check_loopback() {
  is_loopback "$KAFKA_HOST" ||
    die "SIGAP_KAFKA_BOOTSTRAP host '$KAFKA_HOST' is not a loopback address; this broker binds to loopback only"
  [[ "$KAFKA_FIRST_CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "SIGAP_KAFKA_CONTROLLER_PORT must be a port number"
  local last_port=$((KAFKA_FIRST_PORT + KAFKA_NODES - 1)) last_ctrl=$((KAFKA_FIRST_CONTROLLER_PORT + KAFKA_NODES - 1))
  if ((KAFKA_FIRST_CONTROLLER_PORT <= last_port && KAFKA_FIRST_PORT <= last_ctrl)); then
    die "broker ports $KAFKA_FIRST_PORT-$last_port and controller ports $KAFKA_FIRST_CONTROLLER_PORT-$last_ctrl overlap (set SIGAP_KAFKA_CONTROLLER_PORT)"
  fi
}

# ---------------------------------------------------------------- fetch
fetched() {
  [[ -f "$KAFKA_MARKER" ]] && compgen -G "$KAFKA_JARS/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null
}

cmd_fetch() {
  if fetched; then
    [[ "${1:-}" == quiet ]] || info "jars for Kafka $KAFKA_VERSION already in $KAFKA_JARS"
    return 0
  fi
  need_mvn
  mkdir -p "$SIGAP_CACHE_DIR"
  # One fetch at a time (up-infra.sh run twice in parallel, CI + a developer).
  exec 8>"$SIGAP_CACHE_DIR/.kafka-$KAFKA_VERSION.lock"
  if command -v flock >/dev/null 2>&1; then flock 8; fi
  if fetched; then
    info "jars for Kafka $KAFKA_VERSION already in $KAFKA_JARS"
    return 0
  fi
  local t0 tmp
  t0="$(now)"
  tmp="$KAFKA_JARS.partial.$$"
  rm -rf "$tmp"
  info "fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_JARS (first time only) ..."
  local mvnlog="$SIGAP_CACHE_DIR/kafka-$KAFKA_VERSION.mvn.log"
  if ! mvn -q -B -Dstyle.color=never -f "$SIGAP_LOCAL_DIR/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
    rm -rf "$tmp"
    sed 's/\x1b\[[0-9;]*m//g; /^[[:space:]]*$/d' "$mvnlog" | tail -n 40 >&2
    die "mvn dependency:copy-dependencies failed for org.apache.kafka:kafka_2.13:$KAFKA_VERSION (full output: $mvnlog)"
  fi
  rm -f "$mvnlog"
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "mvn ran but kafka_2.13-$KAFKA_VERSION.jar is not in $tmp"; }
  rm -rf "$KAFKA_JARS"
  mv "$tmp" "$KAFKA_JARS"
  printf 'kafka_2.13 %s\nfetched %s\n' "$KAFKA_VERSION" "$(date -u +%FT%TZ)" >"$KAFKA_MARKER"
  info "fetched $(find "$KAFKA_JARS" -name '*.jar' | wc -l) jars ($(du -sh "$KAFKA_JARS" | cut -f1)) in $(elapsed "$t0")s"
}

# ---------------------------------------------------------------- helpers
# JVM flags as in Kafka's bin/kafka-run-class.sh, with a fixed small heap.
KAFKA_JVM_OPTS=(
  -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP"
  -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
  -Dlog4j2.configurationFile="$SIGAP_LOCAL_DIR/log4j2.yaml"
  -Dkafka.logs.dir="$KAFKA_HOME"
  # The JVM expands the '<dir>/*' class path wildcard itself.
  -cp "$KAFKA_JARS/*"
)

kafka_tool() { "$JAVA" "${KAFKA_JVM_OPTS[@]}" "$@"; }

render_config() {
  local t
  t="$(<"$SIGAP_LOCAL_DIR/server.properties.template")"
  t="${t//@HOST@/"$KAFKA_HOST"}"
  t="${t//@PORT@/"$KAFKA_PORT"}"
  t="${t//@CONTROLLER_PORT@/"$KAFKA_CONTROLLER_PORT"}"
  t="${t//@LOG_DIR@/"$KAFKA_LOG_DIR"}"
  t="${t//@NODE_ID@/"$KAFKA_NODE"}"
  if ((KAFKA_NODES == 1)); then
    t="${t//@QUORUM@/"controller.quorum.bootstrap.servers=$KAFKA_HOST:$KAFKA_CONTROLLER_PORT"}"
    t="${t//@AUTO_CREATE@/true}"
  else
    t="${t//@QUORUM@/"controller.quorum.voters=$(quorum_voters)"}"
    t="${t//@AUTO_CREATE@/false}"
  fi
  t="${t//@RF@/"$KAFKA_RF"}"
  t="${t//@MIN_ISR@/"$KAFKA_MIN_ISR"}"
  mkdir -p "$KAFKA_HOME"
  printf '%s\n' "$t" >"$KAFKA_CONFIG.tmp"
  mv "$KAFKA_CONFIG.tmp" "$KAFKA_CONFIG"
}

format_once() {
  local want="host=$KAFKA_HOST controller_port=$KAFKA_CONTROLLER_PORT"
  ((KAFKA_NODES == 1)) || want="voters=$(quorum_voters)"
  if [[ -f "$KAFKA_LOG_DIR/meta.properties" ]]; then
    # format --standalone writes the controller's endpoint into the metadata
    # log; a different controller address later would not match it.
    if [[ -f "$KAFKA_FORMAT_INFO" ]] && [[ "$(head -n1 "$KAFKA_FORMAT_INFO")" != "$want" ]]; then
      die "$KAFKA_LOG_DIR was formatted with '$(head -n1 "$KAFKA_FORMAT_INFO")', now '$want'; use the old settings or remove $KAFKA_HOME to start afresh"
    fi
    return 0
  fi
  local id standalone=(--standalone) idfile="$SIGAP_DATA_DIR/kafka-cluster.id"
  if ((KAFKA_NODES > 1)); then
    standalone=()  # a static quorum (controller.quorum.voters): every node formatted with one cluster id
    [[ -s "$idfile" ]] && id="$(<"$idfile")"
  fi
  if [[ -z "${id:-}" ]]; then
    id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | tail -n1)"
    ((KAFKA_NODES == 1)) || printf '%s\n' "$id" >"$idfile"
  fi
  [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || { show_log_tail "$KAFKA_LOG"; die "StorageTool random-uuid gave '$id'"; }
  info "formatting $KAFKA_LOG_DIR (cluster id $id)"
  if ! kafka_tool kafka.tools.StorageTool format "${standalone[@]}" -t "$id" -c "$KAFKA_CONFIG" >>"$KAFKA_LOG" 2>&1; then
    show_log_tail "$KAFKA_LOG"
    die "StorageTool format failed"
  fi
  printf '%s\ncluster_id=%s\nkafka=%s\n' "$want" "$id" "$KAFKA_VERSION" >"$KAFKA_FORMAT_INFO"
}

# probe -> 0 when a Kafka broker at $KAFKA_BOOTSTRAP answers a real request.
# With aiokafka (the project's venv): a metadata request that lists a broker.
# Without: a raw ApiVersions request over a socket (stdlib only).
probe() {
  local py
  py="$(sigap_python)" || { (exec 3<>"/dev/tcp/$KAFKA_HOST/$KAFKA_PORT") 2>/dev/null; return; }
  "$py" - "$KAFKA_BOOTSTRAP" "${1:-1}" <<'PY' 2>/dev/null
import asyncio, logging, socket, struct, sys

bootstrap = sys.argv[1]
brokers_wanted = int(sys.argv[2])
logging.disable(logging.CRITICAL)


def api_versions() -> int:
    host, port = bootstrap.rsplit(":", 1)
    client_id = b"sigap-probe"
    # Request header v1 (api_key=18 ApiVersions, version 0, correlation id 7) + empty body.
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        buf = b""
        while len(buf) < 10:
            chunk = s.recv(4096)
            if not chunk:
                return 1
            buf += chunk
    _size, corr, err = struct.unpack(">iih", buf[:10])
    return 0 if corr == 7 and err == 0 else 1


async def metadata() -> int:
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(client.bootstrap(), 5)
        return 0 if len(client.cluster.brokers()) >= brokers_wanted else 1
    finally:
        await client.close()


try:
    import aiokafka  # noqa: F401
except ImportError:
    aiokafka = None
try:
    sys.exit(asyncio.run(metadata()) if aiokafka else api_versions())
except Exception:
    sys.exit(1)
PY
}

port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

our_pid() {
  local pid
  pid="$(read_pid "$KAFKA_PIDFILE")"
  if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmd_has "$pid" kafka.Kafka; then
    printf '%s\n' "$pid"
  fi
}

wait_ready() {
  local pid="$1" t0="$2" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! pid_alive "$pid"; then
      rm -f "$KAFKA_PIDFILE"
      show_log_tail "$KAFKA_LOG" 60
      die "broker process $pid exited during startup (log: $KAFKA_LOG)"
    fi
    if port_open "$KAFKA_PORT" && probe; then
      info "Kafka $KAFKA_VERSION answers on $KAFKA_BOOTSTRAP (pid $pid, ready in $(elapsed "$t0")s)"
      return 0
    fi
    sleep 0.5
  done
  show_log_tail "$KAFKA_LOG" 60
  die "broker (pid $pid) did not answer on $KAFKA_BOOTSTRAP within ${KAFKA_START_TIMEOUT}s (log: $KAFKA_LOG); stop it with: $0 stop"
}

# ---------------------------------------------------------------- commands
# launch -> renders, formats (once) and starts the selected node in the
# background; sets LAUNCHED_PID. The caller waits for it.
launch() {
  need_java
  cmd_fetch quiet
  mkdir -p "$KAFKA_HOME"
  render_config
  format_once
  info "starting Kafka $KAFKA_VERSION on $KAFKA_BOOTSTRAP (controller $KAFKA_HOST:$KAFKA_CONTROLLER_PORT, data $KAFKA_HOME)"
  printf '\n==== %s kafka.sh start (Kafka %s) ====\n' "$(date -u +%FT%TZ)" "$KAFKA_VERSION" >>"$KAFKA_LOG"
  # setsid + nohup: the broker outlives this shell and its process group. The
  # inner shell writes its own pid, which exec turns into the JVM's pid.
  rm -f "$KAFKA_PIDFILE"
  (
    cd "$KAFKA_HOME"
    exec 8>&- 9>&-
    exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" \
      "$JAVA" "${KAFKA_JVM_OPTS[@]}" kafka.Kafka "$KAFKA_CONFIG" \
      </dev/null >>"$KAFKA_LOG" 2>&1
  ) &
  local i pid=""
  for ((i = 0; i < 50; i++)); do
    pid="$(read_pid "$KAFKA_PIDFILE")"
    [[ -n "$pid" ]] && break
    sleep 0.1
  done
  [[ -n "$pid" ]] || { show_log_tail "$KAFKA_LOG"; die "broker did not start (no pid in $KAFKA_PIDFILE)"; }
  LAUNCHED_PID="$pid"
}

cmd_start() {
  check_loopback
  ((KAFKA_NODES == 1)) || { cmd_start_cluster; return; }
  local pid t0
  # One start at a time for this data dir (fd 9 is closed for the broker).
  mkdir -p "$KAFKA_HOME"
  exec 9>"$KAFKA_HOME/.start.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  pid="$(our_pid)"
  if [[ -n "$pid" ]]; then
    if probe; then
      info "already running and answering on $KAFKA_BOOTSTRAP (pid $pid)"
      return 0
    fi
    info "already started (pid $pid), waiting for it to answer ..."
    wait_ready "$pid" "$(now)"
    return 0
  fi
  rm -f "$KAFKA_PIDFILE"
  if port_open "$KAFKA_PORT"; then
    if probe; then
      info "a Kafka broker not started by this script already answers on $KAFKA_BOOTSTRAP; using it"
      return 0
    fi
    die "port $KAFKA_PORT on $KAFKA_HOST is in use by something that is not a Kafka broker"
  fi
  port_open "$KAFKA_CONTROLLER_PORT" &&
    die "controller port $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is in use (set SIGAP_KAFKA_CONTROLLER_PORT)"
  t0="$(now)"
  launch
  wait_ready "$LAUNCHED_PID" "$t0"
}

# start_node N -> starts node N of the cluster unless it runs; sets NODE_PID
start_node() {
  select_node "$1"
  NODE_PID="$(our_pid)"
  [[ -n "$NODE_PID" ]] && return 0
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is in use by a process this script did not start"
  port_open "$KAFKA_CONTROLLER_PORT" && die "controller port $KAFKA_CONTROLLER_PORT is in use"
  launch
  NODE_PID="$LAUNCHED_PID"
}

# A cluster: every node is started before any is waited for (the controllers
# need a majority of the quorum before a broker can register).
cmd_start_cluster() {
  local i t0 pids=()
  mkdir -p "$SIGAP_DATA_DIR"
  exec 9>"$SIGAP_DATA_DIR/.kafka-cluster.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  t0="$(now)"
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    start_node "$i"
    pids[i]="$NODE_PID"
  done
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    select_node "$i"
    wait_ready "${pids[i]}" "$t0"
  done
  select_node 1
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until probe "$KAFKA_NODES"; do
    ((SECONDS < deadline)) || die "the cluster did not show $KAFKA_NODES brokers within ${KAFKA_START_TIMEOUT}s"
    sleep 0.5
  done
  _sigap_tag=kafka
  info "cluster of $KAFKA_NODES answers on $(cluster_bootstrap) (ready in $(elapsed "$t0")s)"
}

cmd_start_node() {
  check_loopback
  [[ "${1:-}" =~ ^[1-9]$ ]] && (($1 <= KAFKA_NODES)) || die "start-node takes a node number 1..$KAFKA_NODES"
  local t0
  t0="$(now)"
  start_node "$1"
  wait_ready "$NODE_PID" "$t0"
}

cmd_kill_node() {
  [[ "${1:-}" =~ ^[1-9]$ ]] && (($1 <= KAFKA_NODES)) || die "kill-node takes a node number 1..$KAFKA_NODES"
  select_node "$1"
  local pid
  pid="$(our_pid)"
  [[ -n "$pid" ]] || { info "not running"; return 0; }
  kill -KILL "$pid"
  local i
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  rm -f "$KAFKA_PIDFILE"
  info "killed (SIGKILL) pid $pid"
}

stop_one() {
  local pid
  pid="$(our_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$KAFKA_PIDFILE"
    if port_open "$KAFKA_PORT"; then
      info "not started by this script (no live pid in $KAFKA_PIDFILE), but something listens on $KAFKA_BOOTSTRAP; leaving it alone"
    else
      info "not running"
    fi
    return 0
  fi
  info "stopping Kafka (pid $pid) ..."
  local t0
  t0="$(now)"
  stop_pid "$pid" kafka "${SIGAP_KAFKA_STOP_TIMEOUT:-30}"
  rm -f "$KAFKA_PIDFILE"
  info "stopped in $(elapsed "$t0")s"
}

cmd_stop() {
  local i pid
  # A cluster's nodes are told together: the last one left alone would wait out its controlled
  # shutdown for a quorum that is gone.
  for ((i = 1; i <= KAFKA_NODES && KAFKA_NODES > 1; i++)); do
    select_node "$i"
    pid="$(our_pid)"
    [[ -z "$pid" ]] || kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = KAFKA_NODES; i >= 1; i--)); do
    select_node "$i"
    stop_one
  done
}

status_one() {
  local pid
  pid="$(our_pid)"
  if [[ -n "$pid" ]] && probe; then
    info "running and answering on $KAFKA_BOOTSTRAP (pid $pid, Kafka $KAFKA_VERSION, data $KAFKA_HOME)"
    return 0
  elif [[ -n "$pid" ]]; then
    info "process running (pid $pid) but not answering on $KAFKA_BOOTSTRAP (yet?); log: $KAFKA_LOG"
    return 3
  elif port_open "$KAFKA_PORT" && probe; then
    info "a broker not started by this script answers on $KAFKA_BOOTSTRAP"
    return 0
  fi
  info "not running"
  return 3
}

cmd_status() {
  local i rc=0
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    select_node "$i"
    status_one || rc=3
  done
  return "$rc"
}

case "${1:-}" in
  fetch) need_java; cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  start-node) cmd_start_node "${2:-}" ;;
  kill-node) cmd_kill_node "${2:-}" ;;
  bootstrap) cluster_bootstrap ;;
  *) printf 'usage: %s fetch|start|stop|restart|status|start-node N|kill-node N|bootstrap\n' "$0" >&2; exit 64 ;;
esac
