"""The extraction bench's scoring, on a few pages of trafilatura's evaluation corpus."""

import re

import pytest

from scraper.bench.extraction import DEFAULT_CORPUS, Score, load_corpus, report_lines, score_pages

pytestmark = pytest.mark.skipif(
    not (DEFAULT_CORPUS / "ground-truth.json").is_file(), reason="extraction corpus absent"
)


def test_score_counts_snippets_as_the_corpus_readme_says():
    """A kept snippet found is a TP, missed a FN; a dropped one found is a FP (spaces collapsed)."""
    score = Score()
    score.add("Hello   big\nworld. Menu", ["big world.", "absent"], ["Menu", "Imprint"])
    assert (score.tp, score.fn, score.fp, score.empty) == (1, 1, 1, 0)
    assert score.f1 == pytest.approx(0.5)


def test_main_content_scores_above_a_floor_on_twenty_pages():
    """main_content's Markdown and text score F1 above 0.85 on 20 corpus pages, none empty."""
    pages = load_corpus(DEFAULT_CORPUS, 20)
    assert len(pages) == 20
    markdown, text = score_pages(pages)
    assert markdown.empty == 0
    assert markdown.f1 > 0.85
    assert text.f1 > 0.85


def test_report_times_main_content_with_chunks():
    """The report gives the median CPU ms a page for main content, Markdown and chunks together."""
    lines = report_lines(DEFAULT_CORPUS, 5)
    assert lines[0].startswith("5 pages of ")
    timed = [line for line in lines if line.startswith("main content + Markdown + chunks")]
    assert len(timed) == 1
    assert re.fullmatch(r".*\(512 tokens\): ms CPU/page \d+\.\d\d", timed[0])
