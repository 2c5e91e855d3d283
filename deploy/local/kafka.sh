#!/usr/bin/env bash
# A real single-node Apache Kafka 4.x broker (KRaft, broker+controller) from
# Maven Central jars, on loopback, without Docker.
#
#   kafka.sh fetch    copy the broker's jars into the cache (once)
#   kafka.sh start    fetch, format the log dir (once), start, wait until it answers
#   kafka.sh stop     SIGTERM, wait up to 30 s, then SIGKILL
#   kafka.sh status   exit 0 when running and answering, 3 otherwise
#
# Environment: see deploy/local/README.md.
set -euo pipefail

_sigap_tag="kafka"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

KAFKA_VERSION="${SIGAP_KAFKA_VERSION:-4.4.0}"
KAFKA_JARS="$SIGAP_CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_MARKER="$KAFKA_JARS/.fetch-complete"
KAFKA_HOME="$SIGAP_DATA_DIR/kafka"
KAFKA_LOG_DIR="$KAFKA_HOME/logdir"
KAFKA_CONFIG="$KAFKA_HOME/server.properties"
KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"
KAFKA_LOG="$KAFKA_HOME/kafka.log"
KAFKA_FORMAT_INFO="$KAFKA_HOME/format.info"
KAFKA_HEAP="${SIGAP_KAFKA_HEAP:-512m}"
KAFKA_START_TIMEOUT="${SIGAP_KAFKA_START_TIMEOUT:-90}"

split_hostport "${SIGAP_KAFKA_BOOTSTRAP:-127.0.0.1:9092}" 9092
KAFKA_HOST="$_host"
KAFKA_PORT="$_port"
KAFKA_CONTROLLER_PORT="${SIGAP_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
[[ "$KAFKA_HOST" == localhost ]] && KAFKA_HOST=127.0.0.1 && KAFKA_BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

check_loopback() {
  is_loopback "$KAFKA_HOST" ||
    die "SIGAP_KAFKA_BOOTSTRAP host '$KAFKA_HOST' is not a loopback address; this broker binds to loopback only"
  [[ "$KAFKA_CONTROLLER_PORT" =~ ^[0-9]+$ ]] || die "SIGAP_KAFKA_CONTROLLER_PORT must be a port number"
  [[ "$KAFKA_CONTROLLER_PORT" != "$KAFKA_PORT" ]] || die "broker and controller ports are both $KAFKA_PORT"
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
  mkdir -p "$KAFKA_HOME"
  printf '%s\n' "$t" >"$KAFKA_CONFIG.tmp"
  mv "$KAFKA_CONFIG.tmp" "$KAFKA_CONFIG"
}

format_once() {
  local want="host=$KAFKA_HOST controller_port=$KAFKA_CONTROLLER_PORT"
  if [[ -f "$KAFKA_LOG_DIR/meta.properties" ]]; then
    # format --standalone writes the controller's endpoint into the metadata
    # log; a different controller address later would not match it.
    if [[ -f "$KAFKA_FORMAT_INFO" ]] && [[ "$(head -n1 "$KAFKA_FORMAT_INFO")" != "$want" ]]; then
      die "$KAFKA_LOG_DIR was formatted with '$(head -n1 "$KAFKA_FORMAT_INFO")', now '$want'; use the old settings or remove $KAFKA_HOME to start afresh"
    fi
    return 0
  fi
  local id
  id="$(kafka_tool kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | tail -n1)"
  [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || { show_log_tail "$KAFKA_LOG"; die "StorageTool random-uuid gave '$id'"; }
  info "formatting $KAFKA_LOG_DIR (cluster id $id)"
  if ! kafka_tool kafka.tools.StorageTool format --standalone -t "$id" -c "$KAFKA_CONFIG" >>"$KAFKA_LOG" 2>&1; then
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
  "$py" - "$KAFKA_BOOTSTRAP" <<'PY' 2>/dev/null
import asyncio, logging, socket, struct, sys

bootstrap = sys.argv[1]
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
        return 0 if client.cluster.brokers() else 1
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
cmd_start() {
  check_loopback
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

  need_java
  cmd_fetch quiet
  t0="$(now)"
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
  local i
  for ((i = 0; i < 50; i++)); do
    pid="$(read_pid "$KAFKA_PIDFILE")"
    [[ -n "$pid" ]] && break
    sleep 0.1
  done
  [[ -n "$pid" ]] || { show_log_tail "$KAFKA_LOG"; die "broker did not start (no pid in $KAFKA_PIDFILE)"; }
  wait_ready "$pid" "$t0"
}

cmd_stop() {
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

cmd_status() {
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

case "${1:-}" in
  fetch) need_java; cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  *) printf 'usage: %s fetch|start|stop|restart|status\n' "$0" >&2; exit 64 ;;
esac
