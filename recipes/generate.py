"""Generation script (alignment-handbook / open-r1 style): priors -> prompts -> notes -> filters, in a resumable run
folder. The implementation is `medsyn_hf.generation.run.main`, which `medsyn generate` runs too.

# Tiny SFT model on CPU (demo): a few hundred notes in about two minutes
python recipes/generate.py --config recipes/tiny/generate/config.yaml

# LLaMA-2-7B + the SFT LoRA adapter on 1..8 GPUs: each process writes its own shards
accelerate launch --config_file recipes/accelerate_configs/multi_gpu.yaml recipes/generate.py \
    --config recipes/llama-2-7b/generate/config.yaml

# Any OpenAI-compatible server (vLLM, TGI, `transformers serve`)
python recipes/generate.py --config recipes/llama-2-7b/generate/config.yaml --backend openai \
    --base_url http://localhost:8000/v1 --served_model_name medsyn-llama-2-7b

Any argument of GenerateScriptArguments, GenerationArguments or GenerationModelConfig can follow the config to
override it, e.g. `--num_priors 1000`. Re-running the same command resumes; then `medsyn publish OUTPUT_DIR/latest
--out REPO_DIR` writes the dataset.
"""

import sys

from medsyn_hf.generation.cli import make_parser  # noqa: F401  (the recipe API)
from medsyn_hf.generation.run import main  # noqa: F401

if __name__ == "__main__":
    from medsyn_hf.cli import main as medsyn

    sys.exit(medsyn(["generate", *sys.argv[1:]]))
