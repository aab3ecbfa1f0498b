#!/usr/bin/env python3
"""Smoke test of bench/compare_torch.py with a fake ltrain and a fake PyTorch script
(the real comparison takes minutes): argument passing, alternation of the two sides,
OPENBLAS_CORETYPE and malloc settings, best-of-rounds, ratio, targets, FLOPs check, --json
and the exit status.  Usage: compare_torch_smoke.py <repo root>"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "compare_torch.py")

# Both fakes append one JSON line per call to $FAKE_LOG and answer like the real programs.
FAKE_LTRAIN = r'''#!/usr/bin/env python3
import json, os, sys
a = sys.argv[1:]
wl = os.path.basename(a[a.index("--config") + 1])[:-5]
mode = a[a.index("--mode") + 1]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"side": "ltrain", "wl": wl, "mode": mode, "argv": a,
                        "coretype": os.environ.get("OPENBLAS_CORETYPE")}) + "\n")
n = sum(1 for _ in open(os.environ["FAKE_LOG"]))
ms = {"mlp": 3.0, "small-cnn-mnist": 9.0}[wl] + n * 0.01
print("ltrain: note on stdout before the JSON")
print(json.dumps({"workload": wl, "mode": mode, "ms_median": ms, "peak_rss_mb": 50 + n,
                  "fwd_gflop_per_img": 0.001337344 if wl == "mlp" else 0.002063488, "backend": "fake"}))
'''
FAKE_TORCH = r'''import json, os, sys
a = sys.argv[1:]
wl, mode = a[a.index("--only") + 1], a[a.index("--modes") + 1]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"side": "torch", "wl": wl, "mode": mode, "argv": a,
                        "coretype": os.environ.get("OPENBLAS_CORETYPE"),
                        "malloc": os.environ.get("MALLOC_TOP_PAD_")}) + "\n")
print(json.dumps({"workload": wl, "mode": mode, "ms_median": 10.0, "peak_rss_mb": 300,
                  "fwd_gflop_per_img": 0.00134 if wl == "mlp" else 0.00206, "backend": "onednn"}))
'''


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ltrain, torch_script, log = (os.path.join(tmp, n) for n in ("ltrain", "torch.py", "log"))
        with open(ltrain, "w") as f:
            f.write(FAKE_LTRAIN)
        os.chmod(ltrain, 0o755)
        with open(torch_script, "w") as f:
            f.write(FAKE_TORCH)
        env = dict(os.environ, FAKE_LOG=log, OPENBLAS_CORETYPE="Zen")
        base = [sys.executable, SCRIPT, "--ltrain", ltrain, "--torch-script", torch_script, "--python", sys.executable,
                "--steps", "7", "--threads", "1"]
        cmd = base + ["--only", "small-cnn-mnist", "mlp", "--rounds", "2"]
        p = subprocess.run(cmd + ["--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        assert p.returncode == 1, (p.returncode, p.stderr)  # small-cnn-mnist misses its 0.5 target
        out = json.loads(p.stdout)  # one object, nothing else
        assert out["openblas_coretype"] == "Zen" and out["rounds"] == 2, out
        rows = {r["workload"]: r for r in out["results"]}
        assert set(rows) == {"small-cnn-mnist", "mlp"}, rows
        mlp, cnn = rows["mlp"], rows["small-cnn-mnist"]
        assert mlp["mode"] == "train" and mlp["target"] == 0.5 and mlp["pass"], mlp
        assert cnn["target"] == 0.5 and not cnn["pass"], cnn
        assert mlp["ltrain_ms"] == min(mlp["ltrain_ms_rounds"]) and len(mlp["ltrain_ms_rounds"]) == 2, mlp
        assert abs(mlp["ratio"] - round(mlp["ltrain_ms"] / 10.0, 3)) < 1e-9, mlp
        assert mlp["torch_peak_rss_mb"] == 300 and mlp["flops_match"], mlp

        calls = [json.loads(line) for line in open(log)]
        assert len(calls) == 8, calls
        # Round 1: ltrain first for each job; round 2: torch first.
        assert [c["side"] for c in calls] == ["ltrain", "torch"] * 2 + ["torch", "ltrain"] * 2, calls
        for c in calls:
            assert c["coretype"] == "Zen", c
            assert c["argv"][c["argv"].index("--steps") + 1] == "7", c
            assert c["argv"][c["argv"].index("--threads") + 1] == "1", c
            if c["side"] == "torch":
                assert c["malloc"] == "67108864", c
            else:
                assert c["argv"][0] == "benchmark" and "--json" in c["argv"], c

        # The table, and a failing side reported with its command.
        os.remove(log)
        p = subprocess.run(base + ["--only", "mlp", "--rounds", "1"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        assert p.returncode == 0, (p.returncode, p.stderr)
        assert "OPENBLAS_CORETYPE=Zen" in p.stdout and "mlp" in p.stdout and "pass" in p.stdout, p.stdout
        with open(torch_script, "w") as f:
            f.write("import sys\nsys.exit(3)\n")
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        assert p.returncode == 2 and "torch small-cnn-mnist/train round 1 failed (exit 3)" in p.stderr, p.stderr
    print("compare_torch smoke test: ok")


if __name__ == "__main__":
    main()
