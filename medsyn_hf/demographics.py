"""Who the synthetic patient is: location, sex, age, marital status and smoking, from Russian statistics.

``build_demographics`` compiles the Rosstat tables in ``data/sources/medsyn_kg/demographics`` into the small
``resources/demographics.json``; ``sample_patients`` turns uniforms into patients, vectorised and exactly by the
joint P(location) P(sex | location) P(age | sex, location) restricted to ages >= min_age (and to one sex for
sex-specific codes).
MedSyn drew location and sex from the whole population and then redrew only the age until it reached min_age, which
skews the sex/location mix of the adult population it meant to model.
"""

from __future__ import annotations

import contextlib
import csv
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.textfile import check_file, open_text, read_json

SEXES = ("male", "female")
LOCATIONS = ("city", "countryside")
MARITAL = ("single", "married")
# Share of married people among those who have ever married by a given age; with the Rosstat table of 2021 marriages by
# age at registration (an estimate of P(married by age a) up to this factor) it gives P(married | sex, age group).
# 0.65 puts the 35+ group near the ~60-65 % married share of Russian adults of that age (MedSyn used a 1.25 fudge
# factor on a similar table for the same purpose).
MARRIED_SHARE = 0.65
# MedSyn's smoking prevalence among adults (Russia), applied from age 16.
SMOKING = {"male": 0.346, "female": 0.083}
SMOKING_MIN_AGE = 16
MARRIAGE_MIN_AGE = 18  # younger patients are always single (and their description leaves marital status out)


def default_path() -> Path:
    return Path(str(resources.files("medsyn_hf") / "resources" / "demographics.json"))


def build_demographics(sources: str | Path) -> dict:
    """Compile ``<sources>/medsyn_kg/demographics`` into the JSON-able tables ``sample_patients`` needs."""
    folder = Path(sources) / "medsyn_kg" / "demographics"
    ages, marriages = _table(folder / "EdgeGenderRU_2022.csv"), _table(folder / "FamilyStatusRU.csv")
    groups = ["0-17", "18-24", "25-34", "35-99"]
    with _cells(folder / "EdgeGenderRU_2022.csv"):
        population = {
            sex: {loc: [int(r[f"{sex[0].upper()}_{loc.capitalize()}"]) for r in ages] for loc in LOCATIONS}
            for sex in SEXES
        }
        age_list = [int(r["Age"]) for r in ages]
    p_married = {}
    with _cells(folder / "FamilyStatusRU.csv"):
        latest = max(marriages, key=lambda r: int(re.match(r"\d+", r["year"]).group()))  # "20141)": a footnote mark
        for sex in SEXES:
            counts = np.array([int(latest[f"{sex[0]}_age_{g}"]) for g in groups], dtype=float)
            cdf = np.cumsum(counts) / counts.sum()
            p_married[sex] = [0.0] + [round(float(p) * MARRIED_SHARE, 4) for p in cdf[1:]]
    return {
        "source": "Rosstat: population by age, sex, city/countryside (2022); marriages by age group "
        f"({re.match(r'[0-9]+', latest['year']).group()}); via github.com/milteam/MedSyn data/demographical",
        "ages": age_list,
        "population": population,
        "marriage": {
            "age_groups": [[int(a), int(b)] for a, b in (g.split("-") for g in groups)],
            "p_married": p_married,
            "method": f"P(married | sex, group) = {MARRIED_SHARE} * cumulative share of marriages registered up to "
            f"the group's upper age; 0 below {MARRIAGE_MIN_AGE}",
        },
        "smoking": {"min_age": SMOKING_MIN_AGE, "p": SMOKING, "method": "MedSyn's adult smoking prevalence by sex"},
    }


def _table(path: Path) -> list[dict]:
    rows = list(csv.DictReader(open_text(check_file(path, "demographics source"))))
    if not rows:
        raise MedsynError(f"{path}: no rows after the header")
    return rows


@contextlib.contextmanager
def _cells(path: Path):
    """A missing column or a cell that is not a number, as one line naming the file."""
    try:
        yield
    except KeyError as err:
        raise MedsynError(f"{path}: no column {err.args[0]!r}") from None
    except (ValueError, TypeError, AttributeError) as err:
        raise MedsynError(f"{path}: a cell is not a whole number ({first_line(err)})") from None


@lru_cache(maxsize=4)
def load_demographics(path: str | None = None) -> dict:
    path = Path(path) if path else default_path()
    if not path.is_file():
        raise MedsynError(f"{path}: demographics resource not found (build it with `medsyn priors-resources`)")
    return read_json(path, "demographics resource")


@lru_cache(maxsize=16)
def _tables(path: str | None, min_age: int):
    """Joint cells (sex, location, age >= min_age) with one CDF per sex restriction (any, male, female)."""
    demo = load_demographics(path)
    ages = np.array(demo["ages"])
    if not 0 <= min_age <= ages.max():
        raise MedsynError(f"min_age must be between 0 and {ages.max()}, got {min_age}")
    keep = ages >= min_age
    sex, loc, age, pop = [], [], [], []
    for s, sex_name in enumerate(SEXES):
        for loc_i, loc_name in enumerate(LOCATIONS):
            counts = np.array(demo["population"][sex_name][loc_name], dtype=float)[keep]
            sex.append(np.full(len(counts), s))
            loc.append(np.full(len(counts), loc_i))
            age.append(ages[keep])
            pop.append(counts)
    sex, loc, age, pop = map(np.concatenate, (sex, loc, age, pop))
    cdfs = np.stack([np.cumsum(pop * mask) for mask in (np.ones_like(pop), sex == 0, sex == 1)])
    cdfs /= cdfs[:, -1:]  # last entry exactly 1.0, so u < 1 never falls past a cell the restriction allows
    groups = demo["marriage"]["age_groups"]
    group_of_age = np.searchsorted([hi for _, hi in groups], np.arange(ages.max() + 1))
    p_married = np.array([demo["marriage"]["p_married"][s] for s in SEXES])  # (sex, group)
    p_smoking = np.array([demo["smoking"]["p"][s] for s in SEXES])
    return sex, loc, age, cdfs, group_of_age, p_married, p_smoking, demo["smoking"]["min_age"]


def sample_patients(restriction, u_cell, u_married, u_smoking, min_age: int = 18, path: str | None = None):
    """Patients for arrays of uniforms in [0, 1): returns (sex index, age, location index, married, smoking) arrays.

    ``restriction`` per patient: 0 any sex, 1 male only, 2 female only (index into ``SEXES`` + 1).
    """
    sex, loc, age, cdfs, group_of_age, p_married, p_smoking, smoking_min_age = _tables(path, int(min_age))
    cell = np.empty(len(u_cell), dtype=np.int64)
    for r in range(3):
        rows = restriction == r
        cell[rows] = np.searchsorted(cdfs[r], u_cell[rows], side="right")
    s, a = sex[cell], age[cell]
    married = u_married < p_married[s, group_of_age[a]]
    smoking = (a >= smoking_min_age) & (u_smoking < p_smoking[s])
    return s, a, loc[cell], married, smoking
