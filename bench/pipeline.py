"""Benchmark: ingest and ``dbt build`` wall time and peak memory on Online Retail II and on generated data.

Each step runs as its own ``trendcast`` process in a fresh state directory, so the peak RSS reported is that
step's alone (read with ``os.wait4``). Results go to ``bench/results/pipeline.json``.

    python bench/pipeline.py                       # Online Retail II + 10 million generated lines
    python bench/pipeline.py --generated-lines 1000000 --skip-real
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "online_retail_ii"
TRENDCAST = str(Path(sys.executable).with_name("trendcast"))


def run_step(name: str, args: list[str], env: dict[str, str]) -> dict:
    """Run one CLI step; return wall seconds and peak RSS in MiB of that process."""
    started = time.perf_counter()
    proc = subprocess.Popen([TRENDCAST, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(output.decode(errors="replace"))
        raise SystemExit(f"step {name} failed")
    result = {"step": name, "seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024)}
    print(f"  {name:<10} {result['seconds']:>8.1f} s  {result['peak_rss_mib']:>6} MiB", flush=True)
    return result


def bench_dataset(label: str, paths: list[Path], generate_lines: int | None = None) -> dict:
    state = Path(tempfile.mkdtemp(prefix=f"trendcast-bench-{label}-"))
    env = {**os.environ, "TRENDCAST_STATE_DIR": str(state), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    print(f"{label}:", flush=True)
    steps = []
    try:
        if generate_lines:
            out = state / "landing"
            steps.append(run_step("generate", ["generate", str(out), "--lines", str(generate_lines)], env))
            paths = [out]
        steps.append(run_step("ingest", ["ingest", *map(str, paths)], env))
        steps.append(run_step("dbt build", ["build"], env))
        size = (state / "warehouse.duckdb").stat().st_size
        return {"dataset": label, "steps": steps, "warehouse_mib": round(size / 2**20)}
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset-dir", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--generated-lines", type=int, default=10_000_000)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pipeline.json")
    args = parser.parse_args()

    runs = []
    if not args.skip_real:
        runs.append(bench_dataset("online_retail_ii", sorted(args.dataset_dir.glob("*.parquet"))))
    if args.generated_lines:
        runs.append(bench_dataset(f"generated_{args.generated_lines}", [], generate_lines=args.generated_lines))
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "warehouse": "duckdb",
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
