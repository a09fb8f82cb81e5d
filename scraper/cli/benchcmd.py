"""``scraper bench``: the command's options; the benchmarks themselves are ``scraper.bench``'s,
imported when run (the product never imports them otherwise)."""

import functools
from pathlib import Path
from typing import Annotated

import typer

from scraper.cli.options import checked_db


def bench(
    pages: Annotated[
        int, typer.Option("--pages", metavar="N", min=1, help="Pages of the generated site.")
    ] = 2000,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", metavar="N", min=1, help="Requests in flight, crawl and raw."
        ),
    ] = 32,
    scrapy: Annotated[
        str | None,
        typer.Option(
            "--scrapy",
            metavar="PYTHON",
            help="Also crawl the site with Scrapy, "
            "run by this interpreter (one that can import scrapy).",
        ),
    ] = None,
    frontier_urls: Annotated[
        int | None,
        typer.Option(
            "--frontier-urls",
            metavar="N",
            min=2,
            help="Instead: peak RSS of two crawls of --pages "
            "pages, their frontiers ending at --pages URLs and at this many.",
        ),
    ] = None,
    hosts: Annotated[
        int | None,
        typer.Option(
            "--hosts",
            metavar="N",
            min=1,
            max=99_999,
            help="Instead: a polite crawl of this many local hosts, "
            "timed against (--pages-per-host - 1) x --delay, with the gaps the site saw.",
        ),
    ] = None,
    pages_per_host: Annotated[
        int,
        typer.Option(
            "--pages-per-host", metavar="N", min=1, help="With --hosts: pages of each host."
        ),
    ] = 10,
    delay: Annotated[
        float,
        typer.Option(
            "--delay", metavar="S", min=0, help="With --hosts: seconds between a host's requests."
        ),
    ] = 1.0,
    per_host: Annotated[
        int,
        typer.Option(
            "--per-host", metavar="N", min=1, help="With --hosts: requests in flight per host."
        ),
    ] = 1,
    recrawl: Annotated[
        bool,
        typer.Option(
            "--recrawl",
            help="Instead: crawl the generated site of --pages pages, then recrawl it three"
            " times (nothing changed with 304s; nothing changed without validators; 10 %"
            " changed); pages/s of each against the first crawl's, and the database's growth.",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            max=64,
            help="Instead: a latency-bound site of --hosts hosts (default 200) crawled by 1 worker"
            " on SQLite, then 1, 2, 4 ... this many on a private PostgreSQL, --concurrency each.",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="With --workers: run on this PostgreSQL server instead of a private one, in a"
            " new database <the URL's database>_bench<N> per run (dropped after it).",
            callback=checked_db,
        ),
    ] = None,
    kill: Annotated[
        bool,
        typer.Option(
            "--kill",
            help="With --workers (at least 2): instead, kill -9 one worker (the last to join,"
            " then in a second crawl the creator) after a third of the pages; polite hosts"
            " (0.2 s delay), 5 s leases. Pages lost, stored twice, re-fetched, takeover time.",
        ),
    ] = False,
    extraction: Annotated[
        bool,
        typer.Option(
            "--extraction",
            help="Instead: main-content extraction scored on trafilatura's evaluation corpus"
            " (F1, precision, recall, empty outputs, median ms CPU per page).",
        ),
    ] = False,
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            metavar="PATH",
            help="With --extraction: the corpus directory"
            " (default: ../shared/corpora/extraction-tfeval from the repository).",
        ),
    ] = None,
    parse_workers: Annotated[
        int | None,
        typer.Option(
            "--parse-workers",
            metavar="N",
            min=0,
            help="Parse processes of the crawl (default: auto, as [parse] parse_workers).",
        ),
    ] = None,
    import_warc: Annotated[
        bool,
        typer.Option(
            "--import",
            help="Instead: `scraper import` of a WARC of the generated site's --pages pages"
            " (written with warcio): pages/s and CPU, and the reader's share.",
        ),
    ] = False,
    render: Annotated[
        bool,
        typer.Option(
            "--render",
            help="Instead: crawl a site of --pages pages built by JavaScript, rendering each in"
            " the headless browser (--tabs); rendered pages/s, CPU and memory per page.",
        ),
    ] = False,
    tabs: Annotated[
        int, typer.Option("--tabs", metavar="N", min=1, help="With --render: browser tabs.")
    ] = 4,
    content: Annotated[
        bool,
        typer.Option(
            "--content/--no-content",
            help="Main content, Markdown and chunks on or off ([parse] markdown, chunks).",
        ),
    ] = True,
    metadata: Annotated[
        bool,
        typer.Option(
            "--metadata/--no-metadata",
            help="Page metadata and simhash on or off ([parse] metadata).",
        ),
    ] = True,
    store_html: Annotated[
        bool, typer.Option("--store-html", help="The crawl keeps raw bodies (--store-html).")
    ] = False,
    archive: Annotated[
        bool, typer.Option("--archive", help="The crawl keeps captures for WARC (--archive).")
    ] = False,
) -> None:
    """Crawl a generated local site and fetch its URLs raw; print pages/s, CPU and memory."""
    note = functools.partial(typer.echo, err=True)
    if extraction:
        lines = _extraction_lines(corpus)
    elif import_warc:
        from scraper.bench.importing import report_lines as import_report
        from scraper.bench.importing import run_import_bench

        lines = import_report(run_import_bench(pages, parse_workers, content, note))
    elif render:
        from scraper.bench.render import report_lines as render_report
        from scraper.bench.render import run_render_bench

        lines = render_report(run_render_bench(pages, tabs, note))
    elif recrawl:
        from scraper.bench.recrawl import report_lines as recrawl_report
        from scraper.bench.recrawl import run_recrawl_bench

        site, rounds = run_recrawl_bench(pages, concurrency, note)
        lines = recrawl_report(site, concurrency, rounds)
    elif workers is not None and kill:
        from scraper.bench.kill import kill_spec, run_kill_bench
        from scraper.bench.kill import report_lines as kill_report

        killing = kill_spec(workers, hosts or 200, pages_per_host, concurrency, db)
        lines = kill_report(killing, run_kill_bench(killing, note))
    elif workers is not None:
        from scraper.bench.workers import WorkersSpec, run_workers_bench
        from scraper.bench.workers import report_lines as workers_report

        shared = WorkersSpec(workers, hosts or 200, pages_per_host, concurrency=concurrency, db=db)
        lines = workers_report(shared, run_workers_bench(shared, note))
    elif hosts is not None:
        from scraper.bench.wide import WideSpec, run_wide_bench
        from scraper.bench.wide import report_lines as wide_report

        spec = WideSpec(hosts, pages_per_host, delay, concurrency, per_host)
        lines = wide_report(run_wide_bench(spec, note, scrapy_python=scrapy))
    elif frontier_urls is not None:
        from scraper.bench.frontier import report_lines as frontier_report
        from scraper.bench.frontier import run_frontier_bench

        lines = frontier_report(run_frontier_bench(pages, pages, frontier_urls, note))
    else:
        from scraper.bench.throughput import report_lines, run_bench

        run = run_bench(
            pages, concurrency, note, scrapy, parse_workers=parse_workers, content=content,
            keep=(store_html, archive), metadata=metadata,
        )  # fmt: skip
        lines = report_lines(run)
    for line in lines:
        typer.echo(line)


def _extraction_lines(corpus: Path | None) -> list[str]:
    from scraper.bench.extraction import DEFAULT_CORPUS, report_lines

    where = corpus or DEFAULT_CORPUS
    if not (where / "ground-truth.json").is_file():
        typer.echo(f"error: no extraction corpus at {where} (ground-truth.json missing)", err=True)
        raise typer.Exit(2)
    try:
        return report_lines(where)
    except (OSError, ValueError, KeyError) as error:
        typer.echo(f"error: extraction corpus {where} unreadable: {error}", err=True)
        raise typer.Exit(1) from None
