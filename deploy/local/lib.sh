# shellcheck shell=bash
# Shared helpers for deploy/local/*.sh. Source it; do not run it.
#
# Sets:
#   SIGAP_LOCAL_DIR   this folder (deploy/local)
#   SIGAP_ROOT        the repository root
#   SIGAP_DATA_DIR    ${SIGAP_DATA_DIR:-$SIGAP_ROOT/.data}
#   SIGAP_CACHE_DIR   ${SIGAP_CACHE_DIR:-$HOME/.cache/sigap}

SIGAP_LOCAL_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
SIGAP_ROOT="$(cd -- "$SIGAP_LOCAL_DIR/../.." && pwd -P)"
SIGAP_DATA_DIR="${SIGAP_DATA_DIR:-$SIGAP_ROOT/.data}"
SIGAP_CACHE_DIR="${SIGAP_CACHE_DIR:-${HOME:-/root}/.cache/sigap}"
# Make relative overrides independent of the caller's cwd later on.
case "$SIGAP_DATA_DIR" in /*) ;; *) SIGAP_DATA_DIR="$PWD/$SIGAP_DATA_DIR" ;; esac
case "$SIGAP_CACHE_DIR" in /*) ;; *) SIGAP_CACHE_DIR="$PWD/$SIGAP_CACHE_DIR" ;; esac
export SIGAP_DATA_DIR SIGAP_CACHE_DIR

_sigap_tag="${_sigap_tag:-sigap}"

info() { printf '[%s] %s\n' "$_sigap_tag" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$_sigap_tag" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$_sigap_tag" "$*" >&2; exit 1; }
missing() { printf '[%s] missing: %s\n' "$_sigap_tag" "$*" >&2; exit 2; }

# Seconds since the epoch with a fraction, for timings.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# is_loopback HOST -> 0 for 127.0.0.0/8, localhost, ::1
is_loopback() {
  case "$1" in
    127.*|localhost|::1|'[::1]') return 0 ;;
    *) return 1 ;;
  esac
}

# split_hostport "host:port" DEFAULT_PORT -> sets _host and _port
split_hostport() {
  local hp="$1" def="$2"
  hp="${hp%%,*}"              # first entry of a comma-separated list
  hp="${hp#*://}"             # tolerate PLAINTEXT://host:port
  if [[ "$hp" =~ ^\[([^]]+)\]:([0-9]+)$ ]]; then
    _host="${BASH_REMATCH[1]}"; _port="${BASH_REMATCH[2]}"
  elif [[ "$hp" =~ ^([^:]+):([0-9]+)$ ]]; then
    _host="${BASH_REMATCH[1]}"; _port="${BASH_REMATCH[2]}"
  else
    _host="${hp:-127.0.0.1}"; _port="$def"
  fi
}

# pid_alive PID -> 0 when a process with that pid exists and is not a zombie
# (an exited daemon stays a zombie until its parent, often pid 1, reaps it).
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# pid_cmd_has PID TEXT -> 0 when the process's command line contains TEXT
pid_cmd_has() {
  [[ -r "/proc/$1/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

# read_pid FILE -> prints the pid in FILE (empty if none)
read_pid() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }

# stop_pid PID NAME [GRACE_SECONDS] -> SIGTERM, wait, then SIGKILL
stop_pid() {
  local pid="$1" name="$2" grace="${3:-30}" i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 5; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  warn "$name (pid $pid) still running after ${grace}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  die "$name (pid $pid) did not exit after SIGKILL"
}

# show_log_tail FILE [LINES]
show_log_tail() {
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf '[%s] ---- last %s lines of %s ----\n' "$_sigap_tag" "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf '[%s] ---- end of %s ----\n' "$_sigap_tag" "$f" >&2
  else
    printf '[%s] (no log at %s)\n' "$_sigap_tag" "$f" >&2
  fi
}

# as_root CMD... -> runs CMD as root (sudo only when not root)
as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run '$*' (not root and no sudo)"
  fi
}

# The python used for readiness probes: the project's venv when present.
sigap_python() {
  if [[ -n "${SIGAP_PYTHON:-}" ]]; then
    printf '%s\n' "$SIGAP_PYTHON"
  elif [[ -x "$SIGAP_ROOT/.venv/bin/python" ]]; then
    printf '%s\n' "$SIGAP_ROOT/.venv/bin/python"
  elif command -v python3 >/dev/null 2>&1; then
    command -v python3
  else
    return 1
  fi
}

# need_java -> sets JAVA to a java 17+ binary, or exits with "missing: ..."
need_java() {
  local j ver major
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    j="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    j="$(command -v java)"
  else
    missing "java 17+ (install openjdk-17-jre-headless)"
  fi
  ver="$("$j" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  major="${ver%%.*}"
  [[ "$major" == 1 ]] && major="$(cut -d. -f2 <<<"$ver")"   # 1.8 -> 8
  if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
    missing "java 17+ (found '${ver:-unknown}' at $j; install openjdk-17-jre-headless)"
  fi
  JAVA="$j"
}

# need_mvn -> exits with "missing: ..." when maven is absent
need_mvn() {
  command -v mvn >/dev/null 2>&1 || missing "maven (install maven)"
}
