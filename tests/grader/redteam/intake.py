"""Attack class "intake": symlinks, zips and odd names in the submissions folder."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import nbformat
from catalogue import (
    NOTEBOOK,
)

from redteam.base import Context, Maker

# --- intake tricks -------------------------------------------------------------------


def _solution_bytes(ctx: Context) -> bytes:
    return nbformat.writes(ctx.built["solution"]).encode()


def _symlink(entry: str, target: Callable[[Context, Path], Path]) -> Maker:
    def make(ctx: Context, folder: Path) -> None:
        (folder / entry).symlink_to(target(ctx, folder))

    return make


def _inner_link(ctx: Context, folder: Path) -> None:
    (folder / "rtinnerlink").mkdir()
    (folder / "rtinnerlink" / NOTEBOOK).symlink_to(ctx.secret_notebook)


def _zip_slip(ctx: Context, folder: Path) -> None:
    with zipfile.ZipFile(folder / "rtzipslip.zip", "w") as archive:
        archive.writestr(f"../../{ctx.marker}-zipslip/{NOTEBOOK}", _solution_bytes(ctx))
        archive.writestr(f"/tmp/{ctx.marker}-zipslip-absolute.txt", b"written outside")
        archive.writestr("timestamp.txt", "2024-01-01 00:00:00")


def _zip_symlink(ctx: Context, folder: Path) -> None:
    member = zipfile.ZipInfo(NOTEBOOK)
    member.create_system = 3  # Unix: the mode in the high bits counts
    member.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(folder / "rtzipsymlink.zip", "w") as archive:
        archive.writestr(member, str(ctx.secret_notebook))


def _odd_name(entry: str) -> Maker:
    def make(ctx: Context, folder: Path) -> None:
        (folder / entry).write_bytes(_solution_bytes(ctx))

    return make
