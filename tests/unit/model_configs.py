"""The real model configs the shape and planner tests read (tests/fixtures/model_configs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from naptha_tui.backends.servers.model_shape import ModelShape

CONFIGS = Path(__file__).parent.parent / "fixtures" / "model_configs"


def config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFIGS / f"{name}.json").read_text())
    return data


def shape(name: str, **kwargs: Any) -> ModelShape:
    return ModelShape.from_config(config(name), **kwargs)
