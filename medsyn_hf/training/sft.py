"""Supervised fine-tuning on the instruction dataset: TRL's `trl/scripts/sft.py` (same config keys, same data) plus
checked arguments, a seeded eval split, automatic resume, an optional merged model and our model card. `recipes/sft.py`
and `medsyn sft` both run `main`; `trl sft --config` runs TRL's own script on the same recipe.

    medsyn tiny-model --out outputs/tiny-model && medsyn ift build --out outputs/ift
    medsyn sft --config recipes/tiny/sft/config.yaml
    accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/sft.py \\
        --config recipes/llama-2-7b/sft/config_lora.yaml
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path

import datasets
import transformers
from transformers import AutoTokenizer, set_seed
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTTrainer, TrlParser, get_peft_config, get_quantization_config

from medsyn_hf import recipe_args
from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.io import atomic_path, check_output, claim_output
from medsyn_hf.training.attention import configure_attention
from medsyn_hf.training.configs import ModelConfig, ScriptArguments, SFTConfig
from medsyn_hf.training.data import get_dataset
from medsyn_hf.training.model_card import write_model_card

logger = logging.getLogger(__name__)
COMMAND = "medsyn sft"


def make_parser() -> TrlParser:
    return TrlParser((ScriptArguments, SFTConfig, ModelConfig), prog="medsyn sft")


def parse_args(argv: list[str], parser: TrlParser | None = None):
    """SFT's arguments from a YAML config and flags (``medsyn_hf.recipe_args.parse_args`` with SFT's parser unless
    given)."""
    return recipe_args.parse_args(argv, parser or make_parser())


def get_tokenizer(model_args: ModelConfig, training_args: SFTConfig):
    """The base model's tokenizer, with a pad token distinct from eos so eos stays a target the model learns."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=training_args.trust_remote_code,
        )
    except (OSError, ValueError) as err:
        raise MedsynError(
            f"model_name_or_path: cannot load {model_args.model_name_or_path!r} ({first_line(err)})"
        ) from None
    eos = training_args.eos_token or tokenizer.eos_token
    if tokenizer.pad_token is None or tokenizer.pad_token == eos:
        if tokenizer.unk_token is None or tokenizer.unk_token == eos:
            raise MedsynError(
                f"{model_args.model_name_or_path}: no pad token distinct from eos {eos!r}; "
                "pick a model whose tokenizer has one, or add one to its tokenizer"
            )
        tokenizer.pad_token = tokenizer.unk_token  # LLaMA-2's convention
    return tokenizer


def save_merged_model(output_dir: str, model_args: ModelConfig) -> Path:
    """Base + adapter merged into one model, reloaded from the saved adapter so it works after FSDP/ZeRO-3 too."""
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(output_dir, dtype=model_args.dtype or "auto").merge_and_unload()
    merged = Path(output_dir) / "merged"
    with atomic_path(merged) as tmp:
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(output_dir).save_pretrained(tmp)
    return merged


def hub_repo(output_dir: str, training_args: SFTConfig) -> str:
    """The model repo to push to, as the Trainer names it: ``hub_model_id``, else the output folder's name."""
    return training_args.hub_model_id or Path(output_dir).resolve().name


def push_model(output_dir: str, training_args: SFTConfig) -> str:
    """Upload the adapter, tokenizer and our card (Trainer.push_to_hub would replace the card with TRL's); a failure
    (offline, no or read-only token) is one ``MedsynError`` line. Returns the commit URL."""
    from medsyn_hf.hub import push_folder

    return push_folder(
        output_dir,
        hub_repo(output_dir, training_args),
        training_args.hub_token,
        repo_type="model",
        private=training_args.hub_private_repo,
        revision=training_args.hub_revision,
        commit_message="medsyn sft",
        ignore_patterns=["checkpoint-*", "merged/*", "runs/*"],
    )


def output_inputs(script_args: ScriptArguments, model_args: ModelConfig) -> list[str]:
    """The local inputs (model, datasets) the output folder may not be, contain or lie in."""
    names = [model_args.model_name_or_path, script_args.dataset_name, *(d.path for d in script_args.datasets)]
    return [name for name in names if name and os.path.exists(name)]


def is_sft_output(folder: Path) -> bool:
    """A Trainer's output folder from before output markers existed (its training arguments are saved)."""
    return (folder / "training_args.bin").is_file() or any(folder.glob("checkpoint-*/training_args.bin"))


def build_trainer(script_args: ScriptArguments, training_args: SFTConfig, model_args: ModelConfig, model=None):
    """The SFTTrainer for these arguments, and the rows each dataset config contributed; `main` trains it.

    `model` (an instantiated model, e.g. random weights for a benchmark) replaces loading `model_name_or_path`,
    which then only names the tokenizer.
    """
    dataset, sources = get_dataset(script_args, training_args.seed)
    needed = [script_args.dataset_train_split]
    if training_args.eval_strategy != "no":
        needed.append(script_args.dataset_test_split)
    missing = [split for split in needed if split not in dataset]
    if missing:
        raise MedsynError(
            f"dataset has no split {missing} (has {sorted(dataset)}); for eval list `datasets` and set test_split_size"
        )
    empty = [split for split in needed if isinstance(dataset[split], datasets.Dataset) and not len(dataset[split])]
    if empty:
        raise MedsynError(f"dataset split(s) {empty} have no rows; check dataset_name, dataset_config and the mixture")
    for split in needed:  # a dataset of another shape fails deep inside TRL's preparation (KeyError: 'text')
        columns = set(getattr(dataset[split], "column_names", None) or ())
        text = training_args.dataset_text_field
        if columns and not (text in columns or "messages" in columns or {"prompt", "completion"} <= columns):
            raise MedsynError(
                f"{script_args.dataset_name or 'datasets'}: split {split!r} has none of the columns SFT trains on: "
                f"{text!r} (dataset_text_field), 'messages', or 'prompt' and 'completion' (columns: "
                f"{', '.join(sorted(columns))})"
            )
    configure_attention(training_args, model_args)
    tokenizer = get_tokenizer(model_args, training_args)
    model_init_kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    if model is None:
        training_args.model_init_kwargs = {**model_init_kwargs, **(training_args.model_init_kwargs or {})}
    trainer = SFTTrainer(
        model=model_args.model_name_or_path if model is None else model,
        args=training_args,
        train_dataset=dataset[script_args.dataset_train_split],
        eval_dataset=dataset[script_args.dataset_test_split] if training_args.eval_strategy != "no" else None,
        processing_class=tokenizer,
        quantization_config=get_quantization_config(model_args),
        peft_config=get_peft_config(model_args),
    )
    # TRL truncates to max_length and then drops rows whose completion was cut away entirely: with a short
    # max_length nothing may be left, and the Trainer would fail later with an IndexError deep in its sampler.
    if isinstance(trainer.train_dataset, datasets.Dataset) and not len(trainer.train_dataset):
        raise MedsynError(
            f"no training rows left: with max_length={training_args.max_length} every row's completion "
            "is truncated away; raise max_length"
        )
    return trainer, sources


def main(script_args: ScriptArguments, training_args: SFTConfig, model_args: ModelConfig) -> dict:
    set_seed(training_args.seed)

    ###############
    # Setup logging
    ###############
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logging.getLogger("medsyn_hf").setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    logger.info(f"Model parameters {model_args}")
    logger.info(f"Script parameters {script_args}")
    logger.info(f"Training parameters {training_args}")

    # The output folder: never an input, nor a folder another command wrote (unless overwrite_output_dir)
    output = dict(
        command=COMMAND,
        inputs=output_inputs(script_args, model_args),
        overwrite=training_args.overwrite_output_dir,
        owned=is_sft_output,
    )
    check_output(training_args.output_dir, **output)
    if training_args.push_to_hub and training_args.process_index == 0:  # the Trainer's own create_repo would fail
        from medsyn_hf.hub import create_repo  # with a traceback: fail here, as one line, before any training

        create_repo(
            hub_repo(training_args.output_dir, training_args),
            training_args.hub_token,
            repo_type="model",
            private=training_args.hub_private_repo,
        )

    # Check for last checkpoint: a rerun of an interrupted run continues where it stopped
    last_checkpoint = (
        get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
    )
    if last_checkpoint is not None and training_args.resume_from_checkpoint is None:
        logger.info(f"Checkpoint detected, resuming training at {last_checkpoint=}.")

    ##########################################
    # Load dataset, tokenizer, model, trainer
    ##########################################
    existed = os.path.exists(training_args.output_dir)
    try:
        trainer, sources = build_trainer(script_args, training_args, model_args)
    except MedsynError:  # the Trainer makes output_dir as it starts: a refused run leaves no empty folder behind
        if not existed and os.path.isdir(training_args.output_dir) and not os.listdir(training_args.output_dir):
            os.rmdir(training_args.output_dir)
        raise
    if trainer.accelerator.is_main_process:  # every input loaded: now the folder may be written
        claim_output(training_args.output_dir, **output)
    trainer.accelerator.wait_for_everyone()

    ###############
    # Training loop
    ###############
    logger.info("*** Train ***")
    train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint or last_checkpoint)
    metrics = train_result.metrics
    metrics["train_samples"] = len(trainer.train_dataset)
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()

    if training_args.do_eval and training_args.eval_strategy != "no":
        logger.info("*** Evaluate ***")
        eval_metrics = trainer.evaluate()
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)

    ##################################
    # Save model and create model card
    ##################################
    logger.info("*** Save model ***")
    trainer.model.config.use_cache = True  # restore the k,v cache for fast generation
    trainer.save_model(training_args.output_dir)
    if trainer.accelerator.is_main_process:
        command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
        write_model_card(training_args.output_dir, script_args, training_args, model_args, sources, metrics, command)
        if training_args.save_merged_model and model_args.use_peft:
            logger.info(f"Merged model saved to {save_merged_model(training_args.output_dir, model_args)}")
        if training_args.push_to_hub:
            logger.info(f"Pushed to the Hub: {push_model(training_args.output_dir, training_args)}")
    trainer.accelerator.wait_for_everyone()
    logger.info(f"Model saved to {training_args.output_dir}")
    trainer.end()  # finish the trackers and destroy the process group
    return metrics
