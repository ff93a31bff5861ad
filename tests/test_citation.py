"""The licence and the citation are stated once and agree everywhere: LICENSE and setup.cfg (MIT), CITATION.cff,
the README's citation block and the cards' citations (medsyn_hf.provenance)."""

import configparser
import re

import yaml
from conftest import REPO

from medsyn_hf import __version__
from medsyn_hf.provenance import MEDSYN_CITATION, TOOLKIT_CITATION


def test_license_file_is_the_mit_licence_setup_cfg_declares():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    assert cfg["metadata"]["license"] == "MIT" and cfg["metadata"]["license_files"] == "LICENSE"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) ") and "Permission is hereby granted, free of charge" in text


def test_citation_cff_names_this_release_and_the_medsyn_paper():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["version"] == __version__ and cff["license"] == "MIT"
    title = re.search(r"title\s*=\s*\{(.*)\},", TOOLKIT_CITATION).group(1).replace("\\_", "_")
    assert cff["title"] == title
    medsyn = cff["references"][0]
    assert medsyn["doi"] == re.search(r"doi\s*=\s*\{(.*?)\}", MEDSYN_CITATION).group(1)
    assert [a["family-names"] for a in medsyn["authors"]][:2] == ["Kumichev", "Blinov"] and medsyn["year"] == 2024
    assert f"version = {{{__version__}}}" in TOOLKIT_CITATION


def test_readme_cites_the_paper_and_the_toolkit():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Citation")[1]
    assert MEDSYN_CITATION in block and TOOLKIT_CITATION in block
