"""The privacy guard: drops notes that share a long verbatim word run with any of the user's real notes (the run
the privacy report measures, ``medsyn_hf.filters.ngrams``)."""

from __future__ import annotations

from medsyn_hf.filters.base import SetFilter, Threshold
from medsyn_hf.filters.ngrams import longest_common_runs, tokenize
from medsyn_hf.schemas import FILTER_COLUMNS, FILTER_REASONS

RUN_THRESHOLD = 10  # words; RuMedTop3 train against itself: 13.7 % of a 20 % holdout (duplicated complaints)


class RealCopy(SetFilter):
    """Privacy guard: the longest word sequence the note shares verbatim with any real note (`real_dataset`)."""

    name = "real_copy"
    columns = FILTER_COLUMNS[name]
    reasons = FILTER_REASONS[name]
    thresholds = {
        "real_run_limit": Threshold(
            RUN_THRESHOLD,
            "Drop notes sharing a verbatim run of at least this many words with a real note (`real_dataset`); "
            "None: off.",
            low=1,
            high=10_000,
            kind=int | None,
        )
    }

    def score(self, notes, passing, config):
        if notes.reference is None:
            return {"real_run": [None] * len(notes)}
        runs = longest_common_runs(tokenize(notes.texts), tokenize(notes.reference.texts), len(notes))
        return {"real_run": runs.tolist()}

    def reject(self, note, config):
        run, limit = note["real_run"], config.real_run_limit
        return ["real_copy"] if limit is not None and run is not None and run >= limit else []
