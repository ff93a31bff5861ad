"""The Medical Knowledge Graph: normalisation, source parsers, the build, the API and the `medsyn kg` CLI."""

import gzip
import json
import shutil

import pytest
from conftest import FIXTURE_SOURCES, SOURCES

from medsyn_hf.cli import main
from medsyn_hf.errors import MedsynError
from medsyn_hf.kg import load_graph
from medsyn_hf.kg import sources as src
from medsyn_hf.kg.build import UNWEIGHTED, build, compile_graph, map_code
from medsyn_hf.kg.graph import default_path
from medsyn_hf.normalize import surface, symptom_key


# -- normalisation ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b",
    [
        ("Болями в горле", "боль в горле"),
        ("Головная боль", "головные боли"),
        ("ПОВЫШЕНИЕ ТЕМПЕРАТУРЫ ТЕЛА", "повышение температуры тела"),
        ("слабость", "Слабость."),
        ("одышка", "одЫшка "),
        ("тёмная моча", "темная моча"),
    ],
)
def test_symptom_key_merges_inflections_and_case(a, b):
    assert symptom_key(a) == symptom_key(b)


def test_symptom_key_keeps_different_symptoms_apart():
    assert symptom_key("боль в горле") != symptom_key("боль в груди")


def test_surface_is_a_tidy_display_form():
    assert surface("  Выделение мочи каплями (дриблинг. ") == "выделение мочи каплями дриблинг"


# -- source parsers on fixtures in each real format -------------------------------------------------------------------
def test_icd_tree_parser():
    rows = src.read_icd_tree(FIXTURE_SOURCES / src.ICD_TREE)
    by_code = {r["code"]: r for r in rows}
    assert by_code["J06.9"]["parent"] == "J06" and by_code["J06"]["parent"] == "J00-J06"
    assert by_code["X"]["parent"] is None and by_code["X"]["name"].startswith("БОЛЕЗНИ ОРГАНОВ ДЫХАНИЯ")


def test_main_proc_parser_aligns_symptoms_and_weights():
    rows = src.read_main_proc(FIXTURE_SOURCES / src.MAIN_PROC)
    weighted = [r for r in rows if r["weighted"]]
    assert weighted and all(isinstance(w, float) for r in weighted for _, w in r["weighted"])
    assert any(r["unweighted"] for r in rows)
    assert all(r["sex"] in (None, "male", "female") for r in rows)


def test_small_parsers():
    assert all(r["unweighted"] is not None for r in src.read_icd_symp_ru(FIXTURE_SOURCES / src.ICD_SYMP_RU))
    hsdn = src.read_hsdn(FIXTURE_SOURCES / src.HSDN)
    assert hsdn and all(r["mesh"].startswith("D") and r["tfidf"] > 0 for r in hsdn)
    mapping = src.read_mesh_icd10(FIXTURE_SOURCES / src.MESH_ICD10_CSV, FIXTURE_SOURCES / src.MESH_ICD10_TXT)
    assert any(code.startswith("J45") for pairs in mapping.values() for code, _ in pairs)
    translations = src.read_symptom_translations(FIXTURE_SOURCES / src.SYMPTOMS_EN_RU)
    assert all(ru and en for en, ru in translations.items())
    sexes = src.read_gender_split(FIXTURE_SOURCES / src.GENDER_SPLIT)
    assert sexes["N40"] == "male"
    notes = src.read_gpt_notes(FIXTURE_SOURCES / src.GPT_NOTES)
    assert notes and all(isinstance(n["symptoms"], list) for n in notes)
    complaints = src.read_rumedtop3_train(FIXTURE_SOURCES / src.RUMEDTOP3_TRAIN)
    assert {c["code"] for c in complaints} <= {"J02", "J04", "J06", "J45", "N40"}


def test_split_list():
    assert src.split_list("Боль в горле, Кашель; слабость.\n") == ["Боль в горле", "Кашель", "слабость"]


def test_missing_source_names_the_file(tmp_path):
    with pytest.raises(MedsynError, match="mkb10_nsi_v2.27.csv: source file not found"):
        src.read_icd_tree(tmp_path / src.ICD_TREE)


def _copy_fixtures(tmp_path):
    dst = tmp_path / "sources"
    shutil.copytree(FIXTURE_SOURCES, dst)
    return dst


def test_malformed_csv_names_file_and_line(tmp_path):
    sources = _copy_fixtures(tmp_path)
    path = sources / src.MAIN_PROC
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("[", "[[", 1) if "[" in lines[3] else lines[3] + ",'[1,'"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MedsynError, match=r"main_proc\.csv:4: "):
        src.read_main_proc(path)


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"code": "J06", "symptoms": "кашель"}\n{"code": "J06", "symptoms": \n', encoding="utf-8")
    with pytest.raises(MedsynError, match=r"train.jsonl:2: invalid JSON"):
        src.read_rumedtop3_train(path)


def test_hsdn_bad_number_names_line(tmp_path):
    path = tmp_path / "symptoms-DO.tsv"
    lines = (FIXTURE_SOURCES / src.HSDN).read_text(encoding="utf-8").splitlines()
    cells = lines[2].split("\t")
    cells[3] = "n/a"
    lines[2] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MedsynError, match=r"symptoms-DO.tsv:3: tfidf_score 'n/a'"):
        src.read_hsdn(path)


# -- the build --------------------------------------------------------------------------------------------------------
def test_map_code_onto_russian_tree():
    known = {"B96", "B96.2", "J06", "J06.9"}
    assert map_code("B96.20", known) == "B96.2"
    assert map_code("j06.9", known) == "J06.9"
    assert map_code("J06.99", known) == "J06.9"
    assert map_code("B18.2", known) is None


def test_build_is_deterministic_and_atomic(tmp_path):
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    build(FIXTURE_SOURCES, a)
    build(FIXTURE_SOURCES, b)
    assert a.read_bytes() == b.read_bytes()
    # A failing build leaves the previous graph byte-for-byte intact and no temporary files behind.
    broken = _copy_fixtures(tmp_path)
    (broken / src.HSDN).unlink()
    before = a.read_bytes()
    with pytest.raises(MedsynError, match="symptoms-DO.tsv: source file not found"):
        build(broken, a)
    assert a.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json.gz", "b.json.gz", "sources"]


def test_weights_share_one_scale():
    data = compile_graph(FIXTURE_SOURCES)
    per_source = {}
    for _code, _key, weight, sources in data["edges"]:
        assert 0 < weight <= 10 and weight == max(w for _, w in sources)
        for name, w in sources:
            per_source.setdefault(name, []).append(w)
    assert max(per_source["hsdn"]) == 10.0 and min(per_source["hsdn"]) < 10.0
    assert set(per_source["medsyn_ru"]) == {UNWEIGHTED}


def test_shipped_graph_is_the_build_of_the_committed_sources(tmp_path):
    out = tmp_path / "mkg.json.gz"
    build(SOURCES, out)
    assert out.read_bytes() == default_path().read_bytes(), "run `medsyn kg build` and commit the result"


def test_rumedtop3_dev_never_feeds_the_graph():
    data = json.loads(gzip.decompress(default_path().read_bytes()))
    assert not any("dev" in name for name in data["sources"])


# -- API on the packaged graph ----------------------------------------------------------------------------------------
def test_coverage_bar(kg):
    stats = kg.stats()
    assert stats["codes_with_3plus_symptoms"] >= 1000
    assert stats["rumedtop3_categories"] == 105 and stats["rumedtop3_categories_covered"] == 105
    for code in kg.rumedtop3_categories:
        assert kg.code(code)["name_ru"] and len(kg.symptoms(code)) >= 3


def test_code_lookup_and_hierarchy(kg):
    info = kg.code("j06.9")
    assert info["code"] == "J06.9" and info["level"] == "subcategory" and "инфекц" in info["name_ru"].lower()
    assert kg.path("J06.9") == ["X", "J00-J06", "J06", "J06.9"]
    assert kg.parents("J06.9") == ["J06"]
    assert "J06.9" in kg.children("J06") and "J06" in kg.children("J00-J06")
    assert kg.code("N40")["sex"] == "male" and kg.code("C53.0")["sex"] == "female" and kg.code("J06")["sex"] is None


def test_unknown_code_suggests_close_matches(kg):
    with pytest.raises(MedsynError, match=r"unknown ICD-10 code 'J6.0'; did you mean J06.0"):
        kg.code("J6.0")


def test_category_aggregates_its_subcodes(kg):
    category = {s.key: s.weight for s in kg.symptoms("J06")}
    for child in kg.children("J06"):
        for s in kg.symptoms(child):
            assert category[s.key] >= s.weight
    weights = [s.weight for s in kg.symptoms("J06")]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("острый ларингит", "J04.0"),
        ("ОСТРЫЙ ЛАРИНГИТ", "J04.0"),
        ("острый ларенгит", "J04.0"),  # typo
        ("acute laryngitis", "J04.0"),
        ("сахарный диабет 2 типа", "E11"),
        ("j45", "J45"),
    ],
)
def test_search(kg, query, expected):
    assert expected in [code for code, _, _ in kg.search(query, limit=5)]


def test_related_codes_share_symptoms(kg):
    related = kg.related("J06", limit=5)
    assert related and all(kg.code(c)["level"] == "category" and c != "J06" for c, _ in related)
    own = {s.key for s in kg.symptoms("J06")}
    for code, shared in related:
        assert shared == len(own & {s.key for s in kg.symptoms(code)})


def test_neighbourhood(kg):
    sub = kg.neighbourhood("J06", radius=2, limit=3)
    kinds = {a["kind"] for _, a in sub.nodes(data=True)}
    assert kinds == {"code", "symptom"} and "J00-J06" in sub and "J06.9" in sub
    assert len(sub.nodes) == 1 + 1 + len(kg.children("J06")) + len(kg.symptoms("J06")) + 3


def test_load_errors(tmp_path):
    with pytest.raises(MedsynError, match="MKG file not found"):
        load_graph(tmp_path / "none.json.gz")
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(MedsynError, match="not a readable MKG file"):
        load_graph(bad)


# -- CLI --------------------------------------------------------------------------------------------------------------
def test_cli_stats_json(capsys):
    assert main(["kg", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert set(stats["nodes"]) == {"chapter", "block", "category", "subcategory", "symptom"}
    assert set(stats["edges"]) == {"is_a", "has_symptom"}
    assert stats["codes_with_3plus_symptoms"] >= 1000 and stats["rumedtop3_categories_covered"] == 105


def test_cli_show_and_search(capsys, kg):
    assert main(["kg", "show", "J06", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    top = kg.symptoms("J06")[0]
    assert "J00-J06" in out and top.name in out and f"{top.weight:6.2f}" in out and top.sources[0] in out
    assert main(["kg", "search", "острый ларенгит", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["code"] == "J04.0"


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert main(["kg", "show", "Q99.99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean Q99.9" in err
    (tmp_path / "src").mkdir()
    assert main(["kg", "build", "--sources", str(tmp_path / "src"), "--out", str(tmp_path / "g.json.gz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "source file not found" in err
    assert not (tmp_path / "g.json.gz").exists()
