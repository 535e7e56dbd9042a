"""Name literals in parameter filters: which torch names have a certain MindSpore name."""

import pytest

from ms_migrate.rules.parameters.names import translate_name

CASES = [
    ("LayerNorm.weight", "LayerNorm.gamma"),  # Hugging Face no_decay lists
    ("LayerNorm.bias", "LayerNorm.beta"),
    ("encoder.layer.0.attention.output.LayerNorm.weight", "encoder.layer.0.attention.output.LayerNorm.gamma"),
    ("bn.weight", "bn.gamma"),
    ("bn1.bias", "bn1.beta"),
    ("layer1.0.bn2.weight", "layer1.0.bn2.gamma"),
    ("norm.bias", "norm.beta"),
    ("ln_f.weight", "ln_f.gamma"),  # nanoGPT
    ("transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.gamma"),
    ("embed.weight", "embed.embedding_table"),
    ("embeddings.word_embeddings.weight", "embeddings.word_embeddings.embedding_table"),
    ("fc.weight", None),
    ("conv1.weight", None),
    ("linear.bias", None),
    ("attn.c_proj.weight", None),
    ("bias", None),
    ("weight", None),
    ("head", None),
]


@pytest.mark.parametrize("torch_name, ms_name", CASES)
def test_translate_name(torch_name, ms_name):
    assert translate_name(torch_name) == ms_name
