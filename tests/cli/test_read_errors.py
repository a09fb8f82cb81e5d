"""The read commands on a database SQLite cannot open: one `error:` line, exit 1, nothing else.

The failure tested is SQLite's own "unable to open database file". Tests run as root, which
permission bits do not stop, so the file sits at a path longer than SQLite's limit (512 bytes;
Linux takes 4096): the open fails there as it does for an unprivileged user on a file without
read permission (checked by hand with ``setpriv --reuid=65534``).
"""

import asyncio
from pathlib import Path

import pytest

from scraper.storage.sqlite.store import Store
from tests.conftest import run

COMMANDS = {
    "query": ["query", "SELECT 1"],
    "stats": ["stats"],
    "search": ["search", "word"],
    "export": ["export", "-f", "jsonl"],
    "status": ["status"],
    "resume": ["resume"],
}
# The traceback came from a race (aiosqlite's thread against the end of the event loop), seen in
# about half the runs: each command runs this many times.
ROUNDS = 3


@pytest.fixture
async def unopenable_db(tmp_path: Path) -> Path:
    """A crawl database at a path SQLite refuses to open (over 512 bytes long)."""
    made = tmp_path / "crawl.db"
    async with Store(made):
        pass
    deep = tmp_path.joinpath(*["d" * 100] * 5)
    deep.mkdir(parents=True)
    return made.rename(deep / "crawl.db")


@pytest.mark.parametrize("command", list(COMMANDS))
async def test_a_database_that_cannot_be_opened_is_one_error_line(
    tmp_path: Path, unopenable_db: Path, command: str
):
    """A read command on a database SQLite cannot open exits 1 with exactly one `error: cannot
    open database` line on stderr: no traceback from aiosqlite's connection thread."""
    args = [*COMMANDS[command], "--db", str(unopenable_db)]
    results = await asyncio.gather(*(run(tmp_path, *args) for _ in range(ROUNDS)))
    for code, out, err in results:
        assert code == 1, err
        assert out == ""
        assert "Traceback" not in err
        assert "Exception in thread" not in err
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(f"error: cannot open database {unopenable_db}: "), err
