"""Supervised fine-tuning script (alignment-handbook / open-r1 style). The implementation is
`medsyn_hf.training.sft.main`, which `medsyn sft` runs too.

# Tiny model on CPU (tests, demo)
medsyn tiny-model --out outputs/tiny-model && medsyn ift build --out outputs/ift
python recipes/sft.py --config recipes/tiny/sft/config.yaml

# LLaMA-2-7B + LoRA, the MedSyn paper's setup, on 1..8 GPUs
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/sft.py \
    --config recipes/llama-2-7b/sft/config_lora.yaml

# TRL's own CLI on the same recipe (its script: no seeded eval split, no merged model, TRL's card)
trl sft --config recipes/tiny/sft/config.yaml --model_name_or_path outputs/tiny-model --dataset_name outputs/ift

Any argument of ScriptArguments, SFTConfig or ModelConfig can follow the config to override it, e.g. `--max_steps 10`.
Needs the package installed (`pip install -e ".[train]"`); run from the repository root (the configs' paths are
relative to it). A bad config exits 2 with one line `medsyn: error: ...`.
"""

import sys

from medsyn_hf.training.sft import main, make_parser  # noqa: F401  (the recipe API: main(script, training, model))

if __name__ == "__main__":
    from medsyn_hf.cli import main as medsyn

    sys.exit(medsyn(["sft", *sys.argv[1:]]))
