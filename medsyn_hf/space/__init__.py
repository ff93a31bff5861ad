"""The demo Space's logic, apart from its layout (``spaces/medsyn-demo/app.py`` keeps only the Gradio wiring).

Each tab's handlers reuse the library rather than re-implement it: priors come from ``medsyn_hf.priors``' own
sampler with `medsyn generate`'s seed scheme, notes from the generation backend (the same seed gives the note
`medsyn generate` writes), their checks from ``medsyn_hf.filters``, datasets' configs from ``datasets`` itself.
Handlers raise :class:`medsyn_hf.errors.MedsynError` on bad input; the app shows it as one line.

- ``config``: what the app may read (:class:`Config`) and its path jail (public names of the data folders);
- ``inputs``: checks of typed values and of a prior edited by hand;
- ``codes``: the ICD-10 tab (search, hierarchy, neighbourhood picture);
- ``priors``: the Priors tab;
- ``models``: model choices, the default model and loading;
- ``generate``: streaming a note and checking it;
- ``browse``: the Datasets tab;
- ``ui``: the Gradio glue (errors as one line, dropdown updates, table clicks).
"""
