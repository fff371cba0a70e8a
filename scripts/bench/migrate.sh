#!/usr/bin/env bash
# Snapshot to a file and restore, rrvm and QEMU side by side in one run, same guest ELF:
#   the rrvm guest ticking (tick_ms=5, 2 vCPUs), 256 MiB and 1 GiB of RAM, idle and with 64 MiB of
#   random (incompressible) data loaded as an initrd, which both VMMs place in guest RAM.
#   rrvm runs with its trace on (the default) and off; QEMU runs the same ELF with -kernel (PVH)
#   on -M microvm -accel kvm (default CPU model; -cpu host fails on this host).
#
# For each VMM and guest it measures
#   save     ms from QMP `migrate` to the MIGRATION completed event, as a client sees it
#            (rrvm: file:FILE, written to a temporary name, fsynced and renamed;
#             QEMU: exec:cat > FILE, no fsync; QEMU's 128 MiB/s default max-bandwidth is lifted
#             so that neither VMM is throttled)
#   downtime the VMM's own query-migrate downtime
#   size     bytes of the snapshot file
#   restore  ms from starting the target VMM (rrvm restore FILE / qemu ... -incoming "exec:cat
#            FILE") until the guest prints its first tick; that tick must continue the saved
#            count. The guest waits up to tick_ms (5 ms) for its next tick: the same for both.
# and prints medians of RUNS runs as markdown tables with rrvm/QEMU ratios (issue 5's target:
# <= 0.5 for times, <= 1 for size).
#
# Usage: scripts/bench/migrate.sh [runs]     (default 3)
#   RRVM_BENCH_DIR     where snapshots are written (default /tmp; /dev/shm leaves the disk out)
#   RRVM_BENCH_MEM     RAM sizes to measure (default "256M 1G")
#   RRVM_BENCH_NO_BUILD=1 measures the existing build as it is; RRVM_BUILD_DIR picks the build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "migrate.sh: qemu-system-x86_64 is not installed; it is the baseline of this benchmark." >&2
  echo "  install it with: apt-get install qemu-system-x86   (scripts/setup.sh lists it)" >&2
  exit 1
fi
if ! python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' 2>/dev/null; then
  echo "migrate.sh: /dev/kvm cannot be opened read-write; both VMMs need KVM." >&2
  exit 1
fi
[ -n "${RRVM_BENCH_NO_BUILD:-}" ] || "$root/scripts/build.sh" rrvm rrvm_guest >/dev/null
build=${RRVM_BUILD_DIR:-$root/build}
for f in "$build/rrvm" "$build/rrvm-guest.elf"; do
  [ -e "$f" ] || { echo "migrate.sh: $f is missing (build rrvm and rrvm_guest first)" >&2; exit 1; }
done
tmp=$(mktemp -d "${RRVM_BENCH_DIR:-/tmp}/rrvm-migrate-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "snapshot/restore, median of $runs runs, $(date -u +%F), $(nproc) CPUs," \
     "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "snapshots in ${RRVM_BENCH_DIR:-/tmp}, $(qemu-system-x86_64 --version | head -1)"
python3 - "$build/rrvm" "$build/rrvm-guest.elf" "$tmp" "$runs" "${RRVM_BENCH_MEM:-256M 1G}" <<'PY'
import json, os, shlex, signal, socket, statistics, subprocess, sys, threading, time

RRVM, GUEST, TMP, RUNS, MEMS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split()
APPEND = "cpus=2 tick_ms=5"
TIMEOUT = 60.0


class BenchError(Exception):
    pass


class Qmp:
    """Just enough QMP: commands, and waiting for one event."""

    def __init__(self, path):
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError as e:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise BenchError(f"QMP socket {path}: {e}")
                time.sleep(0.005)
        self.file = self.sock.makefile("r")
        self.events = []
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        line = self.file.readline()
        if not line:
            raise BenchError("the VMM closed its QMP socket")
        return json.loads(line)

    def send(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall((json.dumps(msg) + "\n").encode())

    def cmd(self, name, args=None):
        self.send(name, args)
        while True:
            m = self.read()
            if "event" in m:
                self.events.append(m)
            elif "error" in m:
                raise BenchError(f"QMP {name}: {m['error'].get('desc')}")
            else:
                return m.get("return")

    def wait_event(self, name, pred):
        """The first event `name` whose data satisfies pred; replies read meanwhile (to commands
        sent with send()) are checked for errors and dropped."""
        while True:
            for e in self.events:
                if e["event"] == name and pred(e.get("data", {})):
                    self.events.remove(e)
                    return e
            m = self.read()
            if "error" in m:
                raise BenchError(f"QMP: {m['error'].get('desc')}")
            if "event" in m:
                self.events.append(m)


class Vmm:
    """One VMM process; its stdout is the guest console, read by a thread that timestamps ticks."""

    def __init__(self, argv, name):
        self.err_path = os.path.join(TMP, name + ".err")
        self.ticks = []  # (monotonic time, tick number)
        self.cond = threading.Condition()
        self.start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=open(self.err_path, "w"))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            # A line cut by the stop is not a tick yet: the target prints it again.
            if line.startswith(b"tick ") and line.endswith(b"\n"):
                with self.cond:
                    self.ticks.append((now, int(line.split()[1])))
                    self.cond.notify_all()

    def wait_ticks(self, count):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.ticks) >= count or self.proc.poll() is not None,
                                    TIMEOUT)
            if not ok or len(self.ticks) < count:
                raise BenchError(f"no tick {count} from {self.proc.args[0]}: {self.stderr()}")
            return self.ticks[count - 1]

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join()


def rrvm_argv(trace, mem, initrd, name, incoming=None):
    argv = [RRVM, "--log", "warn"]
    argv += ["restore", incoming] if incoming else ["run", "--append", APPEND]
    argv += ["--mem", mem, "--cpus", "2", "--qmp", os.path.join(TMP, name + ".sock")]
    argv += ["--trace", os.path.join(TMP, name + ".rrtrace")] if trace else ["--no-trace"]
    if initrd and not incoming:
        argv += ["--initrd", initrd]
    return argv


def qemu_argv(mem, initrd, name, incoming=None):
    argv = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-m", mem, "-smp", "2",
            "-display", "none", "-nodefaults", "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0x501,iosize=2", "-kernel", GUEST, "-append", APPEND,
            "-qmp", f"unix:{os.path.join(TMP, name + '.sock')},server=on,wait=off"]
    if initrd:  # also on the target: QEMU's machine must match the source's
        argv += ["-initrd", initrd]
    if incoming:
        argv += ["-incoming", "exec:cat " + shlex.quote(incoming)]
    return argv


def save(kind, mem, initrd, snap):
    """Boots a ticking source, saves it; returns (save ms, downtime ms, last tick before the save)."""
    qemu = kind == "qemu"
    name = f"{kind}-source"
    argv = qemu_argv(mem, initrd, name) if qemu else rrvm_argv(kind == "rrvm-trace", mem, initrd, name)
    vm = Vmm(argv, name)
    try:
        qmp = Qmp(os.path.join(TMP, name + ".sock"))
        vm.wait_ticks(3)
        if qemu:
            qmp.cmd("migrate-set-capabilities",
                    {"capabilities": [{"capability": "events", "state": True}]})
            qmp.cmd("migrate-set-parameters", {"max-bandwidth": 1 << 40})
            uri = "exec:cat > " + shlex.quote(snap)
        else:
            uri = "file:" + snap
        t0 = time.monotonic()
        qmp.send("migrate", {"uri": uri})
        done = qmp.wait_event("MIGRATION", lambda d: d.get("status") in ("completed", "failed"))
        t1 = time.monotonic()
        info = qmp.cmd("query-migrate")
        if done["data"]["status"] != "completed":
            raise BenchError(f"{kind}: save failed: {info.get('error-desc', info)}")
        qmp.cmd("quit")
    finally:
        vm.stop()
    # After stop(): every line the source printed has been read.
    return (t1 - t0) * 1000, info.get("downtime", 0), vm.ticks[-1][1]


def restore(kind, mem, initrd, snap, last_tick):
    """Starts the target; returns ms until its first tick, which must continue the source's."""
    name = f"{kind}-target"
    if kind == "qemu":
        argv = qemu_argv(mem, initrd, name, incoming=snap)
    else:
        argv = rrvm_argv(kind == "rrvm-trace", mem, initrd, name, incoming=snap)
    vm = Vmm(argv, name)
    try:
        t, n = vm.wait_ticks(1)
        # The saved RAM may hold a counter already incremented for a line not printed yet.
        if n not in (last_tick + 1, last_tick + 2):
            raise BenchError(f"{kind}: restored guest printed tick {n} after {last_tick}")
        return (t - vm.start) * 1000
    finally:
        vm.stop()


def measure(kind, mem, initrd):
    saves, downs, sizes, restores = [], [], [], []
    for i in range(RUNS):
        snap = os.path.join(TMP, f"{kind}-{i}.snap")
        ms, down, last = save(kind, mem, initrd, snap)
        saves.append(ms)
        downs.append(down)
        sizes.append(os.path.getsize(snap))
        restores.append(restore(kind, mem, initrd, snap, last))
        os.remove(snap)
    med = statistics.median
    return {"save": med(saves), "downtime": med(downs), "size": med(sizes), "restore": med(restores)}


def size_text(b):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= div:
            return f"{b / div:.1f} {unit}"
    return f"{b} B"


def table(title, r):
    print(f"\n{title}\n")
    print("| | rrvm (trace on) | rrvm (trace off) | QEMU | rrvm/QEMU (on) | rrvm/QEMU (off) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for key, label, fmt in (("save", "save (ms)", "{:.1f}"), ("downtime", "downtime (ms)", "{:.0f}"),
                            ("size", "snapshot size", None), ("restore", "restore to first tick (ms)", "{:.1f}")):
        on, off, q = r["rrvm-trace"][key], r["rrvm-notrace"][key], r["qemu"][key]
        show = size_text if fmt is None else fmt.format
        ratio = lambda a: f"{a / q:.2f}" if q else "n/a"
        print(f"| {label} | {show(on)} | {show(off)} | {show(q)} | {ratio(on)} | {ratio(off)} |")
    sys.stdout.flush()


random_initrd = os.path.join(TMP, "random64M.img")
with open(random_initrd, "wb") as f:
    for _ in range(64):
        f.write(os.urandom(1 << 20))
try:
    for mem in MEMS:
        for label, initrd in (("idle", None), ("64 MiB random initrd", random_initrd)):
            results = {k: measure(k, mem, initrd) for k in ("rrvm-trace", "rrvm-notrace", "qemu")}
            table(f"{mem} guest, {label}", results)
except BenchError as e:
    print(f"migrate.sh: {e}", file=sys.stderr)
    sys.exit(1)
PY
