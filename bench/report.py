"""Results: JSON under bench/results/, the Markdown table in bench/README.md, a PNG chart."""

import json
import re
from pathlib import Path
from typing import Any

from bench.model import Row

BENCH = Path(__file__).parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
COLUMNS = ("scenario", "metric", "n", "p50", "p95", "p99", "unit", "goal", "met", "note")


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if value == float("inf"):
        return "∞"
    magnitude = abs(value)
    digits = 2 if magnitude < 10 else 1 if magnitude < 100 else 0
    return f"{value:.{digits}f}"


def _verdict(row: dict[str, Any]) -> str:
    return {True: "✅", False: "❌", None: ""}[row["met"]]


def table(rows: list[dict[str, Any]]) -> str:
    """One line per row; single values sit in the p50 column."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        p50 = row["p50"] if row["p50"] is not None else row["value"]
        cells = [
            row["scenario"],
            row["metric"],
            str(row["n"]),
            _number(p50),
            _number(row["p95"]),
            _number(row["p99"]),
            row["unit"],
            row["goal"] or "",
            _verdict(row),
            (f"{row['errors']} errors; " if row["errors"] else "") + row["note"],
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def merge(rows: list[Row], meta: dict[str, Any]) -> dict[str, Any]:
    """This run's rows replace the same scenarios in latest.json; the others stay."""
    latest_path = RESULTS / "latest.json"
    latest = json.loads(latest_path.read_text()) if latest_path.exists() else {}
    ran = {row.scenario for row in rows}
    kept = [row for row in latest.get("rows", []) if row["scenario"] not in ran]
    measured = dict(latest.get("measured", {}))
    measured.update({scenario: meta["finished"] for scenario in ran})
    return {"meta": meta, "measured": measured, "rows": kept + [row.to_json() for row in rows]}


def publish(rows: list[Row], meta: dict[str, Any], stamp: str) -> str:
    """Write this run's JSON (`stamp`), the merged latest.json, the chart and README's table."""
    RESULTS.mkdir(exist_ok=True)
    run = {"meta": meta, "rows": [row.to_json() for row in rows]}
    (RESULTS / f"{stamp}.json").write_text(json.dumps(run, indent=1) + "\n")
    merged = merge(rows, meta)
    (RESULTS / "latest.json").write_text(json.dumps(merged, indent=1) + "\n")
    ordered = sorted(merged["rows"], key=lambda row: _ORDER.get(row["scenario"], 99))
    text = table(ordered)
    _chart(ordered, RESULTS / "latest.png")
    _readme(text, merged)
    return text


_ORDER = {name: i for i, name in enumerate(["tti", "exec", "memory", "files", "concurrency"])}
_ORDER.update(soak=5, baseline=6)


def _readme(text: str, merged: dict[str, Any]) -> None:
    meta = merged["meta"]
    when = ", ".join(f"{name} {at}" for name, at in sorted(merged["measured"].items()))
    block = (
        f"{START}\nMachine: {meta['machine']}. Commit {meta['commit']}.\n"
        f"Measured (UTC): {when}.\n\n{text}\n\n![chart](results/latest.png)\n{END}"
    )
    readme = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    README.write_text(pattern.sub(lambda _: block, readme))


def _chart(rows: list[dict[str, Any]], path: Path) -> None:
    """p50 (bar) and p95 (whisker) of every latency row, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    latencies = [row for row in rows if row["unit"] == "ms" and row["p50"]]
    labels = [f"{row['scenario']}: {row['metric']}" for row in latencies]
    p50 = [row["p50"] for row in latencies]
    spread = [max(row["p95"] - row["p50"], 0) for row in latencies]
    colors = [
        {True: "tab:green", False: "tab:red"}.get(row["met"], "tab:blue") for row in latencies
    ]
    figure, axes = pyplot.subplots(figsize=(11, 0.32 * len(latencies) + 1.5))
    axes.barh(labels, p50, xerr=[[0] * len(spread), spread], color=colors)
    axes.set_xscale("log")
    axes.invert_yaxis()
    axes.set_xlabel("milliseconds (bar: p50, whisker: p95; green: goal met, red: missed)")
    axes.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
