"""Benchmark: data-quality validation wall time on Online Retail II and on generated data.

For each dataset a fresh state directory is prepared with the ``trendcast`` CLI (generate, ingest, build),
then the gate validates ``raw.transactions`` and ``marts.ml_item_daily_sales`` in a separate process, by
default twice (the first run has no row-count baseline; the second compares with it), so the peak RSS is
the validation's own. Results go to ``bench/results/quality.json``.

    python bench/quality.py                                  # Online Retail II + 10 million generated lines
    python bench/quality.py --generated-lines 1000000 --skip-real
    python bench/quality.py --state-dir /tmp/built-state --label mine   # an already built state dir
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
TABLES = ["raw.transactions", "marts.ml_item_daily_sales"]

# Runs in a child process: imports, validates twice, prints one JSON line.
VALIDATE = """
import json, sys, time
started = time.perf_counter()
import great_expectations  # noqa: F401  (timed separately: every validating process pays it once)
imported = time.perf_counter() - started
from trendcast.quality import validate_tables
runs = []
for attempt in range(1, int(sys.argv[1]) + 1):
    t = time.perf_counter()
    gate = validate_tables(sys.argv[2:], alert=False)
    runs.append({"attempt": attempt, "seconds": round(time.perf_counter() - t, 2), "passed": gate.passed,
                 "suites": [{"suite": s.suite, "table": s.table, "rows": s.n_rows, "seconds": round(s.seconds, 2),
                             "passed": s.success, "failed": [o.check for o in s.failed],
                             "warnings": [o.check for o in s.warnings]} for s in gate.suites]})
print("RESULT " + json.dumps({"gx_import_seconds": round(imported, 2), "runs": runs}))
"""


def run(args: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    """Run a command; return its output, wall seconds and peak RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(output[-5000:])
        raise SystemExit(f"{' '.join(args[:3])} failed")
    return output, seconds, round(usage.ru_maxrss / 1024)


def prepare(state: Path, env: dict[str, str], paths: list[Path], generate_lines: int | None) -> list[dict]:
    steps = []
    if generate_lines:
        out = state / "landing"
        _, s, _ = run([TRENDCAST, "generate", str(out), "--lines", str(generate_lines)], env)
        steps.append({"step": "generate", "seconds": round(s, 1)})
        paths = [out]
    _, s, _ = run([TRENDCAST, "ingest", *map(str, paths)], env)
    steps.append({"step": "ingest", "seconds": round(s, 1)})
    _, s, _ = run([TRENDCAST, "build"], env)
    steps.append({"step": "dbt build", "seconds": round(s, 1)})
    for step in steps:
        print(f"  {step['step']:<10} {step['seconds']:>8.1f} s", flush=True)
    return steps


def bench(
    label: str, paths: list[Path], generate_lines: int | None = None, state: Path | None = None, attempts: int = 2
) -> dict:
    keep = state is not None
    state = state or Path(tempfile.mkdtemp(prefix=f"trendcast-bench-quality-{label}-"))
    env = {
        **os.environ,
        "TRENDCAST_STATE_DIR": str(state),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "GX_ANALYTICS_ENABLED": "False",
    }
    print(f"{label}:", flush=True)
    try:
        steps = [] if keep else prepare(state, env, paths, generate_lines)
        output, seconds, rss = run([sys.executable, "-c", VALIDATE, str(attempts), *TABLES], env)
        result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
        for r in result["runs"]:
            for s in r["suites"]:
                print(
                    f"  validate #{r['attempt']} {s['table']:<28} {s['rows']:>12,} rows {s['seconds']:>7.1f} s "
                    f"passed={s['passed']} failed={s['failed']} warnings={s['warnings']}",
                    flush=True,
                )
        return {
            "dataset": label,
            "prepare": steps,
            "validation_process_seconds": round(seconds, 1),
            "validation_peak_rss_mib": rss,
            **result,
        }
    finally:
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset-dir", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--generated-lines", type=int, default=10_000_000)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--state-dir", type=Path, help="Validate an already built state dir instead.")
    parser.add_argument("--label", default="existing_state")
    parser.add_argument("--attempts", type=int, default=2, help="Validation runs per dataset (2: with baseline).")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "quality.json")
    args = parser.parse_args()

    runs = []
    if args.state_dir:
        runs.append(bench(args.label, [], state=args.state_dir, attempts=args.attempts))
    else:
        if not args.skip_real:
            runs.append(bench("online_retail_ii", sorted(args.dataset_dir.glob("*.parquet")), attempts=args.attempts))
        if args.generated_lines:
            label = f"generated_{args.generated_lines}"
            runs.append(bench(label, [], generate_lines=args.generated_lines, attempts=args.attempts))
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_end": os.getloadavg(),
        },
        "warehouse": "duckdb",
        "runs": runs,
    }
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.state_dir and previous.get("runs"):  # add to an existing report rather than replace it
        report["runs"] = [r for r in previous["runs"] if r["dataset"] != args.label] + runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
