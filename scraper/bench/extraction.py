"""``scraper bench --extraction``: main-content extraction scored on trafilatura's evaluation
corpus (``../shared/corpora/extraction-tfeval``, its README gives the method).

Each page is decoded and parsed as the crawler does (``scraper.parse.html.html_tree``), then
:func:`scraper.parse.content.main_content` runs on it, timed alone in CPU time. The Markdown is
scored with its syntax removed (:func:`scraper.parse.plain.markdown_text`); ``text`` is scored
too. A "with" snippet found in the output (whitespace collapsed, case-sensitive) is a true
positive, missed a false negative; a "without" snippet found is a false positive.
"""

import gzip
import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import scraper
from scraper.parse.chunks import chunk_blocks
from scraper.parse.content import main_content
from scraper.parse.html import decode_html, html_tree
from scraper.parse.plain import markdown_text

DEFAULT_CORPUS = Path(scraper.__file__).parents[1].parent / "shared/corpora/extraction-tfeval"


@dataclass(slots=True)
class Score:
    """Counts summed over the corpus, and each page's CPU milliseconds."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    empty: int = 0
    ms: list[float] = field(default_factory=list)

    def add(self, output: str, keep: Iterable[str], drop: Iterable[str]) -> None:
        text = " ".join(output.split())
        if not text:
            self.empty += 1
        for snippet in keep:
            if " ".join(snippet.split()) in text:
                self.tp += 1
            else:
                self.fn += 1
        self.fp += sum(" ".join(snippet.split()) in text for snippet in drop)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        wrong = self.fp + self.fn
        return 2 * self.tp / (2 * self.tp + wrong) if self.tp + wrong else 0.0

    def line(self, name: str) -> str:
        ms = f"{statistics.median(self.ms):.2f}" if self.ms else "-"
        return (
            f"{name:<28} F1 {self.f1:.3f}  precision {self.precision:.3f}  recall "
            f"{self.recall:.3f}  empty {self.empty}  ms CPU/page {ms}"
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One corpus page: its URL, raw bytes, and the snippets to keep and to drop."""

    url: str
    body: bytes
    keep: tuple[str, ...]
    drop: tuple[str, ...]


def load_corpus(corpus: Path, limit: int | None = None) -> list[Page]:
    """The corpus's pages (the first ``limit`` in id order); raises OSError/ValueError."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth)[:limit]:
        entry = truth[key]
        body = gzip.decompress((corpus / "html" / f"{key}.html.gz").read_bytes())
        pages.append(Page(entry["url"], body, tuple(entry["with"]), tuple(entry["without"])))
    return pages


def score_pages(pages: list[Page]) -> tuple[Score, Score]:
    """main_content's Markdown (syntax removed) and its ``text``, scored over ``pages``."""
    markdown, text = Score(), Score()
    for page in pages:
        tree = html_tree(page.body, None)
        start = time.process_time()
        content = main_content(tree, page.url)
        markdown.ms.append((time.process_time() - start) * 1000)
        text.ms.append(markdown.ms[-1])
        markdown.add(markdown_text(content.markdown), page.keep, page.drop)
        text.add(content.text, page.keep, page.drop)
    return markdown, text


def time_with_chunks(pages: list[Page], chunk_tokens: int = 512) -> list[float]:
    """Each page's CPU milliseconds for main content, Markdown and chunks: what a crawl with the
    default ``[parse]`` settings spends on a page beyond its links and text."""
    ms = []
    for page in pages:
        tree = html_tree(page.body, None)
        start = time.process_time()
        chunk_blocks(main_content(tree, page.url).blocks, chunk_tokens)
        ms.append((time.process_time() - start) * 1000)
    return ms


def _trafilatura() -> Callable[[str, str], str | None] | None:
    try:
        import trafilatura  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # not a dependency; its own dependencies may be missing too
        return None

    def extract(html: str, url: str) -> str | None:
        result = trafilatura.extract(html, url=url)
        return result if isinstance(result, str) else None

    return extract


def score_trafilatura(pages: list[Page]) -> Score | None:
    """trafilatura's default extraction scored the same way (None: not importable)."""
    extract = _trafilatura()
    if extract is None:
        return None
    score = Score()
    for page in pages:
        html = decode_html(page.body, None)
        start = time.process_time()
        output = extract(html, page.url) or ""
        score.ms.append((time.process_time() - start) * 1000)
        score.add(output, page.keep, page.drop)
    return score


def report_lines(corpus: Path, limit: int | None = None) -> list[str]:
    """The bench's report: one line per extractor (raises OSError/ValueError on a bad corpus)."""
    pages = load_corpus(corpus, limit)
    markdown, text = score_pages(pages)
    with_chunks = statistics.median(time_with_chunks(pages)) if pages else 0.0
    lines = [
        f"{len(pages)} pages of {corpus}",
        markdown.line("main_content (Markdown)"),
        text.line("main_content (text)"),
        f"main content + Markdown + chunks (512 tokens): ms CPU/page {with_chunks:.2f}",
    ]
    theirs = score_trafilatura(pages)
    lines.append(
        theirs.line("trafilatura (default)") if theirs else "trafilatura: not importable, skipped"
    )
    return lines
