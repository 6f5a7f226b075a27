"""Checkpoints: the model with everything needed to trust it on the running extension.

A checkpoint holds the model config, the weights (with the training split's feature
statistics), the node-type vocabulary, feature and edge-type names, the training config, its
validation metrics and the versions it was made with. Loading refuses a checkpoint whose
vocabulary or feature layout differs from the running graph pass: its ids would silently
mean other things.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import torch

from .graph import edge_type_names, node_feature_names, node_type_vocabulary
from .model import TPGNN, ModelConfig

FORMAT = "tpgnn-checkpoint/1"


class CheckpointMismatchError(ValueError):
    """The checkpoint was made for another graph layout; the message says what differs."""


def default_checkpoint_path() -> Path:
    """The pretrained model shipped inside the package."""
    return Path(__file__).with_name("pretrained") / "tpgnn.pt"


def versions() -> dict[str, str]:
    out = {}
    for dist in ("tpgnn", "apache-tvm", "apache-tvm-ffi", "torch", "torch-geometric"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def save_checkpoint(
    path: str | Path,
    model: TPGNN,
    *,
    train_config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> None:
    """Write atomically (temporary file, then rename), so a crash never leaves half a file."""
    payload = {
        "format": FORMAT,
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "vocabulary": list(node_type_vocabulary()),
        "feature_names": list(node_feature_names()),
        "edge_types": list(edge_type_names()),
        "train_config": dict(train_config or {}),
        "metrics": dict(metrics or {}),
        "versions": versions(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def _check_layout(payload: dict, path: Path) -> None:
    checks = [
        ("node-type vocabulary", payload.get("vocabulary"), list(node_type_vocabulary())),
        ("node feature layout", payload.get("feature_names"), list(node_feature_names())),
        ("edge types", payload.get("edge_types"), list(edge_type_names())),
    ]
    for what, theirs, ours in checks:
        if theirs != ours:
            detail = (
                f"{len(theirs)} entries vs {len(ours)}"
                if isinstance(theirs, list) and len(theirs) != len(ours)
                else "same size, different entries"
            )
            raise CheckpointMismatchError(
                f"{path} was trained with another {what} than this tpgnn build ({detail}); "
                "retrain it with `tpgnn train` for this version, or install the tpgnn release "
                f"it came from (made with {payload.get('versions', {}).get('tpgnn', 'unknown')})"
            )


def _read_payload(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """The saved dict of a TPGNN checkpoint, any layout; clear errors for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no TPGNN checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is not a readable TPGNN checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a TPGNN checkpoint (expected format {FORMAT!r})")
    return payload


def checkpoint_metadata(path: str | Path) -> dict:
    """A checkpoint's entries other than its weights (configs, data snapshot, metrics).

    Unlike :func:`load_checkpoint` it accepts a checkpoint of another graph layout: what a
    model was trained on stays readable after the graph pass changes, e.g. to train the new
    layout on the same records (``tpgnn train --data-snapshot-of``).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_checkpoint`.
    """
    return {k: v for k, v in _read_payload(path).items() if k != "state_dict"}


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[TPGNN, dict]:
    """Load a model for inference.

    Returns
    -------
    (TPGNN, dict)
        The model in eval mode on ``device``, and the checkpoint's other entries.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointMismatchError
        The checkpoint's vocabulary, features or edge types differ from the running build.
    ValueError
        Not a TPGNN checkpoint.
    """
    payload = _read_payload(path, device)
    _check_layout(payload, Path(path))
    model = TPGNN(ModelConfig.from_dict(payload["model_config"]))
    model.load_state_dict(payload["state_dict"])
    model.to(device).eval()
    return model, {k: v for k, v in payload.items() if k != "state_dict"}
