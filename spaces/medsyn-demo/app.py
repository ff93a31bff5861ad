"""MedSyn demo: search the Medical Knowledge Graph, sample priors, stream a synthetic note, browse a published dataset.

    python spaces/medsyn-demo/app.py [--host 127.0.0.1 --port 7860 --model DIR --data-dirs DIR ...]

Runs offline (on a Space, the Hub stays reachable: a bundled LoRA adapter's base model comes from there). The app
reads files only under the configured data folders (``--data-dirs`` / ``MEDSYN_DATA_DIRS``) and the default model;
every handler checks its inputs and shows bad input as one readable line, never a traceback. This file holds the
layout and the wiring; the handlers are ``medsyn_hf.space``'s.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

for _var, _value in {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "0" if os.environ.get("SPACE_ID") else "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_var, _value)

import gradio as gr  # noqa: E402

import medsyn_hf  # noqa: E402
from medsyn_hf.errors import MedsynError  # noqa: E402
from medsyn_hf.prompts import TEMPLATE_NAMES  # noqa: E402
from medsyn_hf.space import codes as mkg  # noqa: E402
from medsyn_hf.space import config as space_config  # noqa: E402
from medsyn_hf.space import generate as notes  # noqa: E402
from medsyn_hf.space import priors as prior_tab  # noqa: E402
from medsyn_hf.space.browse import browse, card_datasets, dataset_folders  # noqa: E402
from medsyn_hf.space.inputs import MAX_NEW_TOKENS, MAX_PRIORS, MAX_ROWS, PRIOR_TEMPERATURE, TEMPERATURE  # noqa: E402
from medsyn_hf.space.models import DEFAULT_MODEL, DEMO_MODEL, model_choices  # noqa: E402
from medsyn_hf.space.ui import configs, folders, pick_code, pick_row, readable  # noqa: E402

try:  # ZeroGPU Spaces lend a GPU per call to functions decorated with spaces.GPU
    from spaces import GPU as gpu  # (from the repository root, ``spaces`` is also this folder's parent: no GPU there)
except ImportError:

    def gpu(fn=None, **_):
        """No-op stand-in for ``spaces.GPU``, bare or with arguments."""
        return fn if fn is not None else (lambda f: f)


log = logging.getLogger("medsyn.space")


@dataclass(frozen=True)
class Config(space_config.Config):
    """``medsyn_hf.space.config.Config`` with the model deploy.py bundles: model/ next to this file."""

    bundled: Path | None = Path(__file__).resolve().parent / "model"


# The note streams from the generation backend on a GPU lent per request on a ZeroGPU Space.
generate = functools.partial(notes.generate, stream=gpu(duration=120)(notes.stream_note))


# -- the app ----------------------------------------------------------------------------------------------------------
INTRO = """# MedSyn demo
Synthetic Russian clinical notes grounded in a **Medical Knowledge Graph** (ICD-10 codes ↔ weighted symptoms).
Search a code, sample priors (code, symptoms, patient) and their prompts, generate a note and check which prompted
symptoms it mentions, or browse a published dataset. Each tab has examples to start from."""
DISCLAIMER = (
    "⚠️ **Synthetic, not medical advice.** Every note here is machine-generated from sampled data and describes no "
    "real patient; never use it for diagnosis or treatment."
)


def build_demo(config: Config) -> gr.Blocks:
    def bind(fn):
        return readable(functools.partial(fn, config))

    # The first screen is filled before anyone types: the first example code searched and drawn, the first priors
    # example sampled, its prior ready to generate from. The picture comes with the page's load event: as a value
    # here, gradio's /config would carry the server path of its cached file.
    first_hits, first_code, first_hierarchy, first_symptoms, _ = mkg.explore(mkg.EXAMPLES[0])
    first_sample = prior_tab.EXAMPLES[0]
    first_priors, first_prompt, first_prior = prior_tab.sample(*first_sample)
    datasets = dataset_folders(config)
    examples = {"cache_examples": False, "api_visibility": "private", "examples_per_page": 6}
    with gr.Blocks(title="MedSyn demo") as demo:
        gr.Markdown(INTRO)
        gr.Markdown(DISCLAIMER, elem_id="disclaimer")
        with gr.Tabs() as tabs:
            with gr.Tab("ICD-10 codes", id="codes"):
                with gr.Row():
                    query = gr.Textbox(
                        mkg.EXAMPLES[0],
                        label="Search (Russian or English name, or a code; typos are fine)",
                        placeholder="острый ларингит · diabetes · J06",
                        elem_id="query",
                        scale=4,
                    )
                    search_btn = gr.Button("Search", variant="primary", elem_id="search-btn", scale=1)
                hits = gr.Dataframe(first_hits, label="Matches", interactive=False, elem_id="hits", max_height=250)
                with gr.Row():
                    code = gr.Textbox(first_code, label="Code", elem_id="code", scale=4)
                    show_btn = gr.Button("Show", elem_id="show-btn", scale=1)
                with gr.Row():
                    with gr.Column():
                        hierarchy = gr.Markdown(first_hierarchy, elem_id="hierarchy")
                        symptoms = gr.Dataframe(
                            first_symptoms,
                            label="Symptoms (MKG weight 0-10)",
                            interactive=False,
                            max_height=350,
                            elem_id="symptoms",
                        )
                    picture = gr.Image(
                        label="Neighbourhood in the MKG",
                        type="pil",
                        format="png",
                        interactive=False,
                        elem_id="picture",
                    )
                code_examples = gr.Examples(
                    [[q] for q in mkg.EXAMPLES],
                    [query],
                    label="Examples: click one to search and draw it",
                    elem_id="code-examples",
                    **examples,
                )
            with gr.Tab("Priors", id="priors"):
                with gr.Row():
                    prior_codes = gr.Textbox(
                        first_sample[0], label="Codes (empty: all; e.g. J06, K29, I10-I15)", elem_id="prior-codes"
                    )
                    n = gr.Slider(1, MAX_PRIORS, value=first_sample[1], step=1, label="Priors")
                    prior_seed = gr.Number(first_sample[2], precision=0, label="Seed")
                with gr.Row():
                    prior_temperature = gr.Slider(
                        *PRIOR_TEMPERATURE,
                        value=first_sample[3],
                        label="Symptom temperature (softmax of the symptoms' scores: low = heaviest; MedSyn used 10)",
                    )
                    template = gr.Dropdown([prior_tab.MIX, *TEMPLATE_NAMES], value=first_sample[4], label="Template")
                    row = gr.Number(first_sample[5], precision=0, label="Row to show")
                sample_btn = gr.Button("Sample", variant="primary", elem_id="sample-btn")
                priors = gr.Dataframe(first_priors, label="Priors", interactive=False, wrap=True, elem_id="priors")
                with gr.Row():
                    prompt = gr.Textbox(first_prompt, label="Rendered prompt", lines=12, elem_id="prompt")
                    prior_json = gr.Code(first_prior, language="json", label="Prior", elem_id="prior-json")
                use_btn = gr.Button("Use this prior in Generate")
                sample_inputs = [prior_codes, n, prior_seed, prior_temperature, template, row]
                prior_examples = gr.Examples(
                    [list(example) for example in prior_tab.EXAMPLES],
                    sample_inputs,
                    label="Examples: codes, priors, seed, symptom temperature, template, row",
                    elem_id="prior-examples",
                    **examples,
                )
            with gr.Tab("Generate", id="generate"):
                with gr.Row():
                    gen_prior = gr.Code(
                        first_prior,
                        language="json",
                        label="Prior (edit freely)",
                        interactive=True,
                        elem_id="gen-prior",
                    )
                    with gr.Column():
                        model = gr.Dropdown(
                            model_choices(config),
                            value=DEFAULT_MODEL,
                            allow_custom_value=True,
                            label="Model (default: the bundled or the demo's trained model, else "
                            "the packaged writer; or a folder under the data folders)",
                        )
                        temperature = gr.Slider(*TEMPERATURE, value=0.7, step=0.05, label="Temperature (0: greedy)")
                        max_new_tokens = gr.Slider(16, MAX_NEW_TOKENS, value=160, step=8, label="Max new tokens")
                        gen_seed = gr.Number(
                            0,
                            precision=0,
                            label="Seed (the Priors tab's: the note `medsyn generate` writes for this prior)",
                        )
                        gen_btn = gr.Button("Generate", variant="primary", elem_id="generate-btn")
                gr.Examples(
                    [[prior] for prior in prior_tab.example_priors()],
                    [gen_prior],
                    label="Example priors (the Priors tab's examples): pick one, then Generate",
                    elem_id="generate-examples",
                    **examples,
                )
                note = gr.Textbox(label="Note", lines=8, elem_id="note")
                with gr.Row():
                    marked = gr.HighlightedText(
                        label="Prompted symptoms found in the note", show_legend=True, elem_id="marked", scale=2
                    )
                    checks = gr.JSON(label="Filters: symptom recall, copy ratio", elem_id="checks", scale=1)
            with gr.Tab("Datasets", id="datasets"):
                with gr.Row():
                    folder = gr.Dropdown(
                        [*datasets, *config.hub_datasets],
                        value=datasets[0] if datasets else None,
                        allow_custom_value=True,
                        label="Published dataset: a folder under the data folders, or a Hub dataset id (on a Space)",
                        elem_id="dataset",
                        scale=3,
                    )
                    refresh_btn = gr.Button("Refresh", scale=1)
                with gr.Row():
                    config_name = gr.Dropdown([], label="Config", allow_custom_value=True)
                    code_filter = gr.Textbox(label="ICD-10 code (with its subcodes; empty: all)")
                    limit = gr.Slider(10, MAX_ROWS, value=100, step=10, label="Rows")
                browse_btn = gr.Button("Show rows", variant="primary")
                shown_datasets = [*datasets[:2], *config.hub_datasets]
                if shown_datasets:
                    gr.Examples(
                        [[name, code] for name in shown_datasets for code in ("", "J06")],
                        [folder, code_filter],
                        label="Examples: a dataset, all rows or one code's",
                        elem_id="dataset-examples",
                        **examples,
                    )
                summary = gr.Markdown()
                rows = gr.Dataframe(interactive=False, wrap=True, max_chars=400)
            if config.assess:
                from medsyn_hf.assess.ui import add_assess_tab

                add_assess_tab(config.assess, readable, config.assess_repo_id)

        # A clicked example fills its inputs (gr.Examples), then runs at once (run_on_click would add an endpoint).
        code_examples.load_input_event.then(
            readable(mkg.explore),
            [query],
            [hits, code, hierarchy, symptoms, picture],
            api_name="code_example",
            api_visibility="private",
        )
        prior_examples.load_input_event.then(
            readable(prior_tab.sample),
            sample_inputs,
            [priors, prompt, prior_json],
            api_name="prior_example",
            api_visibility="private",
        )
        shown = [hierarchy, symptoms, picture]
        demo.load(readable(mkg.show_code), [code], shown, api_visibility="private")
        gr.on([search_btn.click, query.submit], readable(mkg.search), [query], [hits, code], api_name="search").then(
            readable(mkg.show_code), [code], shown, api_visibility="private"
        )
        gr.on([show_btn.click, code.submit], readable(mkg.show_code), [code], shown, api_name="code")
        hits.select(pick_code, [hits], [code], api_visibility="private").then(
            readable(mkg.show_code), [code], shown, api_visibility="private"
        )

        sample_btn.click(readable(prior_tab.sample), sample_inputs, [priors, prompt, prior_json], api_name="sample")
        priors.select(pick_row, None, [row], api_visibility="private").then(
            readable(prior_tab.sample), sample_inputs, [priors, prompt, prior_json], api_visibility="private"
        )
        use_btn.click(
            lambda p: (p, gr.Tabs(selected="generate")), [prior_json], [gen_prior, tabs], api_visibility="private"
        )

        gen_btn.click(
            bind(generate),
            [gen_prior, model, temperature, max_new_tokens, gen_seed],
            [note, marked, checks],
            api_name="generate",
            concurrency_limit=1,
        )

        refresh_btn.click(bind(folders), None, [folder], api_name="folders")
        folder.change(bind(configs), [folder], [config_name], api_name="configs")
        browse_btn.click(bind(browse), [folder, config_name, code_filter, limit], [rows, summary], api_name="browse")
        if datasets:  # the first local dataset's configs and rows, ready when the tab is opened
            demo.load(bind(configs), [folder], [config_name], api_visibility="private").then(
                bind(browse), [folder, config_name, code_filter, limit], [rows, summary], api_visibility="private"
            )
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    env_dirs = os.environ.get("MEDSYN_DATA_DIRS")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=None, help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    p.add_argument(
        "--model",
        default=os.environ.get("MEDSYN_MODEL"),
        help="default model folder (env MEDSYN_MODEL; default: model/ next to app.py when deploy.py "
        f"bundled one, else {DEMO_MODEL} when trained, else the packaged writer "
        "(medsyn_hf/resources/medsyn-tiny), else a tiny random-init model built into the cache)",
    )
    p.add_argument(
        "--data-dirs",
        nargs="*",
        default=env_dirs.split(os.pathsep) if env_dirs else ["runs"],
        help="the only folders the app reads datasets and models from (env MEDSYN_DATA_DIRS, "
        "os.pathsep-separated; default: runs)",
    )
    p.add_argument(
        "--cache",
        default=os.environ.get("MEDSYN_CACHE"),
        help="where the random-init tiny model is built when no writer is packaged (env MEDSYN_CACHE; "
        "default: ~/.cache/medsyn_hf)",
    )
    p.add_argument(
        "--assess",
        metavar="DIR",
        help="add the Assess tab for this `medsyn assess prepare` folder (answers are appended to DIR/answers/)",
    )
    p.add_argument("--assess-repo-id", help="sync DIR/answers to this private Hub dataset (CommitScheduler)")
    p.add_argument("--concurrency", type=int, default=2, help="requests run at once per event (generation: 1)")
    p.add_argument("--queue-size", type=int, default=32, help="requests waiting before new ones are turned away")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.info("medsyn_hf from %s", Path(medsyn_hf.__file__).resolve().parent)
    try:
        config = Config.make(
            args.data_dirs,
            args.model,
            args.cache,
            args.assess,
            args.assess_repo_id,
            hub_datasets=card_datasets(Path(__file__).resolve().parent / "README.md"),
        )
        demo = build_demo(config)
    except MedsynError as err:
        print(f"medsyn-demo: error: {err}", file=sys.stderr)
        return 2
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    demo.launch(server_name=args.host, server_port=args.port, ssr_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
