"""The SQLite store when the disk fails it: the filesystem full mid-crawl, or read-only
(between runs: Linux refuses to remount read-only a filesystem with a file open for writing).
The crawl must stop with one clear error line and exit 1, lose nothing it committed, and
``scraper resume`` must finish it once the disk is fine again.

The database lives on a small tmpfs this test mounts (root only; skipped otherwise)."""

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.testing import CONFIG
from tests.conftest import FAST, assert_consistent, run, scraper

pytestmark = pytest.mark.timeout(60)
MORE = ["--store-html", "--max-pages", "0", "--delay", "0.01"]


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where``, unmounted at the end."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(where)], check=True)


@pytest.mark.parametrize(("full", "fixed"), [("size=256k", "size=64m"), ("ro", "rw")])
async def test_a_disk_full_or_read_only_mid_crawl_is_one_line_and_resume_finishes(
    tmp_path: Path, site: TestServer, full: str, fixed: str
):
    """The database's filesystem fills up (or turns read-only) mid-crawl: exit 1 with one
    error line, the committed pages kept, and ``resume`` finishes once it is fixed."""
    site.app[CONFIG].gen_pages = 300
    seed = str(site.make_url("/gen/0"))
    with small_disk(tmp_path / "disk", "64m") as disk:
        db = disk / "crawl.db"
        code, _, err = await run(
            tmp_path, "crawl", seed, "--db", str(db), *FAST, "--max-pages", "5"
        )
        assert code == 0, err
        remount(disk, full)  # the resume fills it; read-only: refused at the start
        async with scraper(tmp_path, "resume", "--db", str(db), *MORE) as child:
            code, _, err = await child.finish(30)
        lines = err.strip().splitlines()
        assert code == 1, err
        assert lines[-1].startswith("error: "), err
        assert "Traceback" not in err
        assert "internal error" not in lines[-1], err
        remount(disk, fixed)
        assert_consistent(db)
        code, _, err = await run(tmp_path, "resume", "--db", str(db), "--max-pages", "0")
        assert code == 0, err
        assert assert_consistent(db) == {"done": 300}
