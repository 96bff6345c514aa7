"""The bench's own time budget: wall and CPU seconds of each step, and the load it ran under.

CPU seconds are those of the bench process and every process it started
(the stack: Redis, the sandbox, gunicorn and its workers, RQ workers,
Chromium, PostgreSQL's server): the live ones read from ``/proc``, the
ones that already ended through their parents' ``cutime``/``cstime``
(``os.times()`` for the bench's own children). On a machine other people
load, wall time stretches but CPU time barely does, so ``cpu_seconds``
and ``load_average`` let a reader estimate the step's quiet wall time.
"""
import os
import time

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """``(ppid, own + reaped children's CPU seconds)`` of ``pid``; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is the state (field 3 of proc(5)): ppid is field 4, utime..cstime fields 14-17.
    return int(fields[1]), sum(int(v) for v in fields[11:15]) / TICK


def tree_cpu_seconds(root=None, extra_pids=()):
    """CPU seconds used so far by ``root`` (this process), every live descendant and everything they reaped.

    ``extra_pids`` are processes outside the tree that the bench started (a
    daemonised PostgreSQL postmaster): counted with their own descendants.
    """
    root = root or os.getpid()
    parents, cpu = {}, {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            found = _stat(int(name))
            if found:
                parents[int(name)], cpu[int(name)] = found
    roots = {root, *extra_pids}
    counted = 0.0
    for pid, seconds in cpu.items():
        p, seen = pid, 0
        while p and p not in roots and seen < 64:  # walk up to a root (bounded: a reused pid cannot loop us)
            p, seen = parents.get(p), seen + 1
        if p in roots and pid != root:
            counted += seconds
    own = os.times()
    return counted + own.user + own.system + own.children_user + own.children_system


class Clock:
    """Times each named step: ``with clock.step(name):`` …; ``summary()`` for the JSON."""

    def __init__(self, extra_pids=lambda: ()):
        self.extra_pids = extra_pids
        self.steps = {}
        self.open = []  # the steps running now, outermost first (a step may run inside another)
        self.began = time.monotonic()

    def start(self, name):
        mark = {"name": name, "wall": time.monotonic(), "cpu": self._cpu(), "load": os.getloadavg()[0],
                "within": self.open[-1]["name"] if self.open else None}
        self.open.append(mark)
        self.steps[name] = {}  # its place in the order steps began (filled in by stop)
        return mark

    def stop(self, mark):
        self.open.remove(mark)
        wall = time.monotonic() - mark["wall"]
        cpu = self._cpu() - mark["cpu"]
        self.steps[mark["name"]].update({
            "seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1),
            # The 1-minute load average at the step's start and end: how many were asking for the 2 cores.
            "load_average": [round(mark["load"], 2), round(os.getloadavg()[0], 2)],
        })
        if mark["within"]:
            self.steps[mark["name"]]["within"] = mark["within"]  # already counted in that step's time
        return self.steps[mark["name"]]

    def _cpu(self):
        try:
            return tree_cpu_seconds(extra_pids=tuple(self.extra_pids()))
        except OSError:
            return 0.0

    def summary(self):
        total = time.monotonic() - self.began
        done = {n: s for n, s in self.steps.items() if s}
        cpu = round(sum(s["cpu_seconds"] for s in done.values() if not s.get("within")), 1)
        return {"seconds": round(total, 1), "cpu_seconds": cpu, "steps": done}

    def table(self):
        """The lines the bench prints at the end: each step's wall and CPU seconds, then the total."""
        steps = self.summary()["steps"]
        width = max((len(n) for n in steps), default=5)
        lines = [f"  {'step'.ljust(width + 2)}  wall s   CPU s  load (start → end)"]
        for name, s in steps.items():
            shown = f"  {name}" if s.get("within") else name  # indented: part of the step above
            lines.append(f"  {shown.ljust(width + 2)}  {s['seconds']:6.0f}  {s['cpu_seconds']:6.0f}  "
                         f"{s['load_average'][0]:.1f} → {s['load_average'][1]:.1f}")
        total = self.summary()
        lines.append(f"  {'total'.ljust(width + 2)}  {total['seconds']:6.0f}  {total['cpu_seconds']:6.0f}")
        return lines
