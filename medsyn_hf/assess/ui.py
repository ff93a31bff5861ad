"""The demo Space's Assess tab: an annotator identifies, then answers the items of an assessment folder one at a time.

The server process only ever reads ``items.jsonl`` (the public part) and the ``answers/`` folder: the key is never
loaded, so no response can carry it. Each answer is stored (``AnswerStore.append``: one fsync'd line) before the next
item is shown; every request carries the annotator and the item it answers, so a form submitted to a restarted server
still lands, and an annotator who comes back (after a restart, on another day) continues at their first unanswered
item. On a Space the annotator is their Hugging Face account (``gr.LoginButton``; the Space's card needs
``hf_oauth: true``), elsewhere the name they type; ``repo_id`` syncs the answers folder, and nothing else, to a private
Hub dataset every few minutes with ``huggingface_hub.CommitScheduler``.

No ``from __future__ import annotations`` here: Gradio finds the ``gr.OAuthProfile`` parameter by its type hint.
"""

import os
from pathlib import Path

from medsyn_hf.assessment_folder import (
    ANSWERS_DIR,
    ORIGINS,
    AnswerStore,
    annotator_name,
    check_answer,
    load_items,
    next_item,
)
from medsyn_hf.errors import MedsynError
from medsyn_hf.hub import hub_errors
from medsyn_hf.schemas import ASSESSMENT_CRITERIA, SCORE_RANGE

SYNC_MINUTES = 5
LABELS = {
    "realism": "Realism",
    "plausibility": "Clinical plausibility",
    "consistency": "Consistency with the code",
    "language": "Language",
}
INTRO = """Blind assessment of clinical notes: half of them are real, half were written by a model, in random order.
For each note, say whether you think it is **real** or **synthetic**, and score it from 1 (poor) to 5 (excellent):
""" + "\n".join(f"- **{LABELS[c]}**: {doc}" for c, doc in ASSESSMENT_CRITERIA.items())


def on_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def sync_answers(folder: Path, repo_id: str, every: float = SYNC_MINUTES):
    """A CommitScheduler pushing ``folder/answers`` (only it) to the private dataset ``repo_id`` every few minutes."""
    from huggingface_hub import CommitScheduler  # its scheduler thread module: only when answers sync to the Hub

    with hub_errors(f"cannot sync the answers to the Hub dataset {repo_id!r}"):
        return CommitScheduler(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=Path(folder) / ANSWERS_DIR,
            path_in_repo=ANSWERS_DIR,
            every=every,
            private=True,
            allow_patterns=["*.jsonl"],
        )


class Assessment:
    """The handlers of the tab: items (public part only) and the answers store of one assessment folder."""

    def __init__(self, folder: str | Path, repo_id: str | None = None):
        folder = Path(folder)
        if not folder.is_dir():
            raise MedsynError(f"--assess {folder}: not a folder (write one with `medsyn assess prepare`)")
        self.items = load_items(folder)
        self.ids = {item["item_id"] for item in self.items}
        self.scheduler = sync_answers(folder, repo_id) if repo_id else None
        self.store = AnswerStore(folder, lock=self.scheduler.lock if self.scheduler else None)

    def who(self, name, profile) -> str:
        """On a Space: the signed-in Hugging Face user (the name field is ignored); elsewhere the typed name."""
        if on_space():
            if profile is None:
                raise MedsynError("sign in with Hugging Face first")
            return annotator_name(profile.username)
        return annotator_name(name)

    def show(self, annotator: str) -> tuple:
        """(progress, item id, code, text, blank answers) of the annotator's first unanswered item."""
        done = self.store.read(annotator)
        index = next_item(self.items, done)
        blank = (None,) * (1 + len(ASSESSMENT_CRITERIA))
        if index is None:
            return (f"**{annotator}**: all {len(self.items)} notes assessed — thank you!", "", "", "", *blank)
        item = self.items[index]
        return (
            f"**{annotator}**: note {len(done) + 1} of {len(self.items)}",
            item["item_id"],
            f"**{item['code']}** — {item['code_name']}",
            item["text"],
            *blank,
        )

    def start(self, name, profile=None) -> tuple:
        annotator = self.who(name, profile)
        return (annotator, *self.show(annotator))

    def submit(self, name, item_id, origin, scores: list, profile=None) -> tuple:
        """Store the answer to ``item_id`` (scores in ASSESSMENT_CRITERIA order), then show the next item."""
        annotator = self.who(name, profile)
        if not item_id:
            raise MedsynError("no note is shown: press Start")
        answer = check_answer(item_id, origin, dict(zip(ASSESSMENT_CRITERIA, scores)), self.ids)
        self.store.append(annotator, answer)
        return (annotator, *self.show(annotator))


def add_assess_tab(folder: str | Path, readable, repo_id: str | None = None) -> Assessment:
    """Lay out the Assess tab inside the app's ``gr.Tabs`` and wire it; ``readable`` turns errors into one line."""
    import gradio as gr  # heavy: only the Space lays the tab out

    assessment = Assessment(folder, repo_id)

    def start(name, profile: gr.OAuthProfile | None = None):
        return assessment.start(name, profile)

    def submit(
        name, item_id, origin, realism, plausibility, consistency, language, profile: gr.OAuthProfile | None = None
    ):
        return assessment.submit(name, item_id, origin, [realism, plausibility, consistency, language], profile)

    lo, hi = SCORE_RANGE
    with gr.Tab("Assess", id="assess"):
        gr.Markdown(INTRO)
        with gr.Row():
            if on_space():
                gr.LoginButton()
            name = gr.Textbox(
                label="Your name (letters, digits, '.', '-', '_'; no spaces)",
                elem_id="assess-name",
                interactive=not on_space(),
                scale=3,
            )
            start_btn = gr.Button("Start / continue", variant="primary", elem_id="assess-start", scale=1)
        progress = gr.Markdown(elem_id="assess-progress")
        with gr.Row():
            item_id = gr.Textbox(label="Note id", interactive=False, elem_id="assess-item", scale=1)
            code = gr.Markdown(elem_id="assess-code")
        note = gr.Textbox(label="Note", lines=6, interactive=False, elem_id="assess-text")
        origin = gr.Radio(list(ORIGINS), label="This note is", elem_id="assess-origin")
        scores = [
            gr.Radio(list(range(lo, hi + 1)), label=f"{LABELS[c]} ({lo}-{hi})", elem_id=f"assess-{c}")
            for c in ASSESSMENT_CRITERIA
        ]
        submit_btn = gr.Button("Submit and next", variant="primary", elem_id="assess-submit")
        outputs = [name, progress, item_id, code, note, origin, *scores]
        start_btn.click(readable(start), [name], outputs, api_name="assess_start")
        submit_btn.click(readable(submit), [name, item_id, origin, *scores], outputs, api_name="assess_submit")
    return assessment
