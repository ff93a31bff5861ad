"""Do the packaged writers write RuMedTop3's register from the `complaints` template? Measured on the complaint
writer's train-only validation split: symptom recall, share kept, realism, diversity and privacy, for each writer and
number of style exemplars in one run (the packaged default `medsyn-tiny` is the baseline).

    python benchmarks/tiny_writer_complaints.py [--model medsyn-tiny --model medsyn-tiny-complaints]
        [--style-examples 0 3] [--val-rows 470] > benchmarks/tiny_writer_complaints.json

Prints one JSON line. Never reads RuMedTop3 dev. Steps:
1. Validation priors: the RuMedTop3 *train* complaints the complaint stage held out
   (`medsyn tiny-model --pretrain --complaint-val-rows 470`: the same hash split, medsyn_hf.training.complaint_split),
   each rebuilt as its own prior (medsyn_hf.priors.from_notes: its category, the MKG symptoms it voices, a sampled
   patient, k style exemplars drawn from the *other* train complaints of other categories); the same patients for
   every k and writer.
2. For each writer and k: `medsyn generate --config recipes/tiny/generate/config_complaints.yaml --dataset_name
   <those priors> --model_name_or_path <writer>`: the recipe's sampling settings and filter thresholds; each
   complaint's filter scores come from the run.
3. Figures, against the held-out real complaints of the same priors:
   - mean symptom recall and share kept (the run's filter columns), and the same filters on the real complaints
     themselves (do real complaints pass them?);
   - realism: `medsyn eval report`'s real-vs-synthetic discriminator ROC AUC (complaint view, code-matched samples,
     cross-validated) for the kept complaints (issue #23's target for kept notes: <= 0.85) and for all of them;
   - diversity: code-matched distinct-2 (target >= 0.30; the real side is printed beside it);
   - privacy (medsyn_hf.evaluation.privacy) against *every* train complaint, those the writer trained on included:
     the share of generated complaints sharing a >= 10-word run with a real note (must be 0) and the distance to the
     closest real note (DCR) beside the real holdout-to-rest baseline (must not be below it).
Speeds are not measured here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "tiny" / "generate" / "config_complaints.yaml"
TRAIN = ROOT / "data" / "sources" / "rumedtop3" / "train_v1.jsonl"
VAL_ROWS = 470  # the complaint stage's --complaint-val-rows (10 % of train)


def validation_priors(val_rows: int, style_examples: int, seed: int):
    """(priors Dataset, their real complaints, every train complaint text) of the held-out train complaints."""
    from datasets import Dataset

    from medsyn_hf.kg import load_graph
    from medsyn_hf.kg.sources import read_rumedtop3_train
    from medsyn_hf.priors.from_notes import complaint_prior, note_seed
    from medsyn_hf.priors.style import style_pool
    from medsyn_hf.schemas import PRIORS_FEATURES
    from medsyn_hf.training.complaint_split import split_complaints

    kg = load_graph()
    complaints = read_rumedtop3_train(TRAIN)
    kept, held = split_complaints(complaints, val_rows)
    pool = style_pool([c["code"] for c in kept], [c["text"] for c in kept])
    priors, real = [], []
    for c in held:
        text = c["text"].strip()
        prior = complaint_prior(kg, c["code"], text, note_seed(seed, "validation", text), pool, style_examples)
        if prior is not None:
            priors.append(prior)
            real.append(text)
    return Dataset.from_list(priors, features=PRIORS_FEATURES), real, [c["text"] for c in complaints]


def _filters_on(texts, priors, thresholds) -> dict:
    """The recipe's filters on ``texts`` written for ``priors`` (the real complaints: do they pass?)."""
    from medsyn_hf.filters import apply_filters
    from medsyn_hf.generation.notes import filter_config

    rows = [{"response": t, "symptoms": s, "example": None} for t, s in zip(texts, priors["symptoms"])]
    scored = apply_filters(rows, filter_config(thresholds))
    return {
        "notes": len(texts),
        "mean_symptom_recall": round(float(np.mean([r["symptom_recall"] for r in scored])), 4),
        "kept_share": round(float(np.mean([r["keep"] for r in scored])), 4),
        "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
    }


def realism(synthetic: list[str], real: list[str], codes_s: list[str], codes_r: list[str], seed: int) -> dict:
    """`medsyn eval report`'s fidelity and diversity figures (complaint view), synthetic against real."""
    from medsyn_hf.evaluation.report import NoteSet, build_report

    report, _ = build_report(
        NoteSet("synthetic", synthetic, codes_s, codes_s), NoteSet("real", real, codes_r, codes_r), seed=seed
    )
    fid, div = report["fidelity"], report["diversity"]["distinct_matched"]
    return {
        "notes": len(synthetic),
        "auc": round(fid["auc"], 4),
        "auc_ci": [round(x, 4) for x in fid["auc_ci"]] if fid["auc_ci"] else None,
        "distinct_2": div["synthetic"]["distinct_2"],
        "distinct_2_real": div["real"]["distinct_2"],
    }


def privacy_figures(synthetic: list[str], train: list[str], seed: int) -> dict:
    """Longest shared word run and DCR of the generated complaints against every train complaint."""
    from medsyn_hf.evaluation.privacy import privacy
    from medsyn_hf.text_views import view

    real_view = [view(t, "complaint") for t in train]
    summary, per_note = privacy(real_view, train, [view(t, "complaint") for t in synthetic], synthetic, seed=seed)
    threshold = summary["longest_run"]["threshold"]
    return {
        "dcr": summary["dcr"],
        "longest_run": summary["longest_run"],
        "closest": summary["closest"][:3],
        "at_or_above_threshold": [
            {"complaint": t, "longest_run": int(r)} for t, r in zip(synthetic, per_note["runs"]) if r >= threshold
        ],
    }


def measure(model: str, priors, real: list[str], train: list[str], recipe: dict, temperature: float, seed: int):
    """One writer on these priors at the recipe's settings: the figures of step 3."""
    import datasets

    with tempfile.TemporaryDirectory() as tmp:
        priors.to_parquet(f"{tmp}/priors.parquet")
        command = [sys.executable, "-m", "medsyn_hf.cli", "generate", "--config", str(RECIPE)]
        command += ["--dataset_name", f"{tmp}/priors.parquet", "--output_dir", f"{tmp}/gen"]
        command += ["--model_name_or_path", model, "--temperature", str(temperature)]
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        notes = datasets.Dataset.from_parquet(f"{tmp}/gen/latest/notes.parquet").to_dict()
    texts, keep, codes = notes["response"], np.array(notes["keep"]), notes["ICD-10"]
    kept = [t for t, k_ in zip(texts, keep) if k_]
    kept_codes = [c for c, k_ in zip(codes, keep) if k_]
    return {
        "writer": {
            "notes": len(texts),
            "mean_symptom_recall": round(float(np.mean(notes["symptoms_recall"])), 4),
            "kept_share": round(float(keep.mean()), 4),
            "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
            "finished_share": round(float(np.mean([r == "stop" for r in notes["finish_reason"]])), 4),
        },
        "realism_kept": realism(kept, real, kept_codes, priors["code"], seed) if len(kept) > 1 else None,
        "realism_all": realism(texts, real, codes, priors["code"], seed),
        "privacy": privacy_figures(texts, train, seed),
        "examples": [{"prompted": s, "complaint": t} for s, t in zip(notes["symptoms"][:5], texts[:5])],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model",
        action="append",
        help="a writer (name or folder), repeatable (default: medsyn-tiny, then the recipe's)",
    )
    parser.add_argument("--val-rows", type=int, default=VAL_ROWS, help="held-out train complaints (default: 470)")
    parser.add_argument("--n", type=int, help="only the first n validation priors (a quick check)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the priors' patients and exemplars")
    parser.add_argument(
        "--style-examples", type=int, nargs="+", help="exemplars per prompt, one run each (default: the recipe's)"
    )
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the recipe's)")
    args = parser.parse_args()

    import datasets

    from medsyn_hf.tiny_model import WRITER_NAME, resolve_model

    datasets.disable_progress_bars()
    recipe = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    models = args.model or [WRITER_NAME, recipe["model_name_or_path"]]
    counts = args.style_examples or [recipe["priors_style_examples"]]
    temperature = recipe["temperature"] if args.temperature is None else args.temperature
    runs, validation = [], None
    for k in counts:
        priors, real, train = validation_priors(args.val_rows, k, args.seed)
        if args.n:
            priors, real = priors.select(range(min(args.n, len(priors)))), real[: args.n]
        validation = validation or {"real": _filters_on(real, priors, recipe.get("filters")), "n": len(priors)}
        for model in models:
            figures = measure(resolve_model(model), priors, real, train, recipe, temperature, args.seed)
            runs.append({"model": Path(model).name, "style_examples": k, **figures})
    print(
        json.dumps(
            {
                "priors": {"n": validation["n"], "val_rows": args.val_rows, "seed": args.seed},
                "generation": {
                    **{x: recipe.get(x) for x in ("max_new_tokens", "top_k", "top_p", "seed")},
                    "temperature": temperature,
                },
                "real": validation["real"],
                "runs": runs,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
