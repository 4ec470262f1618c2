#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/bench-report.py — runs the benchmark programs of bench/ and writes the report
docs/bench/README.md with SVG charts (gnuplot) and the raw outputs it was built from.

Usage: scripts/bench-report.py BUILD_DIR [OUT_DIR] [--runs N]      (make bench-report)

Engines. bench_exec prints one column per engine ("interp", "jit"; "-" where an engine was not
measured, e.g. a build without the JIT); a table with one "ns/instr" column and an "engine"
column (or a line "== engine NAME" before it) is read too, and without either it is the
interpreter. Every engine found becomes a series of the charts and a column of the tables, and
with two engines the exec table adds their ratio, measured side by side in the same run.
bench_prepare (the interpreter's predecoding) and bench_jit (the JIT's compilation) give the
compile throughput of each engine.
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
# Column names of more than one word in the benchmark programs' headers.
MULTIWORD = ("ratio (upstream/ours)", "compile us", "code bytes", "best ms", "best us", "native B")


def split_header(line):
    cols, rest = [], line.strip()
    while rest:
        name = next((m for m in MULTIWORD if rest.startswith(m)), None)
        if name is None:
            name = rest.split()[0]
        cols.append(name)
        rest = rest[len(name):].lstrip()
    return cols


def parse_tables(text):
    """Rows of every table whose header starts with "program", as dicts keyed by the header's
    column names. A program name may have several words: the last cells are the values. A
    value "-" (an engine not measured) becomes None; a row that is a note ("fib skipped: ...")
    is left out; "(RESULT MISMATCH)" sets "mismatch"."""
    rows, header, engine = [], None, None
    for line in text.splitlines():
        m = re.match(r"^==\s*engine\s+(\S+)", line)
        if m:
            engine, header = m.group(1), None
            continue
        if line.startswith("program"):
            header = split_header(line)
            continue
        if header is None or not line.strip():
            continue
        mismatch = "(RESULT MISMATCH)" in line
        cells = line.replace("(RESULT MISMATCH)", "").split()
        n = len(header) - 1
        if len(cells) < n + 1:
            continue
        vals = cells[len(cells) - n:]
        if not all(NUM.match(v) or v == "-" or k == "engine" for k, v in zip(header[1:], vals)) or \
                NUM.match(cells[0]):
            continue
        row = {"program": " ".join(cells[:len(cells) - n]), "mismatch": mismatch}
        row.update({k: (None if v == "-" else v) for k, v in zip(header[1:], vals)})
        if engine and "engine" not in row:
            row["engine"] = engine
        rows.append(row)
    return rows


ENGINES = ("interp", "jit")


def exec_rows(text):
    """bench_exec's rows as (program, engine, ns/instr, instructions, quoted upstream figure,
    JIT compile µs) for each engine measured. Two layouts: one column per engine ("interp",
    "jit", with "up.interp", "up.jit", "compile us"), or one "ns/instr" column with an optional
    "engine" column (the interpreter when absent)."""
    out = []
    for r in parse_tables(text):
        if "ns/instr" in r:
            if r["ns/instr"] is not None:
                out.append((r["program"], r.get("engine") or "interp", float(r["ns/instr"]),
                            r.get("instructions"), r.get("upstream"), None))
            continue
        for e in ENGINES:
            if r.get(e) is not None:
                out.append((r["program"], e, float(r[e]), r.get("instructions"), r.get(f"up.{e}"),
                            r.get("compile us") if e == "jit" else None))
    return out


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
            name, engine = m.group(1).strip(), "interp"
            e = re.match(r"^(.*?)\s*\[(\w+)\]$", name)  # "blake2b-256, 1 MiB [jit]"
            if e:
                name, engine = e.group(1), e.group(2)
            rows.append({"benchmark": name, "engine": engine, "native_ms": float(m.group(2)),
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
set datafile missing "?"
set ylabel "{ylabel}"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
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
    plan = [("bench_exec", [runs]), ("bench_prepare", [runs]), ("bench_jit", [runs]), ("bench_vm", []), ("bench_cap", []),
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
    rows = exec_rows(text or "")
    engines = list(dict.fromkeys(r[1] for r in rows))
    progs = list(dict.fromkeys(r[0] for r in rows))
    md += ["## Execution speed: ns per executed instruction", ""]
    if rows:
        val = {(p, e): v for p, e, v, _, _, _ in rows}
        instr = {p: i for p, _, _, i, _, _ in rows}
        upstream = {(p, e): u for p, e, _, _, u, _ in rows}
        compile_us = {p: c for p, e, _, _, _, c in rows if c is not None}
        svg = chart(out_dir, "exec", "ns per executed instruction (lower is better)", "ns / instruction",
                    progs, [(e, [val.get((p, e)) for p in progs]) for e in engines], fmt="%.2f")
        if svg:
            md += [f"![ns per instruction]({svg})", ""]
        head = ["program", "instructions"] + [f"{e} ns/instr" for e in engines]
        if len(engines) > 1:
            head += [f"{engines[0]} / {e}" for e in engines[1:]]
        if compile_us:
            head += ["JIT compile µs"]
        head += [f"upstream {e} (quoted)" for e in engines]
        trows = []
        for p in progs:
            r = [p, instr[p] or ""] + [f"{val[(p, e)]:.3f}" if (p, e) in val else "" for e in engines]
            if len(engines) > 1:
                r += [f"{val[(p, engines[0])] / val[(p, e)]:.2f}x" if (p, e) in val and (p, engines[0]) in val
                      else "" for e in engines[1:]]
            if compile_us:
                r += [compile_us.get(p, "")]
            r += [upstream.get((p, e)) or "" for e in engines]
            trows.append(r)
        md += [md_table(head, trows), "",
               f"`bench_exec {runs}`: each program of `bench/programs/` prepared once, then run {runs} times",
               "per engine from its initial state under the JAVM profile with pipeline gas; the best run's",
               "time is divided by the exact number of instructions executed (every result is checked",
               "against the program's expected registers, memory and gas). Engines: `interp` is the",
               "interpreter, `jit` the x86-64 JIT ([../jit.md](../jit.md)), timed side by side in this run;",
               "the ratio column is how many times faster the second engine ran. The upstream columns are",
               "the upstream Rust implementation's figures as supplied with the benchmark programs,",
               "measured on another machine at another time: quoted for orientation, not measured here.", ""]
    else:
        md += [f"Not measured: {text.strip()[:200] if text else 'bench_exec failed'}", ""]

    # compile throughput: the interpreter's predecoding (bench_prepare), the JIT (bench_jit)
    crow = [dict(r, engine=r.get("engine") or "interp") for r in parse_tables(raw["bench_prepare"][1] or "")]
    jtext = raw["bench_jit"][1] or ""
    for r in parse_tables(jtext):
        crow.append({"program": r["program"], "engine": "jit", "code bytes": r.get("code bytes"),
                     "instructions": r.get("instrs"), "best us": r.get("us"), "MB/s": r.get("MB/s"),
                     "ns/instr": r.get("ns/instr")})
    md += ["## Compile throughput", ""]
    if crow:
        engines_c = list(dict.fromkeys(r["engine"] for r in crow))
        progs_c = list(dict.fromkeys(r["program"] for r in crow))
        val = {(r["program"], r["engine"]): r for r in crow}
        svg = chart(out_dir, "prepare", "code compiled per second (higher is better)", "MB of PVM code / s",
                    progs_c, [(e, [float(val[(p, e)]["MB/s"]) if (p, e) in val and val[(p, e)]["MB/s"] else None
                                   for p in progs_c]) for e in engines_c], w=980, fmt="%.1f")
        if svg:
            md += [f"![compile throughput]({svg})", ""]
        md += [md_table(["program", "engine", "code bytes", "instructions", "best µs", "MB/s", "ns/instr"],
                        [[r["program"], r["engine"], r.get("code bytes") or "", r.get("instructions") or "",
                          r.get("best us") or "", r.get("MB/s") or "", r.get("ns/instr") or ""] for r in crow]), "",
               "`bench_prepare`: `javm_prepare` (validation and predecoding, all the interpreter needs",
               "before it runs) on each benchmark program and on a synthetic 1 MiB straight-line program",
               "(`straight`). `bench_jit`: the JIT's compilation of a prepared program (preparation not",
               "included) on the benchmark programs and on generated programs of 10^4 and 10^5",
               "instructions. Best of several runs each.", ""]
        oneshot = [ln.strip() for ln in jtext.splitlines() if ln.startswith("one-shot")]
        if oneshot:
            md += ["One-shot cost (`bench_jit`): " + oneshot[0], ""]
    else:
        md += ["Not measured: bench_prepare and bench_jit failed.", ""]

    # guest vs native
    rc, text = raw["bench_guest"]
    rows = parse_guest(text or "")
    md += ["## Guest code against native code", ""]
    if rows:
        gengines = list(dict.fromkeys(r["engine"] for r in rows))
        gnames = list(dict.fromkeys(r["benchmark"] for r in rows))
        ratio = {(r["benchmark"], r["engine"]): r["ratio"] for r in rows}
        svg = chart(out_dir, "guest", "guest time / native time (lower is better)", "times slower than native",
                    gnames, [(e, [ratio.get((g, e)) for g in gnames]) for e in gengines], fmt="%.1fx")
        if svg:
            md += [f"![guest vs native]({svg})", ""]
        md += [md_table(["benchmark", "engine", "native ms", "guest ms", "guest / native", "check"],
                        [[r["benchmark"], r["engine"], r["native_ms"], r["guest_ms"], f"{r['ratio']}x", r["check"]]
                         for r in rows]), ""]
        notes = [ln.strip() for ln in (text or "").splitlines() if ln.startswith("JIT compile of")]
        if notes:
            md += ["".join(f"* {n}\n" for n in notes)]
        md += ["`bench_guest`: the same C source compiled twice, natively (-O2) and as a JAVM guest",
               "(clang-19, `javm ld`), run side by side on each engine; the guest time is a whole",
               "`javm_invoke` on the in-memory store (input copy, run, settle, commit). The check column",
               "compares the results.", ""]
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
    failed = [n for n, (rc, _) in raw.items() if rc not in (0, 77, None)]
    if failed:
        md += ["## Programs that failed", "", ", ".join(f"`{n}` (exit {raw[n][0]})" for n in failed), ""]
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(md))
    sys.stderr.write(f"bench-report: wrote {os.path.join(out_dir, 'README.md')}\n")
    return 1 if raw["bench_exec"][0] not in (0,) else 0


if __name__ == "__main__":
    sys.exit(main())
