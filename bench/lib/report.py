"""Results: one JSON line per figure (and per unavailable or failed run),
and the summary table (median, min, max per system; the tern/peer ratio
computed within each repetition, oriented so that above 1 means tern is
better: tern/peer for rates, peer/tern for times and memory)."""
import json
import socket
import statistics
import time


class Partial(Exception):
    """A run that measured some figures and failed on others."""

    def __init__(self, figs, message):
        super().__init__(message)
        self.figs = figs


class Results:
    def __init__(self, path, run_id, meta, write=True):
        self.path = path
        self.write = write
        self.run_id = run_id
        self.meta = meta
        self.figs = {}          # (workload, metric) -> {"unit", "better", "values": {sys: {rep: v}}}
        self.order = []
        self.notes = []         # (workload title, system, text)
        self.errors = 0
        self._write({"kind": "run", **meta})

    def _write(self, obj):
        if not self.write:
            return
        obj = {"run": self.run_id, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               **obj}
        with open(self.path, "a") as f:
            f.write(json.dumps(obj, sort_keys=True) + "\n")

    def add(self, workload, metric, system, rep, value, unit, better, extra=None):
        key = (workload, metric)
        if key not in self.figs:
            self.figs[key] = {"unit": unit, "better": better, "values": {}}
            self.order.append(key)
        self.figs[key]["values"].setdefault(system, {})[rep] = value
        self._write({"kind": "figure", "workload": workload, "metric": metric, "system": system,
                     "rep": rep, "value": value, "unit": unit, "better": better,
                     **(extra or {})})

    def note(self, workload, system, text, error=False):
        self.notes.append((workload, system, text))
        if error:
            self.errors += 1
        self._write({"kind": "error" if error else "unavailable", "workload": workload,
                     "system": system, "text": text})

    @classmethod
    def load(cls, path, run_id=None):
        """The figures of one run (the last one in the file by default)."""
        with open(path) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        runs = [l["run"] for l in lines if l.get("kind") == "run"]
        if not runs:
            raise SystemExit(f"{path}: no run in this file")
        run_id = run_id or runs[-1]
        meta = next(l for l in lines if l.get("kind") == "run" and l["run"] == run_id)
        res = cls(path, run_id, meta, write=False)
        for l in lines:
            if l.get("run") != run_id:
                continue
            if l["kind"] == "figure":
                res.add(l["workload"], l["metric"], l["system"], l["rep"], l["value"], l["unit"],
                        l["better"])
            elif l["kind"] in ("error", "unavailable"):
                res.note(l["workload"], l["system"], l["text"], error=l["kind"] == "error")
        return res

    # ------------------------------------------------------------ table
    @staticmethod
    def _ratio(better, tern, peer):
        if not tern or not peer:
            return None
        return tern / peer if better == "higher" else peer / tern

    @staticmethod
    def _fmt(v):
        if v is None:
            return "-"
        a = abs(v)
        return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 \
            else f"{v:.3f}"

    def _stat(self, vals):
        if not vals:
            return "n/a"
        return (f"{self._fmt(statistics.median(vals))} "
                f"[{self._fmt(min(vals))}-{self._fmt(max(vals))}]")

    def rows(self):
        """[(workload, metric, unit, tern stat, peer, peer stat, ratio stat)]."""
        out = []
        for key in self.order:
            f = self.figs[key]
            vals = f["values"]
            tern = vals.get("tern", {})
            peers = [s for s in vals if s != "tern"] or ["-"]
            for peer in peers:
                pv = vals.get(peer, {})
                ratios = [r for r in (self._ratio(f["better"], tern.get(k), pv.get(k))
                                      for k in tern) if r is not None]
                out.append((key[0], key[1], f["unit"],
                            self._stat(list(tern.values())) if peer != "machine" else "",
                            peer, self._stat(list(pv.values())),
                            self._stat(ratios) if ratios else "-"))
        return out

    def table(self):
        head = ("workload", "figure", "unit", "tern med [min-max]", "peer",
                "peer med [min-max]", "ratio (>1: tern better)")
        rows = [head] + self.rows()
        w = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
        lines = [" | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        lines.insert(1, "-+-".join("-" * x for x in w))
        for wl, system, text in self.notes:
            lines.append(f"note: {wl}: {system}: {text}")
        return "\n".join(lines)

    def markdown(self):
        head = ("workload", "figure", "unit", "tern", "peer", "peer value", "ratio")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows():
            lines.append("| " + " | ".join(str(c) if c != "" else "-" for c in r) + " |")
        return "\n".join(lines)


def machine_meta():
    import os
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {"host": socket.gethostname(), "cpus": os.cpu_count(), "cpu": cpu, "mem_mb": mem,
            "kernel": os.uname().release}
