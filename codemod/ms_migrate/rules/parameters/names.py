"""Parameter names that differ between torch and mindspore.nn (mindspore-facts.md section 4):
norm layers' weight/bias are gamma/beta, an Embedding's weight is embedding_table."""

from __future__ import annotations

import re
from typing import Optional

_NORM = r"(?:[\w.]*norm[\w]*|bn\d*|ln(?:_?\w+)?|\w*_bn\d*|\w*_ln\d*)"
_NORM_SUFFIX = re.compile(rf"^(.*?(?:^|\.){_NORM})\.(weight|bias)$", re.IGNORECASE)
_EMBED_SUFFIX = re.compile(r"^(.*?(?:^|\.)\w*emb\w*)\.weight$", re.IGNORECASE)
AMBIGUOUS = {"bias", "weight", ".bias", ".weight", "bias.", "weight."}


def translate_name(value: str) -> Optional[str]:
    """'LayerNorm.weight' -> 'LayerNorm.gamma', 'bn1.bias' -> 'bn1.beta',
    'embed.weight' -> 'embed.embedding_table'; None when no certain translation exists."""
    match = _NORM_SUFFIX.match(value)
    if match:
        return f"{match.group(1)}.{'gamma' if match.group(2).lower() == 'weight' else 'beta'}"
    match = _EMBED_SUFFIX.match(value)
    if match:
        return f"{match.group(1)}.embedding_table"
    return None
