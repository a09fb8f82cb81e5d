"""Settings: config/default.toml documents the real defaults; bad files are usage errors."""

import dataclasses
from pathlib import Path

import pytest

from scraper.config import SECTIONS, Settings, load_settings, read_toml
from scraper.errors import UsageError
from scraper.models import Scope

DEFAULT_TOML = Path(__file__).parent.parent / "config" / "default.toml"


def test_default_toml_matches_the_code_defaults():
    """Every setting in config/default.toml has the value Settings uses when none is given."""
    assert load_settings(DEFAULT_TOML) == Settings()


def test_default_toml_documents_every_setting():
    """config/default.toml names every field of Settings that a file may set."""
    settable = {f.name for f in dataclasses.fields(Settings)} - {"seeds"}
    assert set(read_toml(DEFAULT_TOML)) == settable
    assert {name for names in SECTIONS.values() for name in names} == settable


def test_flags_override_the_file(tmp_path: Path):
    """A value given as an override beats the file, and None means 'not given'."""
    path = tmp_path / "c.toml"
    path.write_text('[crawl]\nconcurrency = 3\nscope = "domain"\n[politeness]\ndelay_s = 2\n')
    settings = load_settings(path, concurrency=5, delay_s=None)
    assert (settings.concurrency, settings.scope, settings.delay_s) == (5, Scope.DOMAIN, 2.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[crawl]\nconcurrency = 'lots'\n", "concurrency must be int"),
        ("[crawl]\nscope = 'planet'\n", "scope must be one of"),
        ("[crawl]\nallow = 'x'\n", "allow must be a list of strings"),
        ("[crawling]\n", "unknown section [crawling]"),
        ("[fetch]\nretries = -1\n", "retries must be at least 0"),
        ("[crawl\n", "cannot read config"),
    ],
)
def test_bad_files_are_usage_errors(tmp_path: Path, text: str, message: str):
    """Wrong types, unknown names, out-of-range values and broken TOML name the problem."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        load_settings(path)
