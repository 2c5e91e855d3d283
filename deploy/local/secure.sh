#!/usr/bin/env bash
# A second, secured Kafka broker and Redis on loopback, beside the plain ones of up-infra.sh, for the
# tests of encrypted, authenticated transport (tests/integration/secure/) and to try the settings of a
# real deployment on one machine:
#   - Kafka (same jars as kafka.sh): SASL_SSL with SCRAM-SHA-512 on $SIGAP_SECURE_KAFKA_PORT, and SSL
#     with required client certificates (mutual TLS) on the next port; the controller on the one after;
#   - Redis (Debian's redis-server): TLS only on $SIGAP_SECURE_REDIS_PORT, the default user off, an
#     ACL user `sigap` limited to keys under `{sigap}`/`sigap*` and `{t…`/`t*` (the test prefixes) and no admin commands.
# Certificates (a CA, the servers', a client's) are made with openssl into the data dir; the SCRAM
# users are written into the broker's metadata when its log dir is formatted. Nothing here touches
# the plain broker or Redis.
#
#   secure.sh start    make certificates and credentials (once), start both, wait until they answer
#   secure.sh stop     stop both (the data stays)
#   secure.sh status   exit 0 when both answer, 3 otherwise
#   secure.sh env      print the SIGAP_* settings a client needs (sh syntax; secrets included)
#
# Environment: SIGAP_DATA_DIR, SIGAP_CACHE_DIR (see README.md), SIGAP_SECURE_KAFKA_PORT (17292: SASL_SSL;
# +1 mutual TLS, +2 controller), SIGAP_SECURE_REDIS_PORT (17296).
set -euo pipefail

_sigap_tag="secure"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

KAFKA_VERSION="${SIGAP_KAFKA_VERSION:-4.4.0}"
KAFKA_JARS="$SIGAP_CACHE_DIR/kafka-$KAFKA_VERSION"
PORT="${SIGAP_SECURE_KAFKA_PORT:-17292}"
MTLS_PORT=$((PORT + 1))
CONTROLLER_PORT=$((PORT + 2))
REDIS_PORT="${SIGAP_SECURE_REDIS_PORT:-17296}"
HOST=127.0.0.1
HOME_DIR="$SIGAP_DATA_DIR/secure"
CERTS="$HOME_DIR/certs"
KAFKA_HOME="$HOME_DIR/kafka"
REDIS_HOME="$HOME_DIR/redis"
CREDENTIALS="$HOME_DIR/credentials.env"
KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"
KAFKA_LOG="$KAFKA_HOME/kafka.log"
REDIS_PIDFILE="$REDIS_HOME/redis.pid"
REDIS_LOG="$REDIS_HOME/redis.log"
START_TIMEOUT="${SIGAP_KAFKA_START_TIMEOUT:-90}"

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# ---------------------------------------------------------------- certificates and credentials
make_certs() {
  [[ -s "$CERTS/ca.pem" && -s "$CERTS/server.p12" && -s "$CERTS/client.pem" ]] && return 0
  command -v openssl >/dev/null 2>&1 || missing "openssl"
  mkdir -p "$CERTS"
  chmod 700 "$HOME_DIR" "$CERTS"
  info "making a CA, a server and a client certificate in $CERTS (openssl)"
  local days=825 store_password
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" -subj "/CN=Sigap local CA" \
    -keyout "$CERTS/ca-key.pem" -out "$CERTS/ca.pem" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$CERTS/server.ext"
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
    -keyout "$CERTS/server-key.pem" -out "$CERTS/server.csr" 2>/dev/null
  openssl x509 -req -sha256 -days "$days" -in "$CERTS/server.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca-key.pem" \
    -CAcreateserial -extfile "$CERTS/server.ext" -out "$CERTS/server.pem" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$CERTS/client.ext"
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=sigap" \
    -keyout "$CERTS/client-key.pem" -out "$CERTS/client.csr" 2>/dev/null
  openssl x509 -req -sha256 -days "$days" -in "$CERTS/client.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca-key.pem" \
    -CAcreateserial -extfile "$CERTS/client.ext" -out "$CERTS/client.pem" 2>/dev/null
  store_password="$(openssl rand -hex 16)"
  # The broker's key store (PKCS#12, readable by Java without keytool) and its trust store (the CA).
  openssl pkcs12 -export -name server -in "$CERTS/server.pem" -inkey "$CERTS/server-key.pem" \
    -certfile "$CERTS/ca.pem" -passout "pass:$store_password" -out "$CERTS/server.p12"
  printf '%s\n' "$store_password" >"$CERTS/store-password"
  rm -f "$CERTS"/*.csr "$CERTS"/*.ext "$CERTS/ca.srl"
  chmod 600 "$CERTS"/*
}

make_credentials() {
  [[ -s "$CREDENTIALS" ]] && return 0
  umask 077
  printf 'ADMIN_PASSWORD=%s\nSIGAP_PASSWORD=%s\nREDIS_PASSWORD=%s\n' \
    "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" >"$CREDENTIALS"
}

load_credentials() {
  # shellcheck disable=SC1090
  source "$CREDENTIALS"
}

# ---------------------------------------------------------------- Kafka
jvm_opts() {
  printf '%s\n' -Xmx384m -Xms384m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Djava.net.preferIPv4Stack=true "-Dlog4j2.configurationFile=$SIGAP_LOCAL_DIR/log4j2.yaml" \
    "-Dkafka.logs.dir=$KAFKA_HOME" -cp "$KAFKA_JARS/*"
}

render_kafka_config() {
  local store_password
  store_password="$(<"$CERTS/store-password")"
  mkdir -p "$KAFKA_HOME"
  umask 077
  cat >"$KAFKA_HOME/server.properties" <<EOF
# Rendered by deploy/local/secure.sh: a single node, SASL_SSL (SCRAM-SHA-512) and mutual-TLS listeners.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
listeners=SASL_SSL://$HOST:$PORT,MTLS://$HOST:$MTLS_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$PORT,MTLS://$HOST:$MTLS_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,MTLS:SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
ssl.keystore.type=PKCS12
ssl.keystore.location=$CERTS/server.p12
ssl.keystore.password=$store_password
ssl.truststore.type=PEM
ssl.truststore.location=$CERTS/ca.pem
ssl.endpoint.identification.algorithm=https
listener.name.mtls.ssl.client.auth=required
log.dirs=$KAFKA_HOME/logdir
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.dedupe.buffer.size=16777216
EOF
}

kafka_pid() {
  local pid
  pid="$(read_pid "$KAFKA_PIDFILE")"
  if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmd_has "$pid" kafka.Kafka && pid_cmd_has "$pid" "$KAFKA_HOME"; then
    printf '%s\n' "$pid"
  fi
}

# A SASL_SSL metadata request with the client user, from the project's venv (aiokafka).
kafka_probe() {
  local py
  py="$(sigap_python)" || return 1
  SIGAP_PROBE_PASSWORD="$SIGAP_PASSWORD" "$py" - "$HOST:$PORT" "$CERTS/ca.pem" <<'PY' 2>/dev/null
import asyncio, logging, os, sys
from aiokafka import AIOKafkaClient
from aiokafka.helpers import create_ssl_context

logging.disable(logging.CRITICAL)


async def main() -> int:
    client = AIOKafkaClient(
        bootstrap_servers=sys.argv[1], request_timeout_ms=3000, security_protocol="SASL_SSL",
        ssl_context=create_ssl_context(cafile=sys.argv[2]), sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="sigap", sasl_plain_password=os.environ["SIGAP_PROBE_PASSWORD"],
    )
    try:
        await asyncio.wait_for(client.bootstrap(), 5)
        return 0 if client.cluster.brokers() else 1
    finally:
        await client.close()

try:
    sys.exit(asyncio.run(main()))
except Exception:
    sys.exit(1)
PY
}

start_kafka() {
  local pid t0 i
  pid="$(kafka_pid)"
  if [[ -n "$pid" ]] && kafka_probe; then
    info "Kafka (SASL_SSL) already answers on $HOST:$PORT (pid $pid)"
    return 0
  fi
  [[ -z "$pid" ]] || die "secured broker pid $pid runs but does not answer; see $KAFKA_LOG"
  for p in "$PORT" "$MTLS_PORT" "$CONTROLLER_PORT"; do
    port_open "$p" && die "port $p on $HOST is in use (set SIGAP_SECURE_KAFKA_PORT)"
  done
  need_java
  bash "$SIGAP_LOCAL_DIR/kafka.sh" fetch >/dev/null
  JAVA_OPTS=()
  mapfile -t JAVA_OPTS < <(jvm_opts)
  render_kafka_config
  if [[ ! -f "$KAFKA_HOME/logdir/meta.properties" ]]; then
    local id
    id="$("$JAVA" "${JAVA_OPTS[@]}" kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | tail -n1)"
    info "formatting $KAFKA_HOME/logdir with the SCRAM users admin and sigap"
    "$JAVA" "${JAVA_OPTS[@]}" kafka.tools.StorageTool format --standalone -t "$id" -c "$KAFKA_HOME/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PASSWORD]" \
      --add-scram "SCRAM-SHA-512=[name=sigap,password=$SIGAP_PASSWORD]" >>"$KAFKA_LOG" 2>&1 ||
      { show_log_tail "$KAFKA_LOG"; die "StorageTool format failed"; }
  fi
  t0="$(now)"
  info "starting Kafka $KAFKA_VERSION with SASL_SSL on $HOST:$PORT, mutual TLS on $MTLS_PORT (data $KAFKA_HOME)"
  (
    cd "$KAFKA_HOME"
    exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PIDFILE" \
      "$JAVA" "${JAVA_OPTS[@]}" kafka.Kafka "$KAFKA_HOME/server.properties" </dev/null >>"$KAFKA_LOG" 2>&1 9>&-
  ) &
  for ((i = 0; i < 50; i++)); do
    pid="$(read_pid "$KAFKA_PIDFILE")"
    [[ -n "$pid" ]] && break
    sleep 0.1
  done
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    pid_alive "$pid" || { show_log_tail "$KAFKA_LOG" 60; die "secured broker exited during startup"; }
    if port_open "$PORT" && kafka_probe; then
      info "Kafka (SASL_SSL) answers on $HOST:$PORT (pid $pid, ready in $(elapsed "$t0")s)"
      return 0
    fi
    sleep 0.5
  done
  show_log_tail "$KAFKA_LOG" 60
  die "secured broker did not answer within ${START_TIMEOUT}s"
}

stop_kafka() {
  local pid
  pid="$(kafka_pid)"
  [[ -n "$pid" ]] || { rm -f "$KAFKA_PIDFILE"; return 0; }
  info "stopping the secured Kafka (pid $pid)"
  stop_pid "$pid" kafka-secure 30
  rm -f "$KAFKA_PIDFILE"
}

# ---------------------------------------------------------------- Redis
redis_cli() {
  REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --tls --cacert "$CERTS/ca.pem" -h "$HOST" -p "$REDIS_PORT" \
    --user sigap --no-auth-warning "$@"
}

redis_pid() {
  local pid
  pid="$(read_pid "$REDIS_PIDFILE")"
  if [[ -n "$pid" ]] && pid_alive "$pid" && pid_cmd_has "$pid" redis-server; then
    printf '%s\n' "$pid"
  fi
}

start_redis() {
  local pid i
  command -v redis-server >/dev/null 2>&1 || missing "redis-server (bash deploy/local/redis.sh start installs it)"
  pid="$(redis_pid)"
  if [[ -n "$pid" ]] && [[ "$(redis_cli ping 2>/dev/null)" == PONG ]]; then
    info "Redis (TLS, ACL) already answers on $HOST:$REDIS_PORT (pid $pid)"
    return 0
  fi
  [[ -z "$pid" ]] || die "secured redis-server pid $pid runs but does not answer; see $REDIS_LOG"
  port_open "$REDIS_PORT" && die "port $REDIS_PORT on $HOST is in use (set SIGAP_SECURE_REDIS_PORT)"
  mkdir -p "$REDIS_HOME"
  umask 077
  # The service user: its own keys (the deployment's prefix `{sigap}:` or `sigap:`, the tests' `{t…}:`
  # and `t…`), every command
  # but the administrative and the dangerous ones (FLUSHALL, KEYS, DEBUG, CONFIG, ...), plus what
  # redis-py and the Lua scripts need (SCRIPT LOAD, INFO).
  cat >"$REDIS_HOME/users.acl" <<EOF
user default off
user sigap on >$REDIS_PASSWORD ~sigap* ~{sigap}* ~t* ~{t* &* +@all -@admin -@dangerous +info +script|load +script|exists +scan
EOF
  info "starting redis-server with TLS only on $HOST:$REDIS_PORT (ACL user sigap; data $REDIS_HOME)"
  redis-server --port 0 --tls-port "$REDIS_PORT" --bind "$HOST" \
    --tls-cert-file "$CERTS/server.pem" --tls-key-file "$CERTS/server-key.pem" --tls-ca-cert-file "$CERTS/ca.pem" \
    --tls-auth-clients no --aclfile "$REDIS_HOME/users.acl" --appendonly yes --dir "$REDIS_HOME" \
    --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" </dev/null 9>&-
  for ((i = 0; i < 100; i++)); do
    if [[ "$(redis_cli ping 2>/dev/null)" == PONG ]]; then
      info "Redis (TLS, ACL) answers on $HOST:$REDIS_PORT (pid $(read_pid "$REDIS_PIDFILE"))"
      return 0
    fi
    sleep 0.1
  done
  show_log_tail "$REDIS_LOG"
  die "secured redis-server did not answer on $HOST:$REDIS_PORT"
}

stop_redis() {
  local pid
  pid="$(redis_pid)"
  [[ -n "$pid" ]] || { rm -f "$REDIS_PIDFILE"; return 0; }
  info "stopping the secured Redis (pid $pid)"
  stop_pid "$pid" redis-secure 30
  rm -f "$REDIS_PIDFILE"
}

print_env() {
  cat <<EOF
SIGAP_KAFKA_BOOTSTRAP=$HOST:$PORT
SIGAP_KAFKA_SECURITY_PROTOCOL=SASL_SSL
SIGAP_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
SIGAP_KAFKA_SASL_USERNAME=sigap
SIGAP_KAFKA_SASL_PASSWORD=$SIGAP_PASSWORD
SIGAP_KAFKA_SSL_CAFILE=$CERTS/ca.pem
SIGAP_REDIS_URL=rediss://sigap:$REDIS_PASSWORD@$HOST:$REDIS_PORT/0?ssl_ca_certs=$CERTS/ca.pem
SIGAP_SECURE_MTLS_BOOTSTRAP=$HOST:$MTLS_PORT
SIGAP_SECURE_CLIENT_CERT=$CERTS/client.pem
SIGAP_SECURE_CLIENT_KEY=$CERTS/client-key.pem
EOF
}

case "${1:-}" in
  start)
    mkdir -p "$HOME_DIR"
    # one start at a time; fd 9 is closed for the broker and redis-server, which would hold the lock
    exec 9>"$HOME_DIR/.start.lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    make_certs
    make_credentials
    load_credentials
    start_redis
    start_kafka
    ;;
  stop)
    [[ -s "$CREDENTIALS" ]] && load_credentials
    rc=0
    stop_kafka || rc=$?
    stop_redis || rc=$?
    exit "$rc"
    ;;
  status)
    [[ -s "$CREDENTIALS" ]] || { info "not set up"; exit 3; }
    load_credentials
    if kafka_probe && [[ "$(redis_cli ping 2>/dev/null)" == PONG ]]; then
      info "Kafka (SASL_SSL) on $HOST:$PORT and Redis (TLS) on $HOST:$REDIS_PORT answer"
      exit 0
    fi
    info "not running (or not answering)"
    exit 3
    ;;
  env)
    [[ -s "$CREDENTIALS" ]] || die "run '$0 start' first"
    load_credentials
    print_env
    ;;
  *) printf 'usage: %s start|stop|status|env\n' "$0" >&2; exit 64 ;;
esac
