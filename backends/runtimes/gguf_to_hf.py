"""Convert a GGUF checkpoint into a Hugging Face folder vLLM can load.

Run as a script by a runtime's Python (it needs torch, transformers and gguf, which the panel's
own environment does not have): ``python gguf_to_hf.py GGUF_FILE OUT_DIR``. vLLM 0.32's core
cannot load GGUF, so the embedded model is dequantized once into plain weights plus tokenizer.
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(gguf_file: Path, out_dir: Path) -> None:
    """Dequantize ``gguf_file`` and save weights, config and tokenizer into ``out_dir``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # from_pretrained(gguf_file=...) dequantizes into ordinary tensors; save_pretrained refuses
    # a model that still carries GGUF quantization metadata, so rebuild a plain model from the
    # config and copy the dequantized state dict into it before saving.
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    # a tied lm_head is the only tensor allowed to be absent from the GGUF
    missing = [key for key in missing if not key.startswith("lm_head")]
    if missing or unexpected:
        raise SystemExit(
            f"GGUF tensors do not match the model: missing={missing} extra={unexpected}"
        )
    if getattr(config, "tie_word_embeddings", False):
        plain.tie_weights()
    # bfloat16 halves the folder (~270 MB for 135M parameters); vLLM-CPU serves it natively
    plain = plain.to(torch.bfloat16)
    plain.config.dtype = "bfloat16"
    out_dir.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: gguf_to_hf.py GGUF_FILE OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
