"""Settings: config/default.toml documents the real defaults; bad files are usage errors."""

import dataclasses
from pathlib import Path

import pytest

from scraper.config import (
    SECTIONS,
    Settings,
    load_settings,
    read_toml,
    settings_from_json,
    settings_to_json,
)
from scraper.errors import UsageError
from scraper.models import Scope
from tests.conftest import DEFAULT_TOML


def test_default_toml_matches_the_code_defaults():
    """Every setting in config/default.toml has the value Settings uses when none is given."""
    assert dataclasses.replace(load_settings(DEFAULT_TOML), extract=()) == Settings()


def test_default_toml_ships_working_extraction_examples():
    """The default config's [extract] rules name book and quote fields, scoped by URL."""
    rules = {rule.name: rule for rule in load_settings(DEFAULT_TOML).extract}
    assert set(rules) == {"book_title", "book_price", "quote_text", "quote_author"}
    assert rules["quote_text"].all
    assert rules["book_price"].url == r"^https?://books\.toscrape\.com/catalogue/"


def test_settings_survive_the_json_round_trip():
    """Settings stored with a crawl come back equal, extraction rules included."""
    settings = load_settings(DEFAULT_TOML, seeds=("http://a.example/",), db="x.db")
    assert settings_from_json(settings_to_json(settings), "x.db") == settings


def test_default_toml_documents_every_setting():
    """config/default.toml names every field of Settings that a file may set."""
    settable = {f.name for f in dataclasses.fields(Settings) if f.init} - {"seeds", "sites"}
    assert set(read_toml(DEFAULT_TOML)) == settable
    assert {name for names in SECTIONS.values() for name in names} == settable - {"extract"}


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
        ("[extract.x]\nattr = 'href'\n", "needs selector"),
        ("[extract.x]\nselector = 'a'\nall = 'yes'\n", "bad key all"),
        ("[extract.x]\nselector = 'a'\nurl = '('\n", "bad regular expression"),
        ('[site."x.com"]\ndealy_s = 1\n', """[site."x.com"]: unknown key 'dealy_s'"""),
        ('[site."x.com"]\ndelay_s = "slow"\n', "delay_s must be float"),
        ('[site."x.com"]\nper_host = 0\n', "per_host must be at least 1"),
        ('[site."x.com"]\ndeny = ["("]\n', "bad regular expression"),
        ('[site."x.com"]\nheaders = { "Bad Name" = "v" }\n', "must look like 'Name: value'"),
        ('[site."http://x.com/"]\ndelay_s = 1\n', "a site is a hostname"),
        ("[fetch]\nheaders = ['no colon']\n", "must look like 'Name: value'"),
    ],
)
def test_bad_files_are_usage_errors(tmp_path: Path, text: str, message: str):
    """Wrong types, unknown names, out-of-range values and broken TOML name the problem."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        load_settings(path)


def test_every_unknown_name_of_a_file_is_reported_at_once(tmp_path: Path):
    """A file with several unknown sections and settings names them all in one error."""
    path = tmp_path / "bad.toml"
    path.write_text("[crawl]\nconcurrenc = 3\nmax_pagez = 1\n[crawling]\nx = 1\n")
    with pytest.raises(UsageError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"{path}: unknown section [crawling], unknown setting [crawl] concurrenc, "
        "unknown setting [crawl] max_pagez"
    )


def test_parse_workers_is_a_count_or_auto(tmp_path: Path):
    """[parse] parse_workers takes a count or "auto" (None: sized by the parse pool); any other
    value is one usage error naming both forms."""
    path = tmp_path / "c.toml"
    path.write_text('[parse]\nparse_workers = "auto"\n')
    assert load_settings(path).parse_workers is None
    path.write_text("[parse]\nparse_workers = 3\n")
    assert load_settings(path).parse_workers == 3
    for bad in ('"many"', "1.5", "true"):
        path.write_text(f"[parse]\nparse_workers = {bad}\n")
        with pytest.raises(UsageError, match='parse_workers must be an integer or "auto"'):
            load_settings(path)
