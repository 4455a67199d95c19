"""The images under docs/images are drawn by the tool, with the commands the docs show."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_tool():
    spec = importlib.util.spec_from_file_location("doc_images", ROOT / "tools" / "doc_images.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_image_is_shown_beside_the_command_that_draws_it():
    """tools/doc_images.py draws each image with a command its document prints verbatim."""
    tool = load_tool()
    for name, (document, command) in tool.IMAGES.items():
        text = (ROOT / document).read_text(encoding="utf-8")
        assert command in text, f"{document} does not show {command!r}"
        assert f"](images/{name})" in text
        assert (ROOT / "docs" / "images" / name).is_file()


def test_the_scripts_retune_is_the_documents():
    """The creators.toml the script writes is the one docs/simulation.md writes."""
    text = (ROOT / "docs" / "simulation.md").read_text(encoding="utf-8")
    source = (ROOT / "tools" / "doc_images.py").read_text(encoding="utf-8")
    for edit in (
        'exp = 30", "[actions.create_character]\\nexp = 40"',
        '"3 = 300\\n4 = 300", "3 = 250\\n4 = 250"',
    ):
        assert edit in text
        assert edit in source.replace('",\n        "', '", "').replace("\n    )", ")")
