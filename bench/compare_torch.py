#!/usr/bin/env python3
"""ltrain against PyTorch on the five reference workloads (python3 stdlib only).

    bench/compare_torch.py [--rounds 3] [--steps 20] [--threads 2] [--only WORKLOAD ...]
                           [--modes train infer] [--json] [--ltrain build/core/ltrain]
                           [--torch-script ../shared/bench/torch_train_bench.py] [--python /usr/bin/python3]

Runs `ltrain benchmark --json` on configs/benchmarks/<workload>.yaml and the PyTorch script
(torch_train_bench.py, whose docstring defines the models) on the same workloads and modes, in the
same run, alternating the two (who goes first swaps every round) for --rounds rounds, with the same
--steps and thread count. Each side's time is the best of its per-round medians. Prints a table per
workload and mode: both medians, ratio ltrain/torch, its target (0.8; 0.5 for small-cnn-mnist and
mlp training), pass/FAIL, both peak RSS and whether the forward FLOPs per image agree; --json prints
the same as one JSON object. Exit status 1 when a workload misses its target or FLOPs differ.

Fairness: both sides get the same OPENBLAS_CORETYPE. When it is unset, it is set to what ltrain's
lt_blas_tune would pick (SkylakeX with AVX-512, else Haswell with AVX2) and printed. PyTorch gets
glibc malloc settings that keep freed memory (shared/bench/README.md: 2-4x faster torch here).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = {  # name: modes the torch script runs
    "resnet18-cls-64": ("train", "infer"),
    "resnet18-cls-224": ("train", "infer"),
    "small-cnn-mnist": ("train",),
    "unet-seg": ("train", "infer"),
    "mlp": ("train",),
}
TARGETS = {("small-cnn-mnist", "train"): 0.5, ("mlp", "train"): 0.5}
DEFAULT_TARGET = 0.8
TORCH_MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "68719476736",
    "MALLOC_TOP_PAD_": "67108864",
}
FLOPS_ABS_TOL = 5e-6  # GFLOP: the torch script rounds to 5 decimals, ltrain may not


def cpu_flags(path="/proc/cpuinfo"):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_coretype(env):
    """(core type, note): the caller's, or what ltrain's lt_blas_tune would pick."""
    if env.get("OPENBLAS_CORETYPE"):
        return env["OPENBLAS_CORETYPE"], "from the environment"
    flags = cpu_flags()
    pick = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
    return pick, "was unset; set to what ltrain picks" if pick else "unset; no AVX2 (OpenBLAS picks)"


def last_json_line(text, who):
    """The last line of text that parses as a JSON object."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise RuntimeError("%s printed no JSON object; its output was:\n%s" % (who, text[-2000:]))


def run(cmd, env, who):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s\n%s" % (who, p.returncode, " ".join(cmd), p.stderr[-2000:]))
    return last_json_line(p.stdout, who)


def ltrain_cmd(a, workload, mode):
    return [a.ltrain, "benchmark", "--config", os.path.join(a.configs, workload + ".yaml"), "--steps", str(a.steps),
            "--threads", str(a.threads), "--mode", mode, "--json"]


def torch_cmd(a, workload, mode):
    return [a.python, a.torch_script, "--steps", str(a.steps), "--threads", str(a.threads), "--only", workload,
            "--modes", mode]


def measure(a, jobs, env):
    """{(workload, mode): {"ltrain": [result per round], "torch": [...]}}, alternating the sides."""
    runs = {job: {"ltrain": [], "torch": []} for job in jobs}
    torch_env = dict(env, **TORCH_MALLOC_ENV)
    for r in range(a.rounds):
        for job in jobs:
            sides = [("ltrain", ltrain_cmd(a, *job), env), ("torch", torch_cmd(a, *job), torch_env)]
            for side, cmd, side_env in sides if r % 2 == 0 else reversed(sides):
                who = "%s %s/%s round %d" % (side, job[0], job[1], r + 1)
                runs[job][side].append(run(cmd, side_env, who))
                if not a.json:
                    print("  %-40s %8.2f ms" % (who, runs[job][side][-1]["ms_median"]), file=sys.stderr, flush=True)
    return runs


def summarize(runs):
    """One row per (workload, mode): best medians, ratio, target, verdict, peak RSS, FLOPs check."""
    rows = []
    for (workload, mode), sides in runs.items():
        lt, th = sides["ltrain"], sides["torch"]
        lt_ms, th_ms = min(x["ms_median"] for x in lt), min(x["ms_median"] for x in th)
        target = TARGETS.get((workload, mode), DEFAULT_TARGET)
        ratio = lt_ms / th_ms
        lt_flops, th_flops = lt[0].get("fwd_gflop_per_img"), th[0].get("fwd_gflop_per_img")
        flops_ok = (lt_flops is not None and th_flops is not None
                    and abs(lt_flops - th_flops) <= FLOPS_ABS_TOL + 1e-6 * abs(th_flops))
        rows.append({
            "workload": workload, "mode": mode,
            "ltrain_ms": lt_ms, "torch_ms": th_ms, "ratio": round(ratio, 3), "target": target,
            "pass": ratio <= target,
            "ltrain_ms_rounds": [x["ms_median"] for x in lt], "torch_ms_rounds": [x["ms_median"] for x in th],
            "ltrain_peak_rss_mb": max(x.get("peak_rss_mb", 0) for x in lt),
            "torch_peak_rss_mb": max(x.get("peak_rss_mb", 0) for x in th),
            "ltrain_fwd_gflop_per_img": lt_flops, "torch_fwd_gflop_per_img": th_flops, "flops_match": flops_ok,
            "ltrain_backend": lt[0].get("backend"), "torch_backend": th[0].get("backend"),
        })
    return rows


def format_table(rows, header):
    cols = ["workload", "mode", "ltrain ms", "torch ms", "ratio", "target", "result", "RSS ltrain", "RSS torch",
            "FLOPs"]
    lines = [header, ""]
    table = [cols]
    for r in rows:
        table.append([r["workload"], r["mode"], "%.2f" % r["ltrain_ms"], "%.2f" % r["torch_ms"], "%.2f" % r["ratio"],
                      "%.2f" % r["target"], "pass" if r["pass"] else "FAIL", "%d MiB" % r["ltrain_peak_rss_mb"],
                      "%d MiB" % r["torch_peak_rss_mb"], "same" if r["flops_match"] else "DIFF"])
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    for k, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS), metavar="WORKLOAD")
    ap.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--ltrain", default=os.path.join(ROOT, "build", "core", "ltrain"))
    ap.add_argument("--configs", default=os.path.join(ROOT, "configs", "benchmarks"))
    ap.add_argument("--torch-script", default=os.path.join(ROOT, "..", "shared", "bench", "torch_train_bench.py"))
    ap.add_argument("--python", default="/usr/bin/python3", help="the Python that has torch 1.13")
    a = ap.parse_args(argv)
    if a.rounds < 1 or a.steps < 1 or a.threads < 1:
        ap.error("--rounds, --steps and --threads must be >= 1")
    for path, what in ((a.ltrain, "--ltrain"), (a.torch_script, "--torch-script"), (a.configs, "--configs")):
        if not os.path.exists(path):
            ap.error("%s: %s does not exist" % (what, path))
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads))
    coretype, note = openblas_coretype(os.environ)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    jobs = [(w, m) for w in a.only for m in WORKLOADS[w] if m in a.modes]
    header = "OPENBLAS_CORETYPE=%s (%s); %d threads, %d steps, best of %d rounds, ltrain and torch alternating" % (
        coretype or "", note, a.threads, a.steps, a.rounds)
    if not a.json:
        print(header, file=sys.stderr, flush=True)
    try:
        rows = summarize(measure(a, jobs, env))
    except RuntimeError as e:
        print("compare_torch: %s" % e, file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps({"openblas_coretype": coretype, "threads": a.threads, "steps": a.steps, "rounds": a.rounds,
                          "results": rows}))
    else:
        print(format_table(rows, header))
    return 0 if all(r["pass"] and r["flops_match"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
