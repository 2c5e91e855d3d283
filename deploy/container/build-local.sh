#!/usr/bin/env bash
# Build deploy/container/Dockerfile on a machine without Docker and without Docker Hub, with Debian's
# packages and this machine's Python 3.12: mmdebstrap makes a bookworm root with the shared libraries
# CPython links, this machine's CPython 3.12 (deploy/local/python.sh finds it; Debian bookworm has no
# 3.12) goes into its /usr/local the way the official python:3.12-slim-bookworm lays it out, and that
# is the base (instead of the official image, which needs Docker Hub); buildah builds the Dockerfile on it
# (chroot isolation, vfs storage: no daemon, no user namespaces needed), and the image is then
# checked: it runs as uid 10001, has no pip, imports every service, and its gateway answers /healthz
# against the local broker and Redis.
#
#   build-local.sh            build and check (needs root: apt-get install buildah mmdebstrap)
#   build-local.sh check      check the image built last time, without building
#   build-local.sh clean      remove the images and containers it made
#
# What it does not prove: the official base image's own build of CPython (its configure flags). The steps of
# the Dockerfile — the hashed lock, the wheel build, pip's removal, the user, the health check — run
# as written. Takes ~10 min the first time (the Debian root), a few minutes after.
set -euo pipefail
_sigap_tag="image"
# shellcheck source=deploy/local/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../local" && pwd -P)/lib.sh"

WORK="${SIGAP_IMAGE_WORK:-$SIGAP_DATA_DIR/image}"
ROOT_TAR="$WORK/bookworm-libs.tar"
BASE=localhost/sigap-base:bookworm-py3.12
IMAGE=localhost/sigap:local
B=(buildah --storage-driver vfs)
export BUILDAH_ISOLATION=chroot

if [[ "${1:-}" == clean ]]; then
  "${B[@]}" rm --all >/dev/null 2>&1 || true
  "${B[@]}" rmi -f "$IMAGE" "$BASE" >/dev/null 2>&1 || true
  "${B[@]}" rmi --prune >/dev/null 2>&1 || true  # the build stage's untagged image
  exit 0
fi
command -v buildah >/dev/null 2>&1 || missing "buildah (apt-get install buildah)"
command -v mmdebstrap >/dev/null 2>&1 || missing "mmdebstrap (apt-get install mmdebstrap)"
mkdir -p "$WORK"

if ! "${B[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
  if [[ ! -s "$ROOT_TAR" ]]; then
    info "making a Debian bookworm root with the libraries CPython links (mmdebstrap) ..."
    mmdebstrap --variant=minbase --format=tar \
      --include=ca-certificates,netbase,tzdata,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libexpat1,libncursesw6,libreadline8,libuuid1,libgdbm6,libtirpc3,libnsl2,libcrypt1 \
      bookworm "$ROOT_TAR.partial" http://deb.debian.org/debian
    mv "$ROOT_TAR.partial" "$ROOT_TAR"
  fi
  py="$(bash "$SIGAP_LOCAL_DIR/python.sh")"
  prefix="$("$py" -c 'import sys; print(sys.base_prefix)')"
  info "importing it as $BASE, with CPython $("$py" -c 'import platform; print(platform.python_version())') from $prefix in /usr/local"
  ctr="$("${B[@]}" from scratch)"
  mnt="$("${B[@]}" mount "$ctr")"
  tar -C "$mnt" -xf "$ROOT_TAR"
  # The interpreter, its standard library and libpython (not its test suite, not what pip put in it).
  mkdir -p "$mnt/usr/local/bin" "$mnt/usr/local/lib"
  cp -a "$prefix/bin/python3.12" "$mnt/usr/local/bin/"
  ln -sf python3.12 "$mnt/usr/local/bin/python3"
  ln -sf python3.12 "$mnt/usr/local/bin/python"
  cp -a "$prefix"/lib/libpython3.12.so* "$mnt/usr/local/lib/" 2>/dev/null || true
  tar -C "$prefix/lib" --exclude=python3.12/test --exclude='python3.12/site-packages/*' \
    --exclude='__pycache__' -cf - python3.12 | tar -C "$mnt/usr/local/lib" -xf -
  chroot "$mnt" /sbin/ldconfig
  chroot "$mnt" /usr/local/bin/python3 -c 'import ssl, sqlite3, ctypes, venv, ensurepip' ||
    die "CPython in the base root misses a shared library"
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd python3 "$ctr"
  "${B[@]}" commit --quiet "$ctr" "$BASE" >/dev/null
  "${B[@]}" rm "$ctr" >/dev/null
fi

t0="$(now)"
if [[ "${1:-}" != check ]]; then
info "building $IMAGE from deploy/container/Dockerfile on $BASE ..."
# pip inside the build reaches PyPI the way this machine does (its pip.conf and CA bundle, read-only).
volumes=()
[[ -f /etc/pip.conf ]] && volumes+=(--volume /etc/pip.conf:/etc/pip.conf:ro)
volumes+=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
"${B[@]}" bud --quiet --layers=false --format docker "${volumes[@]}" --build-arg "PYTHON_IMAGE=$BASE" \
  -f "$SIGAP_ROOT/deploy/container/Dockerfile" -t "$IMAGE" "$SIGAP_ROOT" >/dev/null
info "built in $(elapsed "$t0")s"
fi

ctr="$("${B[@]}" from "$IMAGE")"
trap '"${B[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
run() { "${B[@]}" run --env SIGAP_ENV=test "$ctr" -- "$@"; }  # production refuses the default secrets
[[ "$(run id -u)" == 10001 ]] || die "the image does not run as uid 10001"
if run python -m pip --version >/dev/null 2>&1; then die "pip is in the final image"; fi
run python -c "import services.dispatcher.app, services.notifier.app, services.gateway.app, schemas.reference" ||
  die "the services do not import"
run python -c "import sys; from services.dispatcher.settings import DEFAULT_RUNCARDS; sys.exit(not DEFAULT_RUNCARDS.is_file())" ||
  die "the run cards are not in the image"
info "uid 10001, no pip, every service imports, run cards present"
"${B[@]}" inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' "$IMAGE" | grep -q services.common.healthcheck ||
  die "the image has no HEALTHCHECK"
"${B[@]}" run "$ctr" -- python -c "import services.common.config as c; c.Settings()" 2>/dev/null &&
  die "the image starts in production with the development secrets"
info "HEALTHCHECK kept; SIGAP_ENV=production by default refuses the development secrets"

# The gateway from the image against this machine's broker and Redis (chroot isolation: host network).
port="${SIGAP_IMAGE_CHECK_PORT:-17290}"
# Started and stopped by pid inside one `buildah run`, so nothing outlives the check.
if ! "${B[@]}" run --env SIGAP_ENV=test --env "SIGAP_HTTP_PORT=$port" --env SIGAP_HTTP_HOST=127.0.0.1 \
  --env "SIGAP_KAFKA_BOOTSTRAP=${SIGAP_KAFKA_BOOTSTRAP:-127.0.0.1:9092}" \
  --env "SIGAP_REDIS_URL=${SIGAP_REDIS_URL:-redis://127.0.0.1:6379/0}" --env SIGAP_TOPIC_PREFIX=imagecheck. \
  --env SIGAP_REDIS_PREFIX=imagecheck: "$ctr" -- sh -c '
    python -m services.common.topics >/tmp/topics.log 2>&1 || { cat /tmp/topics.log; exit 1; }
    python -m services.gateway >/tmp/gateway.log 2>&1 & pid=$!
    ok=""; i=0
    while [ $i -lt 120 ]; do
      if python -m services.common.healthcheck "http://127.0.0.1:$SIGAP_HTTP_PORT/healthz"; then ok=1; break; fi
      i=$((i + 1)); sleep 0.5
    done
    kill $pid; wait $pid
    [ -n "$ok" ] || { tail -n 30 /tmp/gateway.log; exit 1; }'; then
  die "the image's gateway did not answer /healthz"
fi
info "the image's gateway answered /healthz on $port (its HEALTHCHECK command); all checks passed"
