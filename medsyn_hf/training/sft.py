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
import sys
from pathlib import Path

import datasets
import torch
import transformers
from transformers import AutoTokenizer, set_seed
from transformers.trainer_utils import get_last_checkpoint
from trl import SFTTrainer, TrlParser, get_peft_config, get_quantization_config

from medsyn_hf import recipe_args
from medsyn_hf.errors import MedsynError, first_line
from medsyn_hf.hub import create_repo, push_folder
from medsyn_hf.io import atomic_path, check_output, claim_output
from medsyn_hf.training.attention import configure_attention
from medsyn_hf.training.configs import ModelConfig, ScriptArguments, SFTConfig
from medsyn_hf.training.data import get_dataset
from medsyn_hf.training.model_card import write_model_card

logger = logging.getLogger(__name__)
COMMAND = "medsyn sft"


# Options of TRL's and transformers' dataclasses that do not apply to `medsyn sft`: TRL's debug flag, deprecated
# aliases, streaming of `dataset_name` (a mixture streams with `streaming`), the removed `dataset_mixture`. Hidden from
# --help (recipe_args.hide_options).
HIDDEN = (
    "ignore_bias_buffers",
    "dataset_streaming",
    "dataset_mixture",
    "gradient_checkpointing_kwargs",
    "use_liger_kernel",
    "pad_token",
    "debug",
    "local_rank",
)


def make_parser() -> TrlParser:
    parser = TrlParser((ScriptArguments, SFTConfig, ModelConfig), prog="medsyn sft")
    recipe_args.hide_options(parser, HIDDEN)
    return parser


def parse_args(argv: list[str], parser: TrlParser | None = None):
    """SFT's arguments from a YAML config and flags (``medsyn_hf.recipe_args.parse_args`` with SFT's parser unless
    given)."""
    return recipe_args.parse_args(argv, parser or make_parser())


# Tokens some families reserve for padding, already in their vocabulary (Llama-3.1+: <|finetune_right_pad_id|>)
RESERVED_PADS = ("<|finetune_right_pad_id|>", "<|pad|>", "<pad>", "[PAD]", "<|padding|>")
CONFIG_PAD, OWN_PAD, RESERVED_PAD, EOS_PAD = (
    "the config's pad_token",
    "the tokenizer's own pad token",
    "a token the vocabulary already has (the tokenizer has no pad token distinct from eos)",
    "eos (no pad token distinct from it, no reserved one): padding positions are masked from the loss, and eos stays "
    "a label",
)


def choose_pad_token(tokenizer, pad_token: str | None = None, eos_token: str | None = None) -> tuple[str, str]:
    """(pad token, why) by TRL's rule, made explicit so that `medsyn sft` trains whatever `trl sft` trains: the
    config's `pad_token`, else the tokenizer's pad if distinct from eos, else a reserved token the vocabulary already
    has (RESERVED_PADS, then unk: LLaMA-2's convention), else eos. Padding never costs eos its label: the collator
    masks padding positions (-100) by position, not by token id; a distinct pad only keeps the two apart in logs
    and in the generation config."""
    vocab = tokenizer.get_vocab()
    eos = eos_token or tokenizer.eos_token
    if pad_token is not None:
        if pad_token not in vocab:
            raise MedsynError(f"pad_token: {pad_token!r} is not in the tokenizer's vocabulary; name one of its tokens")
        return pad_token, CONFIG_PAD
    if tokenizer.pad_token is not None and tokenizer.pad_token != eos:
        return tokenizer.pad_token, OWN_PAD
    for token in (*RESERVED_PADS, tokenizer.unk_token):
        if token is not None and token != eos and token in vocab:
            return token, RESERVED_PAD
    return eos, EOS_PAD


def get_tokenizer(model_args: ModelConfig, training_args: SFTConfig):
    """The base model's tokenizer with its pad token chosen by `choose_pad_token` (and logged)."""
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
    eos = training_args.eos_token
    if eos is not None and eos not in tokenizer.get_vocab():  # TRL would raise a ValueError deep in the trainer
        raise MedsynError(f"eos_token: {eos!r} is not in the tokenizer's vocabulary; name one of its tokens")
    if (eos or tokenizer.eos_token) is None:
        raise MedsynError(f"{model_args.model_name_or_path}: the tokenizer has no eos token; set eos_token")
    pad, why = choose_pad_token(tokenizer, training_args.pad_token, eos)
    tokenizer.pad_token = pad
    # a substitute is worth seeing at the default log level; the config's or the tokenizer's own is not news
    level = logging.INFO if why in (CONFIG_PAD, OWN_PAD) else logging.WARNING
    logger.log(level, f"pad token {pad!r} (id {tokenizer.pad_token_id}): {why}")
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


def check_lora_targets(model_args: ModelConfig, training_args: SFTConfig, model=None) -> None:
    """Every named LoRA target is a module of the model: PEFT only needs one of them to match, so a misspelled or
    foreign name (`dense` on a LLaMA) would train silently without it. Checked on the model built on the meta device
    (no weights: a second for 8B), before any data or weights load."""
    targets = model_args.lora_target_modules if model_args.use_peft else None
    if not targets or isinstance(targets, str):  # unset (PEFT's defaults) or a pattern such as "all-linear"
        return
    if model is None:
        from transformers import AutoConfig, AutoModelForCausalLM

        try:
            config = AutoConfig.from_pretrained(
                model_args.model_name_or_path,
                revision=model_args.model_revision,
                trust_remote_code=training_args.trust_remote_code,
            )
            with torch.device("meta"):
                model = AutoModelForCausalLM.from_config(config, trust_remote_code=training_args.trust_remote_code)
        except (OSError, ValueError) as err:
            raise MedsynError(
                f"model_name_or_path: cannot load {model_args.model_name_or_path!r} ({first_line(err)})"
            ) from None
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = sorted(set(targets) - names)
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise MedsynError(
            f"lora_target_modules: {missing} not in {model_args.model_name_or_path}; its linear layers: "
            f"{', '.join(linear)}"
        )


def build_trainer(script_args: ScriptArguments, training_args: SFTConfig, model_args: ModelConfig, model=None):
    """The SFTTrainer for these arguments, and the rows each dataset config contributed; `main` trains it.

    `model` (an instantiated model, e.g. random weights for a benchmark) replaces loading `model_name_or_path`,
    which then only names the tokenizer.
    """
    tokenizer = get_tokenizer(model_args, training_args)  # model and tokenizer mistakes first: they load quickly
    check_lora_targets(model_args, training_args, model)
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


def main(
    script_args: ScriptArguments, training_args: SFTConfig, model_args: ModelConfig, argv: list[str] | None = None
) -> dict:
    """Train; ``argv``, the arguments the three came from (default: the process's), is the card's Reproduce
    command."""
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
    # The Trainer's own create_repo would fail with a traceback: fail here, as one line, before any training.
    if training_args.push_to_hub and training_args.process_index == 0:
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
        write_model_card(
            training_args.output_dir,
            script_args,
            training_args,
            model_args,
            sources,
            metrics,
            sys.argv[1:] if argv is None else argv,
            tokenizer=trainer.processing_class,
        )
        if training_args.save_merged_model and model_args.use_peft:
            logger.info(f"Merged model saved to {save_merged_model(training_args.output_dir, model_args)}")
        if training_args.push_to_hub:
            logger.info(f"Pushed to the Hub: {push_model(training_args.output_dir, training_args)}")
    trainer.accelerator.wait_for_everyone()
    logger.info(f"Model saved to {training_args.output_dir}")
    trainer.end()  # finish the trackers and destroy the process group
    return metrics
