#!/bin/sh
# `make test-systemd`: jobd under a real systemd, as PID 1 of a systemd-nspawn container over a debootstrapped
# Debian 12 (the recipe in ../shared/PLATFORM.md). Not part of `make test`: it needs root and the network
# (the first run downloads ~245 MB into $JOBD_SYSTEMD_ROOT, reused afterwards).
#
# Checks, inside: jobd.socket enabled; the first jobctl call by an unprivileged user starts jobd (socket
# activation) and the job runs as that user; `systemctl status` shows jobd's STATUS=; the unit has a
# watchdog that jobd feeds; `systemctl reload` keeps it active and applies the file; `systemctl stop` drains
# (a short job finishes, a long one is requeued) and ends with Result=success; the socket stays and the next
# call starts jobd again.
set -eu

HERE=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=${JOBD_SYSTEMD_ROOT:-/var/tmp/jobd-systemd-root}
BIN_DIR=${BIN_DIR:-.build/release}
LOG=$(mktemp /tmp/jobd-nspawn.XXXXXX)

[ "$(id -u)" = 0 ] || { echo "test-systemd needs root (debootstrap, systemd-nspawn)"; exit 1; }
command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null || {
    apt-get update -qq && apt-get install -y -qq systemd-container debootstrap; }

if [ ! -x "$ROOT/usr/lib/systemd/systemd" ]; then
    MIRROR=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps,libsqlite3-0 bookworm "$ROOT" \
        "${MIRROR:-http://deb.debian.org/debian}"
fi
make -C "$HERE" install DESTDIR="$ROOT" PREFIX=/usr BIN_DIR="$BIN_DIR" >/dev/null
chroot "$ROOT" sh -c 'id alice >/dev/null 2>&1 || useradd -m -u 1500 alice'
# A clean start each run: no configuration, no database left by the last run (its 600 s job would run again).
rm -rf "$ROOT/etc/jobd/jobd.toml" "$ROOT/var/lib/jobd" "$ROOT/var/lib/private/jobd"

systemd-nspawn -D "$ROOT" --register=no --keep-unit -b --console=pipe >"$LOG" 2>&1 &
NSPAWN=$!
PID1=
cleanup() {
    [ -n "$PID1" ] && nsenter -t "$PID1" -a systemctl poweroff >/dev/null 2>&1 || true
    sleep 2
    kill "$NSPAWN" 2>/dev/null || true
    wait "$NSPAWN" 2>/dev/null || true
}
trap cleanup EXIT

failures=0
check() {  # check DESCRIPTION COMMAND...: runs the command on the host, reports
    what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
inside() { nsenter -t "$PID1" -a "$@"; }
as_alice() { inside runuser -u alice -- "$@"; }
jobctl() { as_alice /usr/bin/jobctl --socket /run/jobd/jobd.sock "$@"; }
prop() { inside systemctl show -P "$1" "$2"; }

for _ in $(seq 100); do
    PID1=$(pgrep -P "$NSPAWN" -x systemd || true)
    [ -n "$PID1" ] && break
    sleep 0.2
done
[ -n "$PID1" ] || { echo "the container's systemd did not start:"; cat "$LOG"; exit 1; }
for _ in $(seq 150); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
    sleep 0.2
done
echo "container: $state"

inside systemd-sysusers >/dev/null 2>&1 || true
inside systemctl daemon-reload
inside systemctl enable --now jobd.socket >/dev/null 2>&1
check "jobd.socket is listening" test "$(prop ActiveState jobd.socket)" = active
check "jobd.service is not running before the first call" test "$(prop ActiveState jobd.service)" = inactive

id=$(jobctl submit -- /usr/bin/id -u)
jobctl wait "$id" >/dev/null
check "the first call started jobd (socket activation)" test "$(prop ActiveState jobd.service)" = active
check "the job ran as its submitter" test "$(jobctl logs "$id")" = 1500

sleep 0.5
status=$(prop StatusText jobd.service)
echo "     StatusText: $status"
check "systemctl status shows jobd's STATUS=" sh -c "echo '$status' | grep -q 'running (.* cpu, .* io), .* queued, .* done'"
check "the unit has a watchdog" test "$(prop WatchdogUSec jobd.service)" = 30s
first=$(prop WatchdogTimestampMonotonic jobd.service)
sleep 16
check "jobd feeds the watchdog" test "$(prop WatchdogTimestampMonotonic jobd.service)" != "$first"

inside sh -c 'mkdir -p /etc/jobd && echo "cpu-workers = 1" > /etc/jobd/jobd.toml'
inside systemctl reload jobd.service
check "reload keeps jobd active" test "$(prop ActiveState jobd.service)" = active
check "reload applied cpu-workers = 1" sh -c "nsenter -t $PID1 -a runuser -u alice -- /usr/bin/jobctl --socket /run/jobd/jobd.sock status --json | grep -q '\"cpu_limit\" *: *1'"
mainpid=$(prop MainPID jobd.service)

short=$(jobctl submit --io -- /bin/sleep 2)
long=$(jobctl submit --io -- /bin/sleep 600)
sleep 0.5
inside systemctl stop jobd.service
check "stop drained and ended with Result=success" test "$(prop Result jobd.service)" = success
check "the socket stays after the stop" test "$(prop ActiveState jobd.socket)" = active
check "the short job finished during the drain" sh -c "nsenter -t $PID1 -a runuser -u alice -- /usr/bin/jobctl --socket /run/jobd/jobd.sock show --json $short | grep -q '\"state\" *: *\"succeeded\"'"
check "the next call started jobd again" test "$(prop ActiveState jobd.service)" = active
check "it is a new jobd" test "$(prop MainPID jobd.service)" != "$mainpid"
check "the long job was requeued, not lost" sh -c "nsenter -t $PID1 -a runuser -u alice -- /usr/bin/jobctl --socket /run/jobd/jobd.sock show --json $long | grep -Eq '\"state\" *: *\"(queued|running)\"'"
inside journalctl -u jobd.service --no-pager -q -o cat 2>/dev/null | tail -n 12 | sed 's/^/     journal: /'

if [ "$failures" -gt 0 ]; then echo "$failures checks failed"; exit 1; fi
echo "all checks passed"
