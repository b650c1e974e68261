"""Scan a state dir for a secret: every file but the ``secrets/`` folder the secret is meant to live in."""

from __future__ import annotations

from pathlib import Path


def files_holding(root: Path, needle: str) -> list[str]:
    """Files under ``root`` (``secrets/`` left out) whose bytes contain ``needle``, relative to ``root``."""
    hits = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] != "secrets" and needle.encode() in path.read_bytes():
            hits.append(str(relative))
    return hits
