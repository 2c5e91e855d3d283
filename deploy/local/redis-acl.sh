#!/usr/bin/env bash
# Redis ACL users of Sigap's services (services/common/acl.py): each may write only its own keys
# under SIGAP_REDIS_PREFIX and read the rest. Run against a Redis this project started (never against
# someone else's): `redis-acl.sh apply` creates or replaces the users; `redis-acl.sh urls` prints the
# SIGAP_REDIS_URL of each service; `redis-acl.sh env` the SIGAP_REDIS_USER_<SERVICE> and
# SIGAP_REDIS_PASSWORD_<SERVICE> lines a service connects with. Passwords:
# SIGAP_REDIS_PASSWORD_{DISPATCHER,NOTIFIER,GATEWAY} (fixed local ones outside production).
# `make up` (deploy/local/services.sh) applies them to the Redis deploy/local/redis.sh started.
set -euo pipefail

_sigap_tag="redis-acl"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

PY="${SIGAP_PYTHON:-$SIGAP_ROOT/.venv/bin/python}"
case "${1:-}" in
  apply | urls | env) cd "$SIGAP_ROOT" && exec "$PY" -m services.common.acl "$1" ;;
  *) printf 'usage: %s apply|urls|env\n' "$0" >&2; exit 64 ;;
esac
