"""Where what we publish comes from, under which terms, and how it is named in public: the source datasets and their
licences, the one licence story of the packaged writer and of the corpora it writes, the citations, and the public
name of a model or file (a Hub id, a name, never a path of the machine that made it).

Every card (the notes dataset, the SFT model, the packaged writer, the evaluate modules) and CITATION.cff read these,
so a licence or a citation is stated once.
"""

from __future__ import annotations

import os
from pathlib import Path

from medsyn_hf import __version__

# -- sources: key -> (what it is, origin, licence). Rendered into the dataset cards' source tables. ------------------
SOURCES = {
    "medsyn_gpt_notes": (
        "11,480 synthetic notes by gpt-3.5-turbo / gpt-4 (part of MedSyn-ift)",
        "https://github.com/milteam/MedSyn",
        "MIT",
    ),
    "rumedtop3_train": (
        "RuMedTop3 train: real outpatient complaints with 3-character ICD-10 codes (RuMedBench)",
        "https://github.com/sb-ai-lab/MedBench",
        "Apache-2.0",
    ),
    "mkg": (
        "medsyn_hf Medical Knowledge Graph: official Russian ICD-10 (МКБ-10, NSI 1.2.643.5.1.13.13.11.1005) + "
        "MedSyn symptom tables + HSDN (Zhou et al. 2014) + symptoms of RuMedTop3 train and the GPT notes",
        "https://github.com/ak4nv/mkb10, https://github.com/milteam/MedSyn, HSDN",
        "MIT / CC BY / Apache-2.0",
    ),
    "ru_wikipedia": (
        "Russian Wikipedia paragraphs on the symptoms of 209 diseases (collected by the MedSyn authors)",
        "https://ru.wikipedia.org",
        "CC BY-SA",
    ),
    "rosstat": (
        "Rosstat 2021-2022 public statistics: age, sex, city/countryside, marriages, smoking",
        "https://rosstat.gov.ru",
        "public statistics",
    ),
}

# -- the licence story: one for the packaged writer and for the corpora published with medsyn_hf -------------------
WRITER_LICENSE = "cc-by-sa-4.0"  # the packaged writers medsyn-tiny and medsyn-tiny-complaints (weights)
CORPUS_LICENSE = "cc-by-sa-4.0"  # `medsyn publish`'s default for a notes dataset
LICENSE_STORY = (
    "**Licences.** The code of medsyn_hf is MIT. The packaged writer `medsyn-tiny` is released under "
    "**CC BY-SA 4.0**: it is trained on Russian Wikipedia text (CC BY-SA, share-alike), on its own and within the "
    "medsyn instruction data (itself CC BY-SA 4.0), besides MIT (MedSyn GPT notes, MKG tables) and Apache-2.0 "
    "(RuMedTop3 train) sources. Notes datasets made with "
    "medsyn_hf are published under **CC BY-SA 4.0** by default for the same reason (their writer is trained on CC "
    "BY-SA text); the real RuMedTop3 train notes they show as examples (`anamnesis`) stay Apache-2.0, with "
    "RuMedBench's attribution. A notes dataset written by another model is also bound by that model's licence "
    "(e.g. the Llama 2 Community License for a LLaMA-2 derivative): `medsyn publish --license` sets the dataset's."
)

# -- citations -------------------------------------------------------------------------------------------------------
MEDSYN_CITATION = """\
@inproceedings{kumichev2024medsyn,
  title     = {MedSyn: LLM-Based Synthetic Medical Text Generation Framework},
  author    = {Kumichev, Gleb and Blinov, Pavel and Kuzkina, Yulia and Goncharov, Vasily and Zubkova, Galina and
               Zenovkin, Nikolai and Goncharov, Aleksei and Savchenko, Andrey},
  booktitle = {Machine Learning and Knowledge Discovery in Databases. Applied Data Science Track (ECML PKDD 2024)},
  series    = {Lecture Notes in Computer Science},
  publisher = {Springer Nature Switzerland},
  address   = {Cham},
  year      = {2024},
  doi       = {10.1007/978-3-031-70381-2_14},
  eprint    = {2408.02056},
  archivePrefix = {arXiv}
}
"""
RUMEDBENCH_CITATION = """\
@misc{blinov2022rumedbench,
  title         = {RuMedBench: A Russian Medical Language Understanding Benchmark},
  author        = {Blinov, Pavel and Reshetnikova, Arina and Nesterov, Aleksandr and Zubkova, Galina and
                   Kokh, Vladimir},
  year          = {2022},
  eprint        = {2201.06499},
  archivePrefix = {arXiv}
}
"""
TOOLKIT_CITATION = f"""\
@software{{medsyn_hf,
  title   = {{medsyn\\_hf: Synthetic Russian Clinical Notes Grounded in a Medical Knowledge Graph}},
  author  = {{{{medsyn\\_hf contributors}}}},
  license = {{MIT}},
  version = {{{__version__}}},
  year    = {{2026}}
}}
"""


# -- public names ----------------------------------------------------------------------------------------------------
def is_local_path(value) -> bool:
    """A string that names a file or folder of this machine: one that exists, or an absolute path."""
    return isinstance(value, str) and bool(value) and (os.path.isabs(value) or os.path.lexists(value))


def public_name(value, named: dict | None = None):
    """How ``value`` appears in anything published: a known folder by its name (``named``: {folder: name}, e.g. the
    packaged writer's folder -> ``medsyn-tiny``), another local path by its last component, anything else (a Hub
    id, a number, None) unchanged."""
    if not is_local_path(value):
        return value
    resolved = Path(value).expanduser().resolve()
    for folder, name in (named or {}).items():
        if resolved == Path(folder).resolve():
            return name
    return resolved.name or value
