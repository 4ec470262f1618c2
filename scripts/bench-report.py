#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/bench-report.py — runs the benchmark programs of bench/ and writes the report
docs/bench/README.md with SVG charts (gnuplot) and the raw outputs it was built from.

Usage: scripts/bench-report.py BUILD_DIR [OUT_DIR] [--runs N]      (make bench-report)

Engines. bench_exec and bench_prepare print tables whose header starts with "program"; a
column named "engine" (or a line "== engine NAME" before a table) says which execution engine
a row measured, and a table without either is the interpreter ("interp"). Every engine found
becomes a series of the charts and a column of the tables, and with two or more engines the
exec table adds their ratio, measured side by side in the same run.
"""
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys

# ---- running -------------------------------------------------------------------------------


def run_bench(build, name, args=(), timeout=1800):
    """(exit code, combined output) of one benchmark program; (None, reason) when absent."""
    path = os.path.join(build, name)
    if not os.path.exists(path):
        return None, f"{name} not built"
    p = subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(ln.split()[1] for ln in f if ln.startswith("MemTotal")))
            mem = f"{kb / 1048576:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = ""
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        pass
    return {"cpu": cpu or platform.processor() or "unknown", "cores": str(os.cpu_count()),
            "memory": mem or "unknown", "kernel": f"{platform.system()} {platform.release()}",
            "compiler": sh("cc --version | head -1") or "unknown", "load": load}


# ---- parsing -------------------------------------------------------------------------------
NUM = re.compile(r"^-?[\d.]+x?$")
NUMERIC = ("instructions", "best ms", "best us", "ns/instr", "MB/s", "code bytes", "upstream")


def parse_tables(text):
    """Rows of every "program ..." table as dicts keyed by the header's names (columns are
    separated by two or more spaces in the header, by whitespace in the rows)."""
    rows, header, engine = [], None, "interp"
    for line in text.splitlines():
        m = re.match(r"^==\s*engine\s+(\S+)", line)
        if m:
            engine, header = m.group(1), None
            continue
        if line.startswith("program"):
            header = re.split(r"\s{2,}", line.strip())
            continue
        if header is None or not line.strip():
            continue
        cells = line.split()
        row = dict(zip(header, cells))
        if len(cells) < len(header) or not all(NUM.match(row[k]) for k in NUMERIC if k in row):
            continue  # a note such as "fib skipped: ..."
        row.setdefault("engine", engine)
        rows.append(row)
    return rows


def parse_pairs(text):
    """"label: number unit" lines (bench_cap, bench_vm) as {label: (number, unit)}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([^:=]+?):\s+([\d.]+)\s*([^\s(]+)", line)
        if m:
            out[m.group(1).strip()] = (float(m.group(2)), m.group(3))
    return out


def parse_store(text):
    """bench_store's lines: {label: {"rate": per second, "each_us": ..., "what": ...}}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+(?: \w+)?)\s+(\d+)\s+(.+?)\s+(\d+) /s(?:\s+([\d.]+) us each)?", line)
        if m:
            label = m.group(1)
            if label in out:  # a second measurement of the same operation: name it apart
                label = f"{label} ({len([k for k in out if k.startswith(label)]) + 1})"
            out[label] = {"n": int(m.group(2)), "what": m.group(3).strip(), "rate": int(m.group(4)),
                               "each_us": float(m.group(5)) if m.group(5) else None}
            continue
        m = re.match(r"^fdatasync\s+(.+?):\s+([\d.]+) us each", line)
        if m:
            out["fdatasync"] = {"what": m.group(1), "each_us": float(m.group(2)), "rate": 1e6 / float(m.group(2))}
        m = re.match(r"^gc\s+(\d+)\s+(.+?)\s+([\d.]+) s", line)
        if m:
            out["gc"] = {"n": int(m.group(1)), "what": m.group(2), "seconds": float(m.group(3)),
                         "rate": int(m.group(1)) / float(m.group(3))}
    return out


def parse_guest(text):
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(.*?)\s{2,}([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+(.*)$", line)
        if m:
            rows.append({"benchmark": m.group(1).strip(), "native_ms": float(m.group(2)),
                         "guest_ms": float(m.group(3)), "ratio": float(m.group(4)), "check": m.group(5)})
    return rows


# ---- charts --------------------------------------------------------------------------------
GNUPLOT_HEAD = """set terminal svg size {w},{h} dynamic noenhanced font "sans,12" background rgb "white"
set output "{out}"
set title "{title}"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key autotitle columnhead
set key {key}
set ylabel "{ylabel}"
set yrange [0:*]
set xtics nomirror font ",10"
"""
COLORS = ["#3b6ea5", "#d9822b", "#5aa469", "#b8473d", "#7d5ba6"]


def chart(out_dir, name, title, ylabel, labels, series, *, log=False, w=760, h=380, fmt="%.2f"):
    """A clustered bar chart: labels on x, series = [(series name, [value per label])]."""
    if not shutil.which("gnuplot"):
        return None
    dat = os.path.join(out_dir, f".{name}.dat")
    with open(dat, "w") as f:
        f.write("label\t" + "\t".join(f'"{s}"' for s, _ in series) + "\n")
        for i, lab in enumerate(labels):
            f.write(f'"{lab}"\t' + "\t".join(("%g" % v[i]) if v[i] is not None else "?" for _, v in series) + "\n")
    svg = f"{name}.svg"
    script = GNUPLOT_HEAD.format(w=w, h=h, out=os.path.join(out_dir, svg), title=title, ylabel=ylabel,
                                 key="top left" if len(series) > 1 else "off")
    if log:
        script += "set logscale y\nset yrange [*:*]\n"
    n = len(series)
    plots = []
    for k in range(n):
        col = k + 2
        plots.append(f"'{dat}' using {col}:xtic(1) lc rgb '{COLORS[k % len(COLORS)]}'")
    # value labels above the bars
    for k in range(n):
        col = k + 2
        off = (k - (n - 1) / 2) / (n + 1)
        plots.append(f"'{dat}' using ($0+{off:.3f}):{col}:(sprintf('{fmt}', ${col})) with labels "
                     f"offset 0,0.7 font 'sans,10' notitle")
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
    os.remove(dat)
    if p.returncode:
        sys.stderr.write(f"bench-report: gnuplot failed for {name}: {p.stderr}\n")
        return None
    return svg


# ---- the report ----------------------------------------------------------------------------


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main():
    args = [a for a in sys.argv[1:]]
    runs = 7
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    if not args:
        sys.exit(__doc__)
    build = os.path.abspath(args[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.abspath(args[1] if len(args) > 1 else os.path.join(root, "docs", "bench"))
    os.makedirs(os.path.join(out_dir, "raw"), exist_ok=True)

    started = datetime.datetime.now(datetime.timezone.utc)
    mach = machine()
    commit = sh(f"git -C '{root}' rev-parse --short=12 HEAD") or "unknown"
    if sh(f"git -C '{root}' status --porcelain --untracked-files=no"):
        commit += " (with uncommitted changes)"
    build_type = sh(f"sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' '{build}/CMakeCache.txt'") or "?"

    raw = {}
    plan = [("bench_exec", [runs]), ("bench_prepare", [runs]), ("bench_vm", []), ("bench_cap", []),
            ("bench_store", []), ("bench_guest", [])]
    for name, a in plan:
        sys.stderr.write(f"bench-report: running {name}\n")
        rc, text = run_bench(build, name, a)
        raw[name] = (rc, text)
        with open(os.path.join(out_dir, "raw", f"{name}.txt"), "w") as f:
            f.write(text)

    md = ["# javm-c benchmark report", "",
          "Written by `make bench-report` (`scripts/bench-report.py`); regenerate it to measure your",
          "own machine. Raw outputs of every benchmark program are in [raw/](raw/).", "",
          md_table(["run", ""], [["date (UTC)", started.strftime("%Y-%m-%d %H:%M")], ["commit", commit],
                                 ["CPU", mach["cpu"]], ["cores", mach["cores"]], ["memory", mach["memory"]],
                                 ["kernel", mach["kernel"]], ["compiler", mach["compiler"]],
                                 ["build", f"{build_type} (`{os.path.relpath(build, root)}`)"],
                                 ["load average at start", mach["load"]]]), "",
          "## How it was measured", "",
          "Every figure comes from the programs of `bench/`, run one after the other in this one run on",
          "the machine above. Times are wall-clock (`CLOCK_MONOTONIC`); where a program repeats a",
          "measurement it keeps the best run, which is the least disturbed by other work on the machine.",
          "Ratios (guest against native code, one engine against another) are between figures",
          "measured side by side in the same run. Figures quoted from elsewhere are marked as such and",
          "are not part of any ratio drawn in a chart. On a shared or loaded machine absolute times",
          "vary from run to run; the ratios vary much less.", ""]

    # exec: ns/instr per program and engine (the headline chart)
    rc, text = raw["bench_exec"]
    rows = parse_tables(text or "")
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    progs = list(dict.fromkeys(r["program"] for r in rows))
    md += ["## Interpreter speed: ns per executed instruction", ""]
    if rows:
        val = {(r["program"], r["engine"]): float(r["ns/instr"]) for r in rows}
        instr = {r["program"]: r.get("instructions", "") for r in rows}
        upstream = {r["program"]: r.get("upstream") for r in rows}
        svg = chart(out_dir, "exec", "ns per executed instruction (lower is better)", "ns / instruction",
                    progs, [(e, [val.get((p, e)) for p in progs]) for e in engines], fmt="%.2f")
        if svg:
            md += [f"![ns per instruction]({svg})", ""]
        head = ["program", "instructions"] + [f"{e} ns/instr" for e in engines]
        if len(engines) > 1:
            head += [f"{engines[0]} / {e}" for e in engines[1:]]
        head += ["upstream interpreter (quoted)"]
        trows = []
        for p in progs:
            r = [p, instr[p]] + [f"{val[(p, e)]:.3f}" if (p, e) in val else "" for e in engines]
            if len(engines) > 1:
                r += [f"{val[(p, engines[0])] / val[(p, e)]:.2f}x" if (p, e) in val and (p, engines[0]) in val
                      else "" for e in engines[1:]]
            r += [upstream[p] or ""]
            trows.append(r)
        md += [md_table(head, trows), "",
               f"`bench_exec {runs}`: each program of `bench/programs/` prepared once, then run {runs} times",
               "from its initial state under the JAVM profile with pipeline gas; the best run's time is",
               "divided by the exact number of instructions executed (every result is checked against",
               "the program's expected registers, memory and gas). The last column is the upstream Rust",
               "interpreter's figure as supplied with the benchmark programs, measured on another",
               "machine at another time: quoted for orientation, not measured here.", ""]
    else:
        md += [f"Not measured: {text.strip()[:200] if text else 'bench_exec failed'}", ""]

    # compile throughput
    rc, text = raw["bench_prepare"]
    rows = parse_tables(text or "")
    md += ["## Compile throughput", ""]
    if rows:
        engines_c = list(dict.fromkeys(r["engine"] for r in rows))
        progs_c = list(dict.fromkeys(r["program"] for r in rows))
        val = {(r["program"], r["engine"]): r for r in rows}
        svg = chart(out_dir, "prepare", "code prepared per second (higher is better)", "MB of code / s",
                    progs_c, [(e, [float(val[(p, e)]["MB/s"]) if (p, e) in val else None for p in progs_c])
                              for e in engines_c], fmt="%.0f")
        if svg:
            md += [f"![compile throughput]({svg})", ""]
        md += [md_table(["program", "engine", "code bytes", "instructions", "best µs", "MB/s", "ns/instr"],
                        [[r["program"], r["engine"], r["code bytes"], r["instructions"], r["best us"], r["MB/s"],
                          r["ns/instr"]] for r in rows]), "",
               "`bench_prepare`: `javm_prepare` (validation and predecoding, the interpreter's compile",
               "step) on each benchmark program (best of many calls) and on a synthetic 1 MiB",
               "straight-line program (`straight`).", ""]
    else:
        md += ["Not measured: bench_prepare failed.", ""]

    # guest vs native
    rc, text = raw["bench_guest"]
    rows = parse_guest(text or "")
    md += ["## Guest code against native code", ""]
    if rows:
        svg = chart(out_dir, "guest", "guest time / native time (lower is better)", "times slower than native",
                    [r["benchmark"] for r in rows], [("interp", [r["ratio"] for r in rows])], fmt="%.1fx")
        if svg:
            md += [f"![guest vs native]({svg})", ""]
        md += [md_table(["benchmark", "native ms", "guest ms", "guest / native", "check"],
                        [[r["benchmark"], r["native_ms"], r["guest_ms"], f"{r['ratio']}x", r["check"]] for r in rows]),
               "", "`bench_guest`: the same C source compiled twice, natively (-O2) and as a JAVM guest",
               "(clang-19, `javm ld`), run side by side; the guest time is a whole `javm_invoke` on the",
               "in-memory store (input copy, run, settle, commit). The check column compares the results.", ""]
    else:
        md += [f"Not measured: {(text or '').strip()[:200] or 'bench_guest failed'}", ""]

    # host calls, invocations, commits
    vm = parse_pairs(raw["bench_vm"][1] or "")
    st = parse_store(raw["bench_store"][1] or "")
    md += ["## Host calls, invocations and store commits", ""]
    costs = []
    if "host call round trip" in vm:
        costs.append(("host call", vm["host call round trip"][0]))
    if "empty invocation round trip" in vm:
        v, unit = vm["empty invocation round trip"]
        costs.append(("invocation", v * (1000 if unit == "us" else 1)))
    for key, lab in (("invoke no_sync", "commit (no sync)"), ("invoke durable", "commit (durable)")):
        if key in st and st[key].get("each_us"):
            costs.append((lab, st[key]["each_us"] * 1000))
    if costs:
        svg = chart(out_dir, "costs", "cost per operation (log scale, lower is better)", "ns",
                    [c[0] for c in costs], [("interp", [c[1] for c in costs])], log=True, w=860, fmt="%.0f")
        if svg:
            md += [f"![cost per operation]({svg})", ""]
    md += [md_table(["operation", "figure"], [[k, f"{v:g} {u}"] for k, (v, u) in vm.items()]), "",
           "`bench_vm`: a host call is one `ecalli` of a guest loop answered by a registered host",
           "function, timed over many calls; an invocation is `javm_invoke` of an endpoint that halts",
           "at once, on the in-memory store.", ""]
    rates = [(k, v) for k, v in st.items() if "rate" in v and k != "fdatasync"]
    if rates:
        svg = chart(out_dir, "store", "store operations per second (log scale, higher is better)", "per second",
                    [k for k, _ in rates], [("LMDB", [v["rate"] for _, v in rates])], log=True, w=980, fmt="%.0f")
        if svg:
            md += [f"![store operations per second]({svg})", ""]
        md += [md_table(["operation", "what", "per second"],
                        [[k, v.get("what", ""), f"{v['rate']:.0f}"] for k, v in st.items()]), "",
               "`bench_store`: an LMDB store in a temporary directory. `invoke durable` commits each",
               "invocation with `fdatasync` (so it is bounded by the disk's sync time, shown by the",
               "`fdatasync` line); `invoke no_sync` skips the sync. The cache and raw rows put and get",
               "small records in batches.", ""]
    cap = parse_pairs(raw["bench_cap"][1] or "")
    if cap:
        md += ["## Capability layer", "", md_table(["operation", "figure"], [[k, f"{v:g} {u}"] for k, (v, u) in cap.items()]),
               "", "`bench_cap`: cache operations and hashing on the in-memory store.", ""]
    failed = [n for n, (rc, _) in raw.items() if rc not in (0, 77)]
    if failed:
        md += ["## Programs that failed", "", ", ".join(f"`{n}` (exit {raw[n][0]})" for n in failed), ""]
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(md))
    sys.stderr.write(f"bench-report: wrote {os.path.join(out_dir, 'README.md')}\n")
    return 1 if raw["bench_exec"][0] not in (0,) else 0


if __name__ == "__main__":
    sys.exit(main())
