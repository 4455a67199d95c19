"""Regenerate the images docs/ shows, with the commands the docs show beside them.

Run from a clone:  python tools/doc_images.py

Each image is drawn by ``mikoshi-progression`` itself; the command is the one printed in
the document (``tests/test_doc_images.py`` checks that each command below appears
there, so an image cannot drift from the command that claims to draw it).
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from mikoshi_progression.cli import main

ROOT = Path(__file__).resolve().parent.parent

IMAGES: dict[str, tuple[str, str]] = {
    # image under docs/images -> (the document showing it, the command drawing it)
    "compare.png": (
        "docs/simulation.md",
        "mikoshi-progression simulate --compare examples/mikoshi.toml creators.toml "
        "--players 400 --days 120 --resamples 300 --plot compare.png --html compare.html",
    ),
}


def write_creators(directory: Path) -> None:
    """creators.toml as docs/simulation.md writes it: two numbers of examples/mikoshi.toml."""
    text = (ROOT / "examples" / "mikoshi.toml").read_text(encoding="utf-8")
    text = text.replace(
        "[actions.create_character]\nexp = 30", "[actions.create_character]\nexp = 40"
    )
    text = text.replace("3 = 300\n4 = 300", "3 = 250\n4 = 250")
    (directory / "creators.toml").write_text(text, encoding="utf-8")


def draw(name: str, command: str, directory: Path) -> Path:
    """Run ``command`` in ``directory`` and return the image it drew."""
    argv = shlex.split(command)[1:]  # without the program's name
    with contextlib.redirect_stdout(io.StringIO()):  # the report itself is not wanted here
        code = main(argv)
    if code != 0:
        raise SystemExit(f"{command!r} exited {code}")
    return directory / name


def main_script() -> int:
    """Draw every image into docs/images, each in a scratch copy of examples/."""
    target = ROOT / "docs" / "images"
    target.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        shutil.copytree(ROOT / "examples", directory / "examples")
        write_creators(directory)
        previous = Path.cwd()
        try:
            os.chdir(directory)
            for name, (_, command) in IMAGES.items():
                shutil.copy(draw(name, command, directory), target / name)
                print(f"docs/images/{name}: {command}")
        finally:
            os.chdir(previous)
    return 0


if __name__ == "__main__":
    sys.exit(main_script())
