"""The documentation's code blocks are all tests, or visibly marked as not run.

The blocks themselves run as tests collected by the root ``conftest.py`` (see
``tests/doc_examples.py``); these tests check the machinery and the rule that no block
goes silently untested.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sybil import Document

from doc_examples import (
    DOCUMENTS,
    MARKER,
    ROOT,
    SYBIL,
    blocks,
    evaluator_for,
    fail_unrunnable,
    setup,
    teardown,
)

FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


def _blocks(path: Path):
    text = path.read_text(encoding="utf-8")
    return [block for _, block in blocks(Document(text, str(path)))]


def test_every_document_is_collected():
    """README.md and every docs/*.md, and nothing else."""
    assert set(DOCUMENTS) == {ROOT / "README.md", *(ROOT / "docs").glob("*.md")}


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_every_block_is_run_or_visibly_marked(path: Path):
    """Each fenced block has a runner, or the italic marker line right before it."""
    blocks = _blocks(path)
    fences = FENCE.findall(path.read_text(encoding="utf-8"))
    assert len(fences) == 2 * len(blocks), "a fence the lexer does not see as a block"
    unrunnable = [
        f"{path.name}, line {block.line}: ```{block.language}"
        for block in blocks
        if evaluator_for(block) is fail_unrunnable
    ]
    assert not unrunnable, "blocks neither run nor marked: " + ", ".join(unrunnable)


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_every_marker_is_right_before_a_block(path: Path):
    """A marker that skips nothing (a typo, a paragraph in between) is a mistake."""
    marked = [block.marker for block in _blocks(path) if block.marker is not None]
    paragraphs = path.read_text(encoding="utf-8").split("\n\n")
    markers = [p for p in paragraphs if p.lstrip().startswith("*Not run by the test suite")]
    assert len(markers) == len(marked)
    for paragraph in markers:
        assert MARKER.match(" ".join(line.strip() for line in paragraph.splitlines()))


def _run(tmp_path: Path, text: str) -> list[str | None]:
    """Run a document's blocks as the suite does: each block's failure message, or None."""
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    document = SYBIL.parse(path)
    setup(document.namespace)
    try:
        return [example.region.evaluator(example) for example in document.examples()]
    finally:
        teardown(document.namespace)


def test_an_unmarked_block_without_runner_fails(tmp_path):
    (result,) = _run(tmp_path, "Some text:\n\n```text\nhello\n```\n")
    assert "Not run by the test suite" in result


def test_a_marked_block_is_skipped(tmp_path):
    text = "*Not run by the test suite: it is an example.*\n\n```text\nhello\n```\n"
    assert _run(tmp_path, text) == []


def test_a_console_block_shows_the_real_output_ready_to_paste(tmp_path):
    text = (
        "```console\n"
        "$ mikoshi-progression validate examples/mikoshi.toml\n"
        "OK: it is fine\n"
        "$ mikoshi-progression validate missing.toml\n"
        "```\n"
    )
    (result,) = _run(tmp_path, text)
    pasted = result.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    assert pasted[0] == "$ mikoshi-progression validate examples/mikoshi.toml"
    assert pasted[1].startswith("OK: examples/mikoshi.toml is valid (6 levels")
    assert pasted[2] == "$ mikoshi-progression validate missing.toml"
    assert pasted[3].startswith("mikoshi-progression: error: missing.toml")
    assert pasted[4:] == ["$ echo $?", "2"]  # added: the command did not exit 0
    assert "-OK: it is fine" in result  # the diff


def test_output_files_and_exit_codes(tmp_path):
    text = (
        "A config, `levels.toml`:\n\n"
        "```toml\n" + (ROOT / "examples" / "mikoshi.toml").read_text() + "```\n\n"
        "```sh\nmikoshi-progression levels levels.toml --json > levels.json\n"
        "mikoshi-progression validate nothing.toml\necho $?   # 2\n```\n\n"
        "```python\nimport json, pathlib\n"
        'levels = json.loads(pathlib.Path("levels.json").read_text())\n'
        'print(len(levels["levels"]))\n```\n\n'
        "Output:\n\n```text\n6\n```\n"
    )
    assert _run(tmp_path, text) == [None, None, None, None]
    assert not (tmp_path / "levels.json").exists()  # written in the document's own directory


def test_global_changes_of_examples_are_undone(tmp_path):
    """A CLI command appended or a hypothesis profile loaded ends with the document."""
    from hypothesis import settings

    from mikoshi_progression.cli import COMMANDS

    before = settings.get_current_profile_name(), list(COMMANDS)
    text = (
        "```python\nfrom hypothesis import settings\n"
        "from mikoshi_progression.cli import COMMANDS\n"
        'settings.register_profile("docs-test", max_examples=1)\n'
        'settings.load_profile("docs-test")\nCOMMANDS.clear()\n```\n'
    )
    assert _run(tmp_path, text) == [None]
    assert (settings.get_current_profile_name(), list(COMMANDS)) == before
