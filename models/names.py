"""Names that become file paths (campaigns, datasets, model versions, lineages, experiments):
checked once, here, against one safe pattern, so no name can point outside the data folder
(a lineage ``../../../../tmp/x`` was a run folder the train worker wrote and removed)."""

from __future__ import annotations

import re
from typing import Any

from models.errors import ConfigError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_name(kind: str, name: Any) -> str:
    """``name`` if it is safe as one path component; else one ConfigError line."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"{kind} name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, no '..', at most 200 characters)"
        )
    return name
