#!/usr/bin/env bash
# Stop the local Kafka broker and Redis started by up-infra.sh. Idempotent:
# harmless when they are not running. Data stays in $SIGAP_DATA_DIR.
set -euo pipefail
here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
rc=0
bash "$here/kafka.sh" stop || rc=$?
bash "$here/redis.sh" stop || rc=$?
exit "$rc"
