"""The tiny, randomly initialised Wan 2.1 checkpoints (docs/design.md "Generation facts"):
text-to-video, and image-to-video (Wan 2.1 I2V: a 36-channel transformer that also reads
a CLIP image embedding, with a tiny CLIP vision encoder). Both share the VAE and text
encoder weights (same seed), as the real T2V and I2V checkpoints share theirs.

It is written with ``save_pretrained`` and read back with ``from_pretrained`` so the
demo and the tests take the same loading path as a real checkpoint on a GPU host.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY_SEED = 0
_MARKER = "atelier-tiny.json"
# 2: rope_max_seq_len 1024 (was 32, which bounded the latent grid to 32 patches: no 480p).
# 3: the image-to-video checkpoint's encoder is a CLIPVisionModel, as in the real Wan 2.1 I2V.
TINY_VERSION = 3


def is_built(directory: Path) -> bool:
    marker = Path(directory) / _MARKER
    if not marker.is_file() or not (Path(directory) / "model_index.json").is_file():
        return False
    try:
        return bool(json.loads(marker.read_text()).get("version") == TINY_VERSION)
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
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4))
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


def build_tiny_wan_i2v(directory: Path, *, force: bool = False) -> bool:
    """The image-to-video checkpoint (WanImageToVideoPipeline). False when already there."""
    directory = Path(directory)
    if is_built(directory) and not force:
        return False
    from generation.pipelines import offline

    offline()
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from transformers import (
        ByT5Tokenizer,
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    torch.manual_seed(TINY_SEED)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    torch.manual_seed(TINY_SEED)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4))
    torch.manual_seed(TINY_SEED)
    # in_channels 36 = 16 noise latents + 4 mask channels + 16 latents of the start image
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
        image_dim=4,
    )
    torch.manual_seed(TINY_SEED)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4,
            projection_dim=4,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            intermediate_size=16,
            patch_size=1,
        )
    )
    image_processor = CLIPImageProcessor(crop_size=32, size=32)
    pipe = WanImageToVideoPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text_encoder,
        tokenizer=ByT5Tokenizer(),
        image_encoder=image_encoder,
        image_processor=image_processor,
    )
    directory.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(directory))
    (directory / _MARKER).write_text(json.dumps({"version": TINY_VERSION, "seed": TINY_SEED, "kind": "i2v"}))
    return True
