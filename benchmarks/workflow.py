"""The whole workflow a user runs for their rare codes, through the real commands, for several variants; one JSON line.

    medsyn plan --real TRAIN --fill-to K --over F --out WORK/plan
    medsyn generate --config RECIPE --dataset_name WORK/plan --output_dir WORK/generate/SOURCE
    medsyn eval report NOTES --real TRAIN --out WORK/report/VARIANT
    medsyn publish WORK/generate/SOURCE/latest --out WORK/published/SOURCE --report WORK/report/VARIANT
    medsyn eval icd --choose-on-train --train TRAIN --eval DEV --synthetic VARIANT=NOTES --seeds 0,1,2 --out ...

A variant is a source of notes and a selection:

- sources (``SOURCES``): ``writer``, the packaged writer through its generate recipe (``recipes/tiny/generate/
  config.yaml``) over the plan; ``gpt``, the MedSyn GPT notes (all 11,480, gpt-3.5 and gpt-4: the notes the issue's
  "+6.3" and benchmarks/selection.py used) of the plan's codes, which need no generation; ``writer-complaints``, the
  style template's writer and recipe (``recipes/tiny/generate/config_complaints.yaml``), run when that recipe exists;
- selection on (``+selection``): the notes the run keeps — the default filters with the selection filters on
  (patient consistency, the privacy guard ``real_copy``, label consistency as configured, realism, and the plan's
  quota: each code's best K − n by realism); for the GPT notes ``apply_filters`` (what the run calls) with the
  plan's real notes and need, as a run does;
- selection off: what the issue's script had, from the same run instead of a second generation: each code's first
  ``ceil((K − n) × 1.25)`` notes in prior order (the priors are drawn independently, so they are what a plan with
  ``--over 1.25`` draws), then the old filter set only (``apply_filters`` with no real notes and the patient check
  off); for the GPT notes all their notes through the old filter set.

Each variant's kept notes go through `medsyn eval report` (complaint view: discriminator AUC, code-matched
distinct-2, longest run shared with a real train note, DCR against the real holdout's) and `medsyn eval icd
--choose-on-train` (view and K chosen on a validation split of TRAIN, reported once on DEV). Steps run in-process
through ``medsyn_hf.cli.main``; each step's result is stored under ``WORK/steps/`` and, with ``--reuse``, taken from
there on a later run (a long run that stops resumes; `medsyn generate` resumes from its request cache anyway).

    python benchmarks/workflow.py > benchmarks/workflow.json       # --over 1.5, all sources; --reuse resumes
    python benchmarks/workflow.py --markdown benchmarks/workflow.json  # the README table
    python benchmarks/workflow.py --codes D25 E04 --fill-to 80 --seeds 0 --work runs/wf-small   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from selection import gpt_notes, notes_dataset

ROOT = Path(__file__).resolve().parents[1]
SOURCES_DIR = ROOT / "data" / "sources"
TRAIN = SOURCES_DIR / "rumedtop3" / "train_v1.jsonl"
DEV = SOURCES_DIR / "rumedtop3" / "dev_v1.jsonl"
BASELINE_OVER = 1.25  # the script: deficit x 1.25 priors, every note that passed the filters
SOURCES = {  # name: the recipe that writes its notes over the plan (and `medsyn plan` options it needs), or None
    "writer": {"recipe": "recipes/tiny/generate/config.yaml", "plan_args": []},
    "gpt": None,
    # the style template and its writer (medsyn-tiny-complaints): the prompts come from the plan, so the plan draws
    # them as the recipe's own priors_* keys say (the complaints template, no example note, no style exemplars)
    "writer-complaints": {
        "recipe": "recipes/tiny/generate/config_complaints.yaml",
        "plan_args": ["--templates", "complaints", "--example-p", "0", "--style-examples", "0"],
    },
}
# The figures for the script a user writes today (deficit x 1.25, tiny recipe, `eval icd --topup 80
# --synthetic-view complaint --seeds 0,1,2`, RuMedTop3 dev), and its targets for the packaged writer.
BASELINE = {
    "writer": {
        "rare_hit3": {"diff": 7.4, "ci": [2.8, 11.9]},
        "acc1": {"diff": -0.4, "ci": [-1.7, 0.9]},
        "notes_added": 4653,
        "auc": 0.9999,
        "distinct_2_matched": 0.165,
        "distinct_2_matched_real": 0.495,
    },
    # README "Targeted upsampling": all GPT notes, complaint view, K = 80 chosen on validation by the former rule
    "gpt": {
        "rare_hit3": {"diff": 6.3, "ci": [3.2, 9.8]},
        "acc1": {"diff": 1.2, "ci": [0.2, 2.2]},
        "notes_added": 2191,
        "auc": 1.0,
    },
}
TARGETS = {"rare_hit3": 12.0, "acc1": 0.0, "auc": 0.85, "distinct_2_matched": 0.30}


class Workflow:
    """The steps, each run once per work folder (``reuse``) and timed."""

    def __init__(self, args):
        self.args, self.work = args, Path(args.work)
        self.commands: list[str] = []
        self.timings: dict[str, dict] = {}  # every step's seconds, CPU seconds and load, run now or reused
        (self.work / "steps").mkdir(parents=True, exist_ok=True)

    def log(self, text: str) -> None:
        if text.strip():
            print(text.rstrip(), file=sys.stderr, flush=True)

    def step(self, name: str, fn, *args) -> dict:
        """``fn(*args)``'s dict with its wall and CPU seconds and the commands it ran, stored as
        ``WORK/steps/NAME.json``; with ``--reuse`` a stored one is returned instead."""
        path = self.work / "steps" / f"{name}.json"
        if self.args.reuse and path.is_file():
            self.log(f"[{name}] reused {path}")
            result = json.loads(path.read_text(encoding="utf-8"))
            self.commands += result.get("commands", [])
            self.timings[name] = {key: result[key] for key in ("seconds", "cpu_seconds", "load_average")}
            return result
        self.log(f"[{name}] start (load {os.getloadavg()[0]:.1f})")
        wall, cpu, issued = time.perf_counter(), time.process_time(), len(self.commands)
        result = fn(*args)
        result["commands"] = self.commands[issued:]
        result["seconds"] = round(time.perf_counter() - wall, 1)
        result["cpu_seconds"] = round(time.process_time() - cpu, 1)
        result["load_average"] = round(os.getloadavg()[0], 2)
        path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        self.timings[name] = {key: result[key] for key in ("seconds", "cpu_seconds", "load_average")}
        self.log(f"[{name}] done in {result['seconds']} s ({result['cpu_seconds']} CPU s)")
        return result

    def medsyn(self, *argv) -> str:
        """Run a `medsyn` command in this process; its stdout (returned) also goes to the log."""
        from medsyn_hf.cli import main

        argv = [str(arg) for arg in argv]
        command = " ".join(["medsyn", *argv]).replace(f"{ROOT}/", "")
        self.commands.append(command)
        self.log(f"$ {command}")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(argv)
        self.log(out.getvalue())
        if code:
            raise SystemExit(f"workflow: `{command}` exited with {code}")
        return out.getvalue()

    # -- the steps ----------------------------------------------------------------------------------------------------
    def plan_dir(self, source: str) -> Path:
        """The plan a source's notes follow: one for every source whose prompts are the default ones."""
        spec = SOURCES[source]
        return self.work / ("plan" if spec is None or not spec["plan_args"] else f"plan-{source}")

    def plan(self, source: str) -> dict:
        a = self.args
        argv = ["plan", "--real", a.train, "--fill-to", a.fill_to, "--over", a.over, "--out", self.plan_dir(source)]
        argv += ["--codes", *a.codes] if a.codes else []
        argv += SOURCES[source]["plan_args"] if SOURCES[source] else []
        return json.loads(self.medsyn(*argv, "--json").strip().splitlines()[-1])

    def generate(self, source: str) -> dict:
        out = self.work / "generate" / source
        recipe, plan = ROOT / SOURCES[source]["recipe"], self.plan_dir(source)
        report = self.medsyn("generate", "--config", recipe, "--dataset_name", plan, "--output_dir", out, "--json")
        result = json.loads(report.strip().splitlines()[-1])
        return {k: result[k] for k in ("run_dir", "notes", "kept") if k in result} | {
            "plan": {k: v for k, v in result.get("plan", {}).items() if k != "codes"}
        }

    def notes_file(self, variant: str, notes) -> dict:
        """Write a variant's kept notes (a Dataset) as ``WORK/notes/VARIANT/notes.parquet``."""
        from medsyn_hf.io import atomic_path

        kept = notes.filter(lambda keep: bool(keep), input_columns="keep")
        if "ICD-10" not in kept.column_names:  # what `eval icd --synthetic` and `eval report` read as the code
            kept = kept.rename_column("code", "ICD-10")
        path = self.work / "notes" / variant / "notes.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            kept.to_parquet(str(tmp))
        return {"path": str(path), "notes": len(kept), "per_code": dict(Counter(kept["ICD-10"]))}

    def without_selection(self, source: str, variant: str, plan) -> dict:
        """The first ceil((K − n) × 1.25) notes of each code in prior order, through the old filter set."""
        from medsyn_hf.filters import apply_filters
        from medsyn_hf.generation.notes import load_notes
        from medsyn_hf.priors.plan import planned_priors

        run = self.work / "generate" / source / "latest"
        notes = load_notes(run)
        cap = {code: planned_priors(need, BASELINE_OVER) for code, need in plan.need.items()}
        taken: Counter = Counter()
        rows = []
        for i, code in enumerate(notes["ICD-10"]):  # notes.parquet is in prior (idx) order
            if taken[code] < cap.get(code, 0):
                taken[code] += 1
                rows.append(i)
        thresholds = json.loads((run / "config.json").read_text(encoding="utf-8"))["script_args"]["filters"]
        scored = apply_filters(
            notes.select(rows),
            old_filter_set(thresholds),
            text_column="response",
            symptoms_column="symptoms",
            example_column="anamnesis",
            code_column="ICD-10",
        )
        return {"derived_from": str(run), "generated": len(rows), **self.notes_file(variant, scored)}

    def gpt(self, variant: str, plan, selection: bool) -> dict:
        """The MedSyn GPT notes of the plan's codes through the old filter set, or through the filters a run applies
        with the plan's real notes and need (``load_reference``, what `medsyn generate` calls)."""
        from medsyn_hf.filters import FilterConfig, apply_filters
        from medsyn_hf.generation.run import load_reference

        rows = [row for row in gpt_notes() if row["icd10"][:3] in plan.need]
        reference = None
        if selection:
            settings = SimpleNamespace(real_dataset=None, dataset_name=str(self.plan_dir("gpt")))
            reference = load_reference(settings, plan)
        config = FilterConfig() if selection else old_filter_set(None)
        scored = apply_filters(notes_dataset(rows), config, code_column="code", reference=reference)
        return {"candidates": len(rows), **self.notes_file(variant, scored)}

    def report(self, variant: str, notes: str) -> dict:
        a = self.args
        out = self.work / "report" / variant
        self.medsyn("eval", "report", notes, "--real", a.train, "--out", out, "--bootstrap", a.bootstrap)
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        return {"out": str(out), **report_figures(report)}

    def publish(self, source: str, report: str) -> dict:
        out = self.work / "published" / source
        run = self.work / "generate" / source / "latest"
        published = json.loads(self.medsyn("publish", run, "--out", out, "--report", report, "--json"))
        return {"out": str(out), "notes": published["notes"], "splits": published["splits"]}

    def icd(self, variant: str, notes: str) -> dict:
        a = self.args
        out = self.work / "icd" / variant
        argv = ["eval", "icd", "--choose-on-train", "--train", a.train, "--eval", a.eval]
        argv += ["--synthetic", f"{variant}={notes}", "--seeds", a.seeds, "--bootstrap", a.bootstrap]
        argv += ["--out", out]
        argv += ["--topups", a.topups] if a.topups else []
        argv += ["--rare-k", a.rare_k] if a.rare_k else []
        self.medsyn(*argv)
        return {"out": str(out), **icd_figures(json.loads((out / "choice.json").read_text(encoding="utf-8")))}


def old_filter_set(thresholds: dict | None):
    """The filters before selection: the run's thresholds with the patient check off; without real notes the
    selection filters (privacy guard, label consistency, realism, quota) score nothing and drop nothing."""
    from medsyn_hf.generation.notes import filter_config

    return replace(filter_config(thresholds), max_age_gap=None, check_sex=False)


def report_figures(report: dict) -> dict:
    """What the benchmark reads of `medsyn eval report`'s report.json."""
    fidelity, diversity, privacy = report["fidelity"], report["diversity"], report["privacy"]
    matched = diversity["distinct_matched"]
    return {
        "notes": report["synthetic"]["notes"],
        "view": report["view"],
        "auc": fidelity["auc"],
        "auc_ci": fidelity["auc_ci"],
        "distinct_2_matched": matched["synthetic"]["distinct_2"],
        "distinct_2_matched_real": matched["real"]["distinct_2"],
        "longest_run_threshold": privacy["longest_run"]["threshold"],
        "share_sharing_run": privacy["longest_run"]["synthetic"]["share_above"],
        "longest_run_max": privacy["longest_run"]["synthetic"]["max"],
        "holdout_share_sharing_run": privacy["longest_run"]["holdout"]["share_above"],
        "dcr_median": privacy["dcr"]["synthetic"]["median"],
        "dcr_holdout_median": privacy["dcr"]["holdout"]["median"],
        "closer_than_holdout_p5": privacy["dcr"]["closer_than_holdout_p5"],
        "report_seconds": report["seconds"].get("total"),
    }


def _difference(paired: dict, key: str) -> dict | None:
    value = paired.get(key)
    return {"diff": round(value["diff"], 2), "ci": [round(x, 2) for x in value["ci"]]} if value else None


def icd_figures(result: dict) -> dict:
    """What the benchmark reads of `medsyn eval icd --choose-on-train`'s choice.json: the choice and the dev
    figures (differences 0 when real only was chosen: nothing added)."""
    summary = result["choose_on_train"]
    paired = result.get("paired_diff") or {}
    chosen = summary["chosen"]
    added = (result.get("upsampled") or {}).get("train_synthetic", 0)
    return {
        "chosen": {"candidate": chosen["candidate"], "view": chosen["view"], "topup": chosen["topup"]},
        "notes_added": added,
        "real_only": {key: (result["real_only"] or {}).get(key) for key in ("acc1", "rare_hit3")},
        **{
            key: _difference(paired, key) or {"diff": 0.0, "ci": [0.0, 0.0]}
            for key in ("rare_hit3", "acc1", "hit3", "macro_hit3", "rare_acc1")
        },
        "validation_cells": [
            {
                "view": cell["view"],
                "topup": cell["topup"],
                "notes_added": cell["size"],
                **{k: _difference(cell.get("paired_diff") or {}, k) for k in ("rare_hit3", "acc1")},
                "chosen": cell["chosen"],
            }
            for cell in summary["cells"]
        ],
        "icd_seconds": result.get("total_seconds"),
    }


def targets_met(variant: dict) -> dict:
    """The issue's targets for the packaged writer, and privacy no worse than today."""
    icd, report = variant["icd"], variant["report"]
    return {
        "rare_hit3": icd["rare_hit3"]["diff"] >= TARGETS["rare_hit3"],
        "acc1": icd["acc1"]["diff"] >= TARGETS["acc1"],
        "auc": report["auc"] <= TARGETS["auc"],
        "distinct_2_matched": report["distinct_2_matched"] >= TARGETS["distinct_2_matched"],
        "privacy": report["share_sharing_run"] == 0 and report["dcr_median"] >= report["dcr_holdout_median"],
    }


def variants_of(sources: list[str]) -> list[tuple[str, str, bool]]:
    """(variant, source, selection) for each source: without selection first."""
    return [(source + ("-selected" if on else ""), source, on) for source in sources for on in (False, True)]


def run(args) -> dict:
    import datasets

    from medsyn_hf.priors.plan import read_plan

    datasets.disable_progress_bars()
    start = time.perf_counter()
    flow = Workflow(args)
    load_start = os.getloadavg()[0]
    plans, steps = {}, {}
    for source in args.sources:
        folder = flow.plan_dir(source)
        if folder.name not in steps:
            steps[folder.name] = flow.step(folder.name, flow.plan, source)
        plans[source] = read_plan(folder)
    generation = {}
    for source in args.sources:  # the CPU-heavy part first, so a later step's failure does not lose it
        if SOURCES[source] is not None:
            generation[source] = flow.step(f"generate-{source}", flow.generate, source)
            generation[source]["notes_per_s"] = round(generation[source]["notes"] / generation[source]["seconds"], 2)
    variants = {}
    for variant, source, selection in variants_of(args.sources):
        if SOURCES[source] is None:
            notes = flow.step(f"notes-{variant}", flow.gpt, variant, plans[source], selection)
            notes_path = notes["path"]
        elif selection:  # the run's own kept notes; published with their report below
            run_dir = Path(generation[source]["run_dir"])
            kept = json.loads((flow.work / "steps" / f"generate-{source}.json").read_text(encoding="utf-8"))["kept"]
            notes = {"path": str(run_dir), "notes": kept, "per_code": _kept_per_code(run_dir)}
            notes_path = str(run_dir)
        else:
            notes = flow.step(f"notes-{variant}", flow.without_selection, source, variant, plans[source])
            notes_path = notes["path"]
        report = flow.step(f"report-{variant}", flow.report, variant, notes_path)
        if SOURCES[source] is not None and selection:
            published = flow.step(f"publish-{source}", flow.publish, source, report["out"])
            notes_path = published["out"]
        icd = flow.step(f"icd-{variant}", flow.icd, variant, notes_path)
        variants[variant] = {"source": source, "selection": selection, "notes": notes, "report": report, "icd": icd}
        if source.startswith("writer"):
            variants[variant]["targets_met"] = targets_met(variants[variant])
    return {
        "benchmark": "workflow",
        "commands": flow.commands,
        "settings": {
            "train": str(args.train).replace(f"{ROOT}/", ""),
            "eval": str(args.eval).replace(f"{ROOT}/", ""),
            "fill_to": args.fill_to,
            "over": args.over,
            "baseline_over": BASELINE_OVER,
            "codes": args.codes,
            "seeds": args.seeds,
            "topups": args.topups or "default",
            "bootstrap": args.bootstrap,
            "sources": args.sources,
        },
        "cpus": os.cpu_count(),
        "load_average": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "plan": steps.pop("plan", None),
        "other_plans": steps,
        "generation": generation,
        "variants": variants,
        "steps": flow.timings,
        "steps_total": {
            key: round(sum(t[key] for t in flow.timings.values()), 1) for key in ("seconds", "cpu_seconds")
        },
        "baseline_todays_script": BASELINE,
        "targets": TARGETS,
        "total_seconds": round(time.perf_counter() - start, 1),
    }


def _kept_per_code(run_dir: Path) -> dict:
    import pyarrow.parquet as pq

    table = pq.read_table(run_dir / "notes.parquet", columns=["ICD-10", "keep"]).to_pydict()
    return dict(Counter(code for code, keep in zip(table["ICD-10"], table["keep"]) if keep))


NAMES = {
    "writer": "packaged writer",
    "writer-complaints": "complaint writer, style template",
    "gpt": "MedSyn GPT notes",
}


def _ci(figure: dict) -> str:
    low, high = figure["ci"]
    return f"{figure['diff']:+.1f} [{low:+.1f}, {high:+.1f}]"


def markdown(result: dict) -> str:
    """The README table of a result: one row per variant, the issue's figures for today's script first."""
    lines = [
        "| notes | selection | kept | chosen on train (view, K) | notes added | rare hit@3 | acc@1 | AUC (complaint) "
        "| distinct-2, code-matched (real) | sharing ≥ 10 words | DCR median (holdout) |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    today = BASELINE["writer"]
    lines.append(
        f"| packaged writer, today's script (the issue) | old filters | 5,125 | complaint, 80 (fixed) | "
        f"{today['notes_added']:,} | {_ci(today['rare_hit3'])} | {_ci(today['acc1'])} | {today['auc']:.4f} | "
        f"{today['distinct_2_matched']} ({today['distinct_2_matched_real']}) | 0 % | — |"
    )
    gpt = BASELINE["gpt"]
    lines.append(
        f"| MedSyn GPT notes, README's dev table | none | 9,273 | complaint, 80 (former rule) | "
        f"{gpt['notes_added']:,} | {_ci(gpt['rare_hit3'])} | {_ci(gpt['acc1'])} | {gpt['auc']:.3f} | — | 0 % | "
        "0.88 (0.67) |"
    )
    for variant in result["variants"].values():
        icd, report, chosen = variant["icd"], variant["report"], variant["icd"]["chosen"]
        choice = f"{chosen['view']}, {chosen['topup']}" if chosen["candidate"] else "real only"
        lines.append(
            f"| {NAMES[variant['source']]} | {'on' if variant['selection'] else 'old filters'} | "
            f"{variant['notes']['notes']:,} | {choice} | {icd['notes_added']:,.0f} | {_ci(icd['rare_hit3'])} | "
            f"{_ci(icd['acc1'])} | {report['auc']:.3f} | {report['distinct_2_matched']:.3f} "
            f"({report['distinct_2_matched_real']:.3f}) | {100 * report['share_sharing_run']:.1f} % | "
            f"{report['dcr_median']:.2f} ({report['dcr_holdout_median']:.2f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("runs/workflow"), help="folder of every step's output")
    parser.add_argument("--train", type=Path, default=TRAIN, help="the user's real notes (default: RuMedTop3 train)")
    parser.add_argument("--eval", type=Path, default=DEV, help="notes reported on once (default: RuMedTop3 dev)")
    parser.add_argument("--fill-to", type=int, default=80)
    parser.add_argument("--over", type=float, default=1.5, help="over-generation of the run (>= 1.25)")
    parser.add_argument("--codes", nargs="+", help="plan only these codes (a scaled-down run)")
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES), help="default: those whose recipe exists")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--topups", help="eval icd --topups (default: the command's)")
    parser.add_argument("--rare-k", type=int, help="eval icd --rare-k (default: the command's)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="take the steps stored in WORK/steps from a former run")
    parser.add_argument("--markdown", type=Path, metavar="JSON", help="print the README table of a result and stop")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return
    if args.over < BASELINE_OVER:
        parser.error(f"--over {args.over}: at least {BASELINE_OVER} (selection off takes the first x{BASELINE_OVER})")
    runnable = [name for name, spec in SOURCES.items() if spec is None or (ROOT / spec["recipe"]).is_file()]
    args.sources = args.sources or runnable
    print(json.dumps(run(args), ensure_ascii=False))


if __name__ == "__main__":
    main()
