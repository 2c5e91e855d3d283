#!/usr/bin/env bash
# Start the local infrastructure: a real Kafka 4.x broker and a real Redis on
# loopback. Idempotent: running it again while both run is harmless.
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
t0="$(date +%s.%N)"
bash "$here/kafka.sh" fetch
bash "$here/redis.sh" start
bash "$here/kafka.sh" start
printf '[infra] up in %ss: Kafka %s, Redis %s\n' \
  "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
  "${SIGAP_KAFKA_BOOTSTRAP:-127.0.0.1:9092}" "${SIGAP_REDIS_URL:-redis://127.0.0.1:6379/0}" >&2
