"""GPU memory and training time of an SFT recipe, computed from the model's shape and the recipe's settings.

Memory on one GPU = the frozen weights + the LoRA states + the activations autograd saves for one micro-batch (+ the
final hidden states TRL's tiled loss keeps). What each decoder layer saves per token was read off autograd itself
(`torch.autograd.graph.saved_tensors_hooks`, tests/test_gpu_estimate.py checks it again for each architecture):

* each RMSNorm keeps its float32 input (4h bytes) and its 1/rms (4); Qwen3's per-head q/k norms likewise (4 q_dim +
  4 kv_dim, 4 per head);
* attention (flash / varlen / sdpa's memory-efficient kernels) keeps q, k, v and its output in bf16 and a float32
  log-sum-exp per head: 2 q_dim + 4 kv_dim + 2 q_dim + 4 heads (k and v are not repeated for grouped queries);
* the frozen SwiGLU MLP keeps gate, silu(gate) and up: 6f (a frozen linear layer keeps nothing: its backward only
  needs its weight);
* each LoRA module on an input of width d keeps its dropout mask (1 byte per element on CUDA, where dropout saves a
  bool mask; 4 on CPU, where it saves a float32 noise tensor), the bf16 input of lora_A (2d) and lora_A's output (2r).

The frozen weights are bf16 (2 bytes per parameter), or NF4 with QLoRA (the decoder's linear layers at 4.127 bits:
4-bit codes plus double-quantised block scales; embeddings, norms and the LM head stay bf16). PEFT keeps LoRA
weights in float32 (``autocast_adapter_dtype``), so each LoRA parameter costs 16 bytes: weight, gradient and Adam's
two moments. Not counted: the CUDA context and allocator slack (~1-3 GB), the loss tiles of TRL's chunked LM head
(``trl.kernels.chunked_logprob``: the full logits are never materialised), transient buffers of one layer's backward.

Time: the instruction set's tokens (its characters over CHARS_PER_TOKEN, plus TEMPLATE_TOKENS per example) divided
by a throughput of MFU x peak bf16 FLOP/s over 4N FLOPs per token (LoRA: forward 2N, backward 2N for the input
gradients, none for the frozen weights; attention not counted), N = the model's parameters. MFU is the one measured
for LLaMA-2-7B + LoRA on an H100 (10.8k tokens/s on dense 4 x 2048 rows, the figure benchmarks/README.md quotes for
scale; its own H100 row is not yet run: replace MEASURED when it is), assumed to hold for the other shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GB = 1e9
BF16 = 2
LORA_BYTES_PER_PARAM = 16  # float32 weight, gradient, Adam exp_avg and exp_avg_sq
NF4_BYTES_PER_PARAM = 4.127 / 8  # QLoRA's NF4 codes + double-quantised absmax (Dettmers et al., 2023)

# The instruction set (`medsyn ift build --out outputs/ift --decontaminate data/sources/rumedtop3/dev_v1.jsonl`):
# examples, and characters of all message contents (prompt and completion), counted on the full build.
IFT_EXAMPLES = 41_445
IFT_CHARACTERS = 80_256_315
CHARS_PER_TOKEN = 2.5  # LLaMA-2's tokenizer on Russian (a 256-token prompt is ~640 characters): an upper bound for
# the 128k/152k vocabularies of Llama-3.1 and Qwen, which cut Russian into fewer tokens
TEMPLATE_TOKENS = 30  # the chat template's own tokens per example (role headers, system preamble)

PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4}  # dense bf16, SXM; the H200 is the H100's chip with more memory
# LLaMA-2-7B + LoRA r16 on q,k,v,o, one H100, dense 4 x 2048-token rows (benchmarks/README.md): 10.8k tokens/s
MEASURED = {"model": "meta-llama/Llama-2-7b-hf", "gpu": "H100", "tokens_per_s": 10_800}


@dataclass(frozen=True)
class ModelShape:
    """A recipe's model as its Hub config.json describes it (the fields that size it), and its published size."""

    architecture: str
    model_type: str
    config: dict = field(default_factory=dict)
    published_params: float = 0.0  # the model card's figure, a check on `config`

    def get(self, key: str):
        if key == "head_dim":
            return self.config.get("head_dim") or self.config["hidden_size"] // self.config["num_attention_heads"]
        return self.config[key]


_LLAMA = dict(hidden_act="silu", rms_norm_eps=1e-5, tie_word_embeddings=False)
_QWEN = dict(hidden_act="silu", rms_norm_eps=1e-6, tie_word_embeddings=False, rope_theta=1_000_000.0)
# Every model a recipe under recipes/*/sft names (tests/test_recipes.py fails for one that is missing here).
MODELS = {
    "meta-llama/Llama-2-7b-hf": ModelShape(
        "LlamaForCausalLM",
        "llama",
        dict(
            _LLAMA,
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            vocab_size=32000,
            max_position_embeddings=4096,
        ),
        6.74e9,
    ),
    "meta-llama/Llama-3.1-8B-Instruct": ModelShape(
        "LlamaForCausalLM",
        "llama",
        dict(
            _LLAMA,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=128256,
            max_position_embeddings=131072,
            rope_theta=500_000.0,
        ),
        8.03e9,
    ),
    "Qwen/Qwen2.5-7B-Instruct": ModelShape(
        "Qwen2ForCausalLM",
        "qwen2",
        dict(
            _QWEN,
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            vocab_size=152064,
            max_position_embeddings=32768,
        ),
        7.62e9,
    ),
    "Qwen/Qwen3-8B": ModelShape(
        "Qwen3ForCausalLM",
        "qwen3",
        dict(
            _QWEN,
            hidden_size=4096,
            intermediate_size=12288,
            num_hidden_layers=36,
            num_attention_heads=32,
            num_key_value_heads=8,
            head_dim=128,
            vocab_size=151936,
            max_position_embeddings=40960,
        ),
        8.19e9,
    ),
}


def _dims(shape: ModelShape) -> tuple[int, int, int, int, int, int, int]:
    """(hidden, q width, kv width, intermediate, heads, kv heads, head dim)."""
    h, d = shape.get("hidden_size"), shape.get("head_dim")
    heads, kv_heads = shape.get("num_attention_heads"), shape.get("num_key_value_heads")
    return h, heads * d, kv_heads * d, shape.get("intermediate_size"), heads, kv_heads, d


def module_widths(shape: ModelShape) -> dict[str, tuple[int, int]]:
    """(input, output) width of each linear layer of a decoder layer, by the names LoRA targets."""
    h, q, kv, f, *_ = _dims(shape)
    return {
        "q_proj": (h, q),
        "k_proj": (h, kv),
        "v_proj": (h, kv),
        "o_proj": (q, h),
        "gate_proj": (h, f),
        "up_proj": (h, f),
        "down_proj": (f, h),
    }


def parameter_count(shape: ModelShape) -> int:
    """Every parameter of the model, from its shape (equals `sum(p.numel())` of the built model: tested)."""
    h, q, kv, f, heads, kv_heads, d = _dims(shape)
    layer = sum(i * o for i, o in module_widths(shape).values()) + 2 * h  # linears + two RMSNorms
    if shape.model_type == "qwen2":
        layer += q + 2 * kv  # q, k, v biases
    if shape.model_type == "qwen3":
        layer += 2 * d  # per-head q and k RMSNorms
    embeddings = shape.get("vocab_size") * h
    head = 0 if shape.config.get("tie_word_embeddings") else embeddings
    return embeddings + shape.get("num_hidden_layers") * layer + h + head


def lora_parameter_count(shape: ModelShape, r: int, targets) -> int:
    widths = module_widths(shape)
    unknown = sorted(set(targets) - set(widths))
    if unknown:
        raise ValueError(f"lora_target_modules {unknown} are not linear layers of {shape.architecture}")
    return shape.get("num_hidden_layers") * sum(r * sum(widths[t]) for t in targets)


def layer_activation_bytes(shape: ModelShape, r: int, targets, lora_dropout: float, mask_bytes: int = 1) -> int:
    """Bytes one decoder layer saves for backward, per token, in bf16 autocast with LoRA on `targets` (the module
    docstring says what each term is; `mask_bytes`: 1 on CUDA, 4 on CPU)."""
    h, q, kv, f, heads, kv_heads, _ = _dims(shape)
    saved = 2 * (4 * h + 4)  # input and post-attention RMSNorm
    if shape.model_type == "qwen3":
        saved += 4 * q + 4 * kv + 4 * (heads + kv_heads)  # q_norm, k_norm
    saved += 2 * q + 4 * kv + 2 * q + 4 * heads  # attention: q, k, v, output, log-sum-exp
    saved += 6 * f  # SwiGLU: gate, silu(gate), up
    widths = module_widths(shape)
    for target in targets:
        d = widths[target][0]
        saved += (mask_bytes * d if lora_dropout > 0 else 0) + 2 * d + 2 * r
    return saved


@dataclass
class Estimate:
    """One recipe on one GPU: memory parts in GB, tokens trained on (the instruction set x epochs), hours per GPU."""

    recipe: str
    model: str
    quantized: bool
    micro_batch_tokens: int
    weights_gb: float
    lora_gb: float
    activations_gb: float
    total_gb: float
    tokens: float
    tokens_per_s: dict
    hours: dict

    def row(self, label: str = "as written (bf16 LoRA)") -> str:
        """Its line of README's table (`benchmarks/gpu_estimate.py --markdown` prints them all); QLoRA's speed was
        not measured, so it gets no hours."""
        hours = "—" if self.quantized else " / ".join(f"{self.hours[gpu]:.1f}" for gpu in PEAK_BF16_TFLOPS)
        return (
            f"| `{self.recipe}` | {label} | {self.micro_batch_tokens:,} | {self.weights_gb:.1f} | "
            f"{self.lora_gb:.2f} | {self.activations_gb:.1f} | **{self.total_gb:.0f}** | {hours} |"
        )


def instruction_tokens() -> float:
    return IFT_CHARACTERS / CHARS_PER_TOKEN + IFT_EXAMPLES * TEMPLATE_TOKENS


def assumed_mfu() -> float:
    """The MFU of the measured run (4N FLOPs per token against the GPU's peak)."""
    n = parameter_count(MODELS[MEASURED["model"]])
    return MEASURED["tokens_per_s"] * 4 * n / (PEAK_BF16_TFLOPS[MEASURED["gpu"]] * 1e12)


def estimate(recipe: str, model_args, training_args) -> Estimate:
    """The estimate for one parsed recipe (`medsyn_hf.training.sft.parse_args`); its model must be in MODELS."""
    shape = MODELS[model_args.model_name_or_path]
    n = parameter_count(shape)
    h, layers = shape.get("hidden_size"), shape.get("num_hidden_layers")
    quantized = bool(getattr(model_args, "load_in_4bit", False))
    if quantized:
        linear = layers * sum(i * o for i, o in module_widths(shape).values())
        weights = linear * NF4_BYTES_PER_PARAM + (n - linear) * BF16
    else:
        weights = n * BF16
    targets = list(model_args.lora_target_modules or []) if model_args.use_peft else []
    lora = lora_parameter_count(shape, model_args.lora_r, targets) * LORA_BYTES_PER_PARAM
    tokens = training_args.per_device_train_batch_size * training_args.max_length
    if training_args.activation_checkpointing:  # each layer's input, plus one layer recomputed at a time
        per_token = layers * 2 * h + layer_activation_bytes(shape, model_args.lora_r, targets, model_args.lora_dropout)
    else:
        per_token = layers * layer_activation_bytes(shape, model_args.lora_r, targets, model_args.lora_dropout)
    per_token += 2 * h  # the final norm's output, kept by the tiled LM head
    activations = tokens * per_token
    total_tokens = instruction_tokens() * training_args.num_train_epochs
    mfu = assumed_mfu()
    rates = {gpu: mfu * peak * 1e12 / (4 * n) for gpu, peak in PEAK_BF16_TFLOPS.items()}
    return Estimate(
        recipe=recipe,
        model=model_args.model_name_or_path,
        quantized=quantized,
        micro_batch_tokens=tokens,
        weights_gb=weights / GB,
        lora_gb=lora / GB,
        activations_gb=activations / GB,
        total_gb=(weights + lora + activations) / GB,
        tokens=total_tokens,
        tokens_per_s={gpu: round(rate) for gpu, rate in rates.items()},
        hours={gpu: total_tokens / rate / 3600 for gpu, rate in rates.items()},
    )
