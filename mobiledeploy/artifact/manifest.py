"""manifest.json: versioned, validated against the JSON Schema shipped in the package."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from ..errors import MobiledeployError

MANIFEST = "manifest.json"
VERSION = 1


@lru_cache(maxsize=1)
def schema() -> dict:
    """The manifest's JSON Schema."""
    return json.loads((Path(__file__).with_name("manifest.schema.json")).read_text())


def validate(doc: dict, where: str = MANIFEST) -> dict:
    """Raise a one-line MobiledeployError naming the first schema violation."""
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        path = "/".join(str(p) for p in first.path) or "(top level)"
        raise MobiledeployError(f"{where} is not a valid manifest: {path}: {first.message} "
                                "(re-export the artifact)")
    return doc


def read(folder: Path) -> dict:
    """Load and validate an artifact's manifest."""
    path = Path(folder) / MANIFEST
    if not Path(folder).is_dir():
        raise MobiledeployError(f"artifact folder not found: {folder}")
    if not path.is_file():
        raise MobiledeployError(f"{folder} has no {MANIFEST}: not an artifact (make one with mobiledeploy export)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MobiledeployError(f"{path} is not valid JSON ({exc}): re-export the artifact") from None
    if isinstance(doc, dict) and doc.get("manifest_version") not in (None, VERSION):
        raise MobiledeployError(f"{path} has manifest_version {doc.get('manifest_version')}; this mobiledeploy "
                                f"reads version {VERSION}: upgrade mobiledeploy or re-export")
    return validate(doc, str(path))


def io_entry(dtype, quant) -> dict:
    """A file's input or output description: dtype and (scale, zero point) when quantized."""
    import numpy as np

    name = np.dtype(dtype).name
    if quant:
        return {"dtype": name, "quantization": {"scale": float(quant[0]), "zero_point": int(quant[1])}}
    return {"dtype": name, "quantization": None}
