"""PDF bytes to a :class:`ParsedPage`: the text of each page, the title and author of the
document's Info dictionary, its page count (in ``metadata`` under ``pdf``).

The only module that imports pypdfium2 (PDFium: 1.3 ms a page of text here, against 4.0 ms
for pypdf; see README "Dependencies, and why each"). It runs in the parse pool like HTML
(:func:`scraper.parse.html.parse_document` routes here by content type), bounded per document:
at most :data:`MAX_PAGES` pages and :data:`MAX_SECONDS` of reading, bodies over
:data:`MAX_BYTES` not opened. A broken or encrypted PDF gives :data:`UNREADABLE` (logged),
never an exception.
"""

import logging
import time

import pypdfium2 as pdfium

from scraper.models import Content, PageMetadata, ParsedPage
from scraper.parse.chunks import chunk_blocks
from scraper.parse.metadata import with_text
from scraper.parse.plain import collapse_whitespace

log = logging.getLogger(__name__)

PDF_TYPE = "application/pdf"
MAX_PAGES = 500
MAX_SECONDS = 20.0
MAX_BYTES = 64 * 1024 * 1024
# What a PDF that cannot be read gives: stored like any other binary (type and size), no text.
UNREADABLE = ParsedPage(None, None, "", ())


def is_pdf(content_type: str | None, body: bytes) -> bool:
    """Is this body a PDF: by its type, or (a stored body, whose type is not at hand) by its
    ``%PDF-`` signature."""
    if content_type is not None:
        return content_type == PDF_TYPE
    return body[:1024].lstrip().startswith(b"%PDF-")


def _page_texts(doc: pdfium.PdfDocument, max_pages: int) -> list[str]:
    texts: list[str] = []
    deadline = time.monotonic() + MAX_SECONDS
    for i in range(min(len(doc), max_pages)):
        if time.monotonic() > deadline:
            break
        page = doc[i]
        textpage = page.get_textpage()
        try:
            texts.append(textpage.get_text_bounded())
        finally:
            textpage.close()
            page.close()
    return texts


# PDFium writes a soft hyphen that ends a line as U+0002: the word is joined again. Other C0
# controls (and U+0002 elsewhere) are dropped: they are no text, and the Markdown writer's marks.
_CONTROLS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")


def _paragraphs(text: str) -> list[str]:
    """A page's text as Markdown paragraphs: blank-line separated runs, whitespace collapsed."""
    text = text.replace("\x02\r\n", "").translate(_CONTROLS)
    runs = text.replace("\r\n", "\n").replace("\r", "\n").split("\n\n")
    return [p for p in (collapse_whitespace(run) for run in runs) if p]


def parse_pdf(
    body: bytes,
    url: str,
    *,
    markdown: bool = False,
    chunk_tokens: int | None = None,
    max_pages: int = MAX_PAGES,
) -> ParsedPage:
    """The text of the PDF ``body`` (from ``url``) with its title, author and page count;
    :data:`UNREADABLE` when it cannot be opened (broken, encrypted, over :data:`MAX_BYTES`).
    With ``markdown``, ``content`` has a paragraph per text block of each page, in order; only
    the first ``max_pages`` pages are read (``pages_read`` in the metadata)."""
    if len(body) > MAX_BYTES:
        log.warning("%s: a PDF of %d bytes, over %d: not read", url, len(body), MAX_BYTES)
        return UNREADABLE
    try:
        doc = pdfium.PdfDocument(body)
    except pdfium.PdfiumError as exc:
        log.warning("%s: unreadable PDF (%s)", url, exc)
        return UNREADABLE
    try:
        info = doc.get_metadata_dict(skip_empty=True)
        pages = len(doc)
        texts = _page_texts(doc, max_pages)
    except pdfium.PdfiumError as exc:
        log.warning("%s: unreadable PDF (%s)", url, exc)
        return UNREADABLE
    finally:
        doc.close()
    blocks = [p for text in texts for p in _paragraphs(text)]
    text = " ".join(blocks)
    title, author = info.get("Title") or None, info.get("Author") or None
    document: dict[str, object] = {"pdf": {"title": title, "author": author, "pages": pages,
                                           "pages_read": len(texts)}}  # fmt: skip
    meta = with_text(PageMetadata(document, author=author), text)
    content = None
    if markdown:
        chunks = chunk_blocks(blocks, chunk_tokens) if chunk_tokens else ()
        content = Content("\n\n".join(_escaped(b) for b in blocks), chunks)
    return ParsedPage(title, info.get("Subject") or None, text, (), None, content, meta)


def _escaped(paragraph: str) -> str:
    """A paragraph Markdown reads as text: a leading ``#``, ``>``, list or number mark escaped."""
    if paragraph[:1] in "#>-+*" or paragraph.split(".", 1)[0].isdigit():
        return "\\" + paragraph
    return paragraph
