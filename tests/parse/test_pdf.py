"""PDF bytes to a page: text per page, metadata, bounds, and unreadable documents."""

import time
from pathlib import Path

from scraper.models import ParseJob, ParseSpec
from scraper.parse.html import parse_document
from scraper.parse.pdf import UNREADABLE, parse_pdf
from scraper.testing.pdfgen import make_pdf
from scraper.testing.site import PDF_BYTES

ENCRYPTED = Path(__file__).parent.parent / "fixtures" / "encrypted.pdf"  # pypdf, RC4-128
LINE = "The quick brown fox jumps over the lazy dog, line {0} of a page of text in a report."


def test_page_cap_reads_only_the_first_pages():
    """Only ``max_pages`` pages are read; the metadata tells how many there are."""
    pdf = make_pdf([[f"page{i}"] for i in range(5)])
    page = parse_pdf(pdf, "http://h/x.pdf", max_pages=2)
    assert page.text == "page0 page1"
    assert page.metadata is not None
    assert page.metadata.document["pdf"] == {
        "title": None, "author": None, "pages": 5, "pages_read": 2,
    }  # fmt: skip


def test_encrypted_and_broken_pdfs_are_unreadable_not_errors():
    """A password-protected PDF and a PDF with no objects give the unreadable page."""
    assert parse_pdf(ENCRYPTED.read_bytes(), "http://h/e.pdf") == UNREADABLE
    assert parse_pdf(PDF_BYTES, "http://h/b.pdf") == UNREADABLE
    assert parse_pdf(b"%PDF-1.7\n" + bytes(range(256)) * 40, "http://h/g.pdf") == UNREADABLE


def test_markdown_escapes_what_would_read_as_syntax():
    """Lines that start like a heading or a list stay plain paragraphs in the Markdown."""
    pdf = make_pdf([["# not a heading"], [], ["- not an item"]])
    page = parse_pdf(pdf, "http://h/x.pdf", markdown=True, chunk_tokens=512)
    assert page.content is not None
    assert page.content.markdown == "\\# not a heading\n\n\\- not an item"
    assert page.text == "# not a heading - not an item"


def test_stored_pdf_without_content_type_is_routed_by_signature():
    """A stored body (no content type at hand, as in reparse) starting %PDF- is read as a PDF."""
    job = ParseJob(make_pdf([["Signed body"]], title="T"), "http://h/x.pdf", None)
    assert parse_document(job, ParseSpec()).title == "T"


def test_a_pdf_page_takes_well_under_50_ms():
    """Forty pages of fifty lines: the median of three runs is under 50 ms per page."""
    pdf = make_pdf([[LINE.format(j) for j in range(50)]] * 40)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        page = parse_pdf(pdf, "http://h/x.pdf", markdown=True, chunk_tokens=512)
        runs.append((time.perf_counter() - start) / 40)
    assert "line 49 of a page" in page.text
    assert sorted(runs)[1] < 0.050, runs


def test_soft_hyphens_at_line_ends_are_joined():
    """A word PDFium reports hyphenated across a line (U+0002) reads as one word; controls go."""
    page = parse_pdf(make_pdf([["man\x02", "agement of\x07 things"]]), "http://h/x.pdf")
    assert page.text == "management of things"
