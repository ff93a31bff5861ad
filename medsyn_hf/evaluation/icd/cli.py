"""`medsyn eval icd`'s runs: the comparison or the grid (:func:`run_comparison`), and --choose-on-train
(:func:`run_choice`); the options are ``arguments.py``, what is printed ``render.py``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import datasets

from medsyn_hf.errors import MedsynError
from medsyn_hf.evaluation.icd.arguments import (
    PLAN_K,
    add_parser,
    check_arguments,
    check_choice,
    synthetic_sources,
)
from medsyn_hf.evaluation.icd.choice import VALIDATION_FRACTION, VIEWS, check, choose_on_train, notes_at, split_train
from medsyn_hf.evaluation.icd.experiment import (
    baseline_of,
    compare,
    grid_cells,
    make_ranker,
    prepare,
    run_cells,
    summarise,
)
from medsyn_hf.evaluation.icd.render import choice_text, grid_table, report_text, write_grid
from medsyn_hf.evaluation.icd.sampling import LabelledNotes, load_labelled
from medsyn_hf.guards import MOST, refuse, side_problems
from medsyn_hf.io import safe_output
from medsyn_hf.priors.plan import plan_of

COMMAND = "medsyn eval icd"


def refuse_trained_on_eval(train_source: str, train: LabelledNotes, eval_source: str, evaluation: LabelledNotes):
    """Scores on notes the classifier trained on measure memory, not utility: --train and --eval must differ."""
    problems = side_problems(train_source, eval_source, train.texts, evaluation.texts, MOST, ("--train", "--eval"))
    refuse(problems, "the classifier would be scored on its own training notes; give held-out notes as --eval")


def add_cli(eval_subparsers) -> None:
    """`eval icd`: runs --choose-on-train's protocol with it, the comparison (or the grid) otherwise."""
    add_parser(eval_subparsers).set_defaults(func=_run)


def _run(args) -> int:
    check_choice(args)
    return run_choice(args) if args.choose_on_train else run_comparison(args)


def _plan_topup(args, synthetic: str | None) -> None:
    """``--topup`` from the plan the synthetic dataset carries: K when ``--topup`` has no value, and by default (no
    ``--topup``, ``--synthetic-fraction`` or ``--grid``)."""
    asked = args.topup is PLAN_K
    if not (asked or (synthetic and args.topup is None and args.synthetic_fraction is None and not args.grid)):
        return
    plan = plan_of(synthetic) if synthetic else None
    if plan is not None:
        args.topup = plan.fill_to
        if not args.json:
            print(f"--topup {plan.fill_to}: the K of the plan {synthetic} carries", file=sys.stderr)
    elif asked:
        raise MedsynError(
            f"--topup without K takes the plan's K, but {synthetic or 'no --synthetic'} carries no plan "
            "(plan.json); give --topup K"
        )


def run_comparison(args) -> int:
    """Real only against real + synthetic notes on --eval, or the grid (--grid)."""
    sources = synthetic_sources(args.synthetic)
    if len(sources) > 1:
        raise MedsynError("several --synthetic candidates are chosen between with --choose-on-train; else give one")
    synthetic = next(iter(sources.values()), None)
    _plan_topup(args, synthetic)
    check_arguments(args)
    datasets.disable_progress_bars()
    start = time.perf_counter()
    log = None if args.json else lambda line: print(line, file=sys.stderr, flush=True)
    transformer_options = {
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
    }
    train, evaluation = (load_labelled(path, args.text_column, args.code_column) for path in (args.train, args.eval))
    load = (
        train,
        evaluation,
        load_labelled(
            synthetic,
            args.synthetic_text_column,
            args.synthetic_code_column,
            args.synthetic_split,
        )
        if synthetic
        else None,
    )
    refuse_trained_on_eval(args.train, train, args.eval, evaluation)  # every input read first: its own errors
    if args.grid:
        with safe_output(
            args.out, command=COMMAND, inputs=[args.train, args.eval, synthetic], overwrite=args.overwrite
        ) as tmp:
            experiment = prepare(*load, args.rare_k, args.synthetic_max_chars, args.drop_unseen, args.synthetic_view)
            rank = make_ranker(experiment, args.classifier, **transformer_options)
            cells = grid_cells(args.real_fractions, args.synthetic_fractions, args.topups)
            runs, predictions = run_cells(
                experiment,
                rank,
                cells,
                args.seeds or (0, 1, 2),
                args.bootstrap,
                log=lambda line: print(line, file=sys.stderr, flush=True),
            )
            summary = summarise(runs, predictions, experiment, args.bootstrap)
            meta = {
                "classifier": args.classifier,
                "view": args.synthetic_view,
                "eval_dropped": experiment.eval_dropped,
                "synthetic_dropped": experiment.synthetic_dropped,
                "rare_k": args.rare_k,
                "rare_codes": experiment.rare,
            }
            write_grid(tmp, runs, summary, meta)
        result = {"out": str(args.out), **meta, "baseline": baseline_of(summary), "cells": summary}
    else:
        result = compare(
            *load,
            topup=args.topup,
            synthetic_fraction=args.synthetic_fraction,
            view=args.synthetic_view,
            seeds=args.seeds or (0,),
            real_fraction=args.real_fraction,
            rare_k=args.rare_k,
            max_chars=args.synthetic_max_chars,
            n_bootstrap=args.bootstrap,
            classifier=args.classifier,
            drop_unseen=args.drop_unseen,
            log=log,
            **transformer_options,
        )
    result["total_seconds"] = round(time.perf_counter() - start, 2)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    elif args.grid:
        print(grid_table(result["cells"]) + f"\nwritten: {args.out}/grid.md, grid.png, grid.json")
    else:
        print(report_text(result))
    return 0


def _write_split(
    folder: Path, fit: LabelledNotes, validation: LabelledNotes, text_column: str, code_column: str
) -> None:
    """fit.jsonl and validation.jsonl, in --train's columns."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, notes in (("fit", fit), ("validation", validation)):
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for text, code in zip(*notes):
                out.write(json.dumps({text_column: text, code_column: code}, ensure_ascii=False) + "\n")


def run_choice(args) -> int:
    """--choose-on-train: the protocol (``choice.py``), or only the split (--split-only)."""
    check_arguments(args)
    sources = synthetic_sources(args.synthetic)
    topups = tuple(args.topups) + ((args.topup,) if args.topup is not None else ())
    options = {
        "views": args.synthetic_views or VIEWS,
        "topups": topups,
        "seeds": args.seeds or (0, 1, 2),
        "rule": args.choice_rule or "one-se",
        "choose_by": args.choose_by or "rare_hit3",
        "max_acc1_drop": 0.0 if args.max_acc1_drop is None else args.max_acc1_drop,
    }
    fraction = VALIDATION_FRACTION if args.validation_fraction is None else args.validation_fraction
    split_seed = args.split_seed or 0
    if not 0 < fraction < 1:
        raise MedsynError(f"--validation-fraction {fraction}: must lie strictly between 0 and 1")
    if not args.split_only:
        check(sources, n_bootstrap=args.bootstrap, **options)
    datasets.disable_progress_bars()
    start = time.perf_counter()
    train = load_labelled(args.train, args.text_column, args.code_column)
    if args.split_only:
        fit, held = (notes_at(train, index) for index in split_train(train.codes, fraction, split_seed))
        with safe_output(args.out, command=COMMAND, inputs=[args.train], overwrite=args.overwrite) as tmp:
            _write_split(tmp, fit, held, args.text_column, args.code_column)
        result = {"out": str(args.out), "fit_notes": len(fit.codes), "validation_notes": len(held.codes)}
        print(json.dumps(result) if args.json else f"written: {args.out}/fit.jsonl, validation.jsonl")
        return 0
    evaluation = load_labelled(args.eval, args.text_column, args.code_column)
    validation = load_labelled(args.validation, args.text_column, args.code_column) if args.validation else None
    code_columns = args.synthetic_code_column
    candidates = {}
    for name, source in sources.items():
        try:
            candidates[name] = load_labelled(source, args.synthetic_text_column, code_columns, args.synthetic_split)
        except MedsynError as err:
            raise MedsynError(f"--synthetic {name}: {err}") from None
    refuse_trained_on_eval(args.train, train, args.eval, evaluation)  # every input read first: its own errors
    log = None if args.json else lambda line: print(line, file=sys.stderr, flush=True)
    protocol = {
        **options,
        "validation": validation,
        "validation_fraction": fraction,
        "split_seed": split_seed,
        "rare_k": args.rare_k,
        "max_chars": args.synthetic_max_chars,
        "n_bootstrap": args.bootstrap,
        "classifier": args.classifier,
        "drop_unseen": args.drop_unseen,
        "log": log,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
    }
    inputs = [args.train, args.eval, args.validation, *sources.values()]
    if args.out:
        with safe_output(args.out, command=COMMAND, inputs=inputs, overwrite=args.overwrite) as tmp:
            result = choose_on_train(train, evaluation, candidates, **protocol)
            result["total_seconds"] = round(time.perf_counter() - start, 2)
            tmp.mkdir(parents=True, exist_ok=True)
            (tmp / "choice.md").write_text(choice_text(result), encoding="utf-8")
            (tmp / "choice.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
            if validation is None:
                index = split_train(train.codes, fraction, split_seed)
                _write_split(tmp, *(notes_at(train, i) for i in index), args.text_column, args.code_column)
    else:
        result = choose_on_train(train, evaluation, candidates, **protocol)
        result["total_seconds"] = round(time.perf_counter() - start, 2)
    print(json.dumps(result, ensure_ascii=False) if args.json else choice_text(result))
    return 0
