"""The Space's Gradio glue: errors as one readable line, dropdown updates and table clicks (gradio imported here
only, so the rest of ``medsyn_hf.space`` runs without it)."""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

from medsyn_hf.errors import MedsynError
from medsyn_hf.space.browse import dataset_configs, dataset_folders
from medsyn_hf.space.config import Config

log = logging.getLogger("medsyn.space")


def readable(fn):
    """Bad input (MedsynError) shows its own line; anything else a generic one, the traceback goes to the server
    log."""

    def explain(err: Exception) -> gr.Error:
        if isinstance(err, gr.Error):
            return err
        if isinstance(err, MedsynError):
            return gr.Error(str(err), print_exception=False)
        log.exception("handler failed")
        return gr.Error(
            f"internal error ({type(err).__name__}); the server log has the details", print_exception=False
        )

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:
                raise explain(err) from None

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise explain(err) from None

    return call


def folders(config: Config):
    choices = [*dataset_folders(config), *config.hub_datasets]
    return gr.Dropdown(choices=choices, value=choices[0] if choices else None)


def configs(config: Config, folder: str):
    names = dataset_configs(config, folder)
    return gr.Dropdown(choices=names, value=names[0] if names else None)


def pick_code(table, evt: gr.SelectData) -> str:
    return table.iloc[evt.index[0]]["code"]


def pick_row(evt: gr.SelectData) -> int:
    return evt.index[0]
