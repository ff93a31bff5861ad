"""`medsyn kg build|stats|show|search`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from medsyn_hf.errors import MedsynError
from medsyn_hf.kg.build import build, compare_stats, graph_stats
from medsyn_hf.kg.graph import default_path, load_graph
from medsyn_hf.textfile import read_json
from medsyn_hf.validate import int_arg


def _build(args):
    """Build, print the graph's figures beside the packaged graph's, and warn (stderr) about every figure that
    dropped by more than a few percent, naming the source files it comes from: a source that is valid but wrong
    (a shorter file, an older version) must not go unnoticed."""

    def packaged() -> dict | None:
        try:
            return graph_stats(read_json(default_path()))
        except (MedsynError, KeyError, TypeError, ValueError, IndexError):
            return None

    start = time.perf_counter()
    replaces_it = Path(args.out).resolve() == default_path().resolve()
    reference = packaged() if replaces_it else None  # read before the build replaces it
    data = build(Path(args.sources), Path(args.out), overwrite=args.overwrite)
    reference = reference if replaces_it else packaged()
    stats = graph_stats(data)
    report = {"out": str(args.out), **stats, "packaged": reference, "seconds": round(time.perf_counter() - start, 2)}
    print(
        json.dumps(report)
        if args.json
        else f"MKG of {report['codes']} codes, {report['symptoms']} symptoms and {report['has_symptom_edges']} "
        f"symptom edges -> {report['out']} in {report['seconds']} s"
        + (
            f" (packaged graph: {reference['codes']} codes, {reference['symptoms']} symptoms and "
            f"{reference['has_symptom_edges']} symptom edges)"
            if reference
            else ""
        )
    )
    for warning in compare_stats(stats, reference or {}, args.sources):
        print(f"medsyn: warning: {warning}", file=sys.stderr)


def _stats(args):
    stats = load_graph(args.graph).stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return
    for key, value in stats.items():
        print(f"{key}: {value}")


def _show(args):
    kg = load_graph(args.graph)
    info = kg.code(args.code)
    symptoms = kg.symptoms(info["code"])
    if args.json:
        shown = [{"name": s.name, "weight": s.weight, "sources": list(s.sources)} for s in symptoms[: args.limit]]
        path = [{"code": c, "name_ru": kg.graph.nodes[c]["name_ru"]} for c in kg.path(info["code"])]
        print(json.dumps({**info, "path": path, "n_symptoms": len(symptoms), "symptoms": shown}, ensure_ascii=False))
        return
    print(f"{info['code']}  {info['name_ru']}" + (f"  ({info['name_en']})" if info["name_en"] else ""))
    print("path: " + " > ".join(f"{c} {kg.graph.nodes[c]['name_ru']}" for c in kg.path(info["code"])))
    print(f"level: {info['level']}   sex: {info['sex'] or 'any'}")
    if info["description"]:
        print(f"description: {info['description'][:300]}")
    print(f"symptoms ({len(symptoms)}):")
    for s in symptoms[: args.limit]:
        print(f"  {s.weight:6.2f}  {s.name}  [{', '.join(s.sources)}]")


def _search(args):
    hits = load_graph(args.graph).search(args.text, limit=args.limit)
    if args.json:
        print(json.dumps([{"code": c, "name_ru": n, "score": s} for c, n, s in hits], ensure_ascii=False))
        return
    for code, name, score in hits:
        print(f"{code:10s} {score:5.1f}  {name}")


def add_cli(subparsers) -> None:
    kg = subparsers.add_parser("kg", help="the Medical Knowledge Graph: build, stats, show, search")
    sub = kg.add_subparsers(dest="kg_command", required=True, metavar="ACTION")

    def action(name, func, help_):
        p = sub.add_parser(name, help=help_)
        p.set_defaults(func=func)
        if name != "build":
            p.add_argument("--graph", default=None, help=f"MKG file (default: the packaged {default_path().name})")
        return p

    p = action("build", _build, "compile the MKG from the source files (deterministic)")
    p.add_argument(
        "--sources", default="data/sources", help="folder laid out like data/sources (default: %(default)s)"
    )
    p.add_argument(
        "--out",
        required=True,
        help=f"output file (the packaged graph is {default_path()}; an existing "
        "file only if it is an MKG file, or with --overwrite)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing file that is not an MKG file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = action("stats", _stats, "node/edge counts and coverage")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = action("show", _show, "a code: name, hierarchy path, symptoms with weights and sources")
    p.add_argument("code")
    p.add_argument("--limit", type=int_arg(0), default=30, help="symptoms to list (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = action("search", _search, "codes by Russian/English name or code prefix (typo tolerant)")
    p.add_argument("text")
    p.add_argument("--limit", type=int_arg(1, 10_000), default=10, help="most codes to list (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON list")
