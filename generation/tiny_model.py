"""The tiny, randomly initialised Wan 2.1 checkpoint (DESIGN.md "Generation facts").

It is written with ``save_pretrained`` and read back with ``from_pretrained`` so the
demo and the tests take the same loading path as a real checkpoint on a GPU host.
"""
from __future__ import annotations

import json
from pathlib import Path

TINY_SEED = 0
_MARKER = "atelier-tiny.json"
# 2: rope_max_seq_len 1024 (was 32, which bounded the latent grid to 32 patches: no 480p).
TINY_VERSION = 2


def is_built(directory: Path) -> bool:
    marker = Path(directory) / _MARKER
    if not marker.is_file() or not (Path(directory) / "model_index.json").is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("version") == TINY_VERSION
    except (OSError, ValueError):
        return False


def build_tiny_wan(directory: Path, *, force: bool = False) -> bool:
    """Write the checkpoint into ``directory``. Returns False when it was already there."""
    directory = Path(directory)
    if is_built(directory) and not force:
        return False
    from generation.pipelines import offline

    offline()
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(TINY_SEED)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    torch.manual_seed(TINY_SEED)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    text_encoder = UMT5EncoderModel(
        UMT5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4)
    )
    tokenizer = ByT5Tokenizer()
    torch.manual_seed(TINY_SEED)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
    )
    pipe = WanPipeline(
        transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer
    )
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(directory))
    (directory / _MARKER).write_text(json.dumps({"version": TINY_VERSION, "seed": TINY_SEED}))
    return True
