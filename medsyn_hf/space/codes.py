"""The ICD-10 tab: find a code by name or prefix, show its place in the hierarchy, its weighted symptoms and a picture
of its neighbourhood in the MKG."""

from __future__ import annotations

import functools
import io
import textwrap

import pandas as pd

from medsyn_hf.errors import MedsynError
from medsyn_hf.kg import load_graph
from medsyn_hf.kg.graph import SYMPTOM
from medsyn_hf.space.inputs import MAX_QUERY, text

# What the tab opens on (its first entry, searched and drawn before anyone types) and its examples.
EXAMPLES = ("острый бронхит", "мигрень", "asthma", "цистит", "K29", "I10")


def explore(query: str):
    """Search and show the best hit at once: matches, the code, its hierarchy, symptoms and picture (the first screen
    and the examples)."""
    hits, best = search(query)
    return (hits, best, *show_code(best))


def search(query: str):
    """Codes by Russian or English name, or by code prefix, typo tolerant; the best hit is shown right away."""
    query = text(query, "search text", MAX_QUERY)
    hits = load_graph().search(query, limit=20)
    if not hits:
        raise MedsynError(f"no ICD-10 code matches {query!r}")
    return pd.DataFrame(hits, columns=["code", "name", "score"]), hits[0][0]


def show_code(code: str):
    """The code's place in the hierarchy, its weighted symptoms and a picture of its MKG neighbourhood."""
    from PIL import Image

    kg = load_graph()
    code = kg.resolve(text(code, "ICD-10 code", 20))
    markdown, png = code_view(code)
    symptoms = pd.DataFrame(
        [(s.name, round(s.weight, 2), ", ".join(s.sources)) for s in kg.symptoms(code)],
        columns=["symptom", "weight", "sources"],
    )
    return markdown, symptoms, Image.open(io.BytesIO(png))


@functools.lru_cache(maxsize=128)
def code_view(code: str) -> tuple[str, bytes]:
    """Markdown and neighbourhood PNG of a code, cached: finding related codes takes seconds for big categories."""
    kg = load_graph()
    info = kg.code(code)
    sub = kg.neighbourhood(code, radius=2, limit=6)
    lines = [f"### {code} — {info['name_ru']}", ""]
    if info["name_en"]:
        lines += [f"*{info['name_en']}*", ""]
    lines += [f"level: {info['level']} · sex: {info['sex'] or 'any'}", ""]
    for depth, node in enumerate(kg.path(code)):
        name = kg.graph.nodes[node]["name_ru"]
        lines.append(f"{'  ' * depth}- **{node}** {name}" if node == code else f"{'  ' * depth}- {node} {name}")
    children = kg.children(code)
    if children:
        lines += ["", f"subcodes: {', '.join(children)}"]
    lines += ["", f"symptoms in the MKG (with its subcodes'): {len(kg.symptoms(code))}"]
    family = {code, *kg.parents(code), *children}
    related = [n for n, a in sub.nodes(data=True) if a["kind"] == "code" and n not in family]
    if related:
        lines += ["", f"codes sharing symptoms: {', '.join(related)}"]
    if info["description"]:
        lines += ["", info["description"]]
    return "\n".join(lines), draw_neighbourhood(kg, code, sub)


def draw_neighbourhood(kg, code: str, sub, max_symptoms: int = 12) -> bytes:
    """PNG of the code, its parent and subcodes, its heaviest symptoms and related codes sharing them."""
    import networkx as nx
    from matplotlib.figure import Figure

    top = {SYMPTOM + s.key for s in kg.symptoms(code)[:max_symptoms]}
    g = sub.subgraph(n for n, a in sub.nodes(data=True) if a["kind"] == "code" or n in top)
    g = g.subgraph(n for n in g if n == code or g.degree(n))
    family = [n for n in (*kg.parents(code), *kg.children(code)) if n in g]
    symptoms = [SYMPTOM + s.key for s in kg.symptoms(code) if SYMPTOM + s.key in g]
    related = sorted(n for n in g if n not in {code, *family, *symptoms})
    colour = {
        code: "#d62728",
        **dict.fromkeys(family, "#1f77b4"),
        **dict.fromkeys(symptoms, "#2ca02c"),
        **dict.fromkeys(related, "#ff7f0e"),
    }
    labels = {n: n if a["kind"] == "code" else textwrap.fill(a["name"], 18) for n, a in g.nodes(data=True)}
    # Rings: the code, its parent and subcodes, its symptoms (heaviest first), codes sharing them.
    pos = nx.shell_layout(g, [ring for ring in ([code], family, symptoms, related) if ring])
    fig = Figure(figsize=(8, 6.5), dpi=100)
    ax = fig.subplots()
    ax.set_axis_off()
    reach = 1.2 * max(0.5, *(abs(c) for xy in pos.values() for c in xy))
    ax.set(xlim=(-1.1 * reach, 1.1 * reach), ylim=(-reach, reach))
    is_a = [e for e in g.edges(data=True) if e[2]["kind"] == "is_a"]
    has = [e for e in g.edges(data=True) if e[2]["kind"] == "has_symptom"]
    nx.draw_networkx_edges(g, pos, edgelist=is_a, ax=ax, style="dashed", edge_color="#555", arrows=False)
    nx.draw_networkx_edges(
        g,
        pos,
        edgelist=has,
        ax=ax,
        edge_color="#999",
        arrows=False,
        width=[0.5 + 2.5 * e[2]["weight"] / 10 for e in has],
    )
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=[colour[n] for n in g], node_size=260, alpha=0.9)
    nx.draw_networkx_labels(g, pos, labels, ax=ax, font_size=7)
    for label, c in (
        ("code", "#d62728"),
        ("parent / subcode", "#1f77b4"),
        ("code sharing symptoms", "#ff7f0e"),
        ("symptom (edge width = weight)", "#2ca02c"),
    ):
        ax.scatter([], [], color=c, label=label)
    fig.legend(loc="lower center", ncols=4, fontsize=7, frameon=False)
    ax.set_title(f"{code} in the MKG", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
