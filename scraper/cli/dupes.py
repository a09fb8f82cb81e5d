"""``scraper dupes [--near]``: the crawl's clusters of duplicate pages
(:mod:`scraper.export.dupes`), as text on a terminal, else JSON lines (one cluster a line), JSON
or CSV (one page a row)."""

import asyncio
import csv
import json
import sys
from typing import Annotated

import typer

from scraper.cli.options import HELP_OPTIONS, Command, DbOpt
from scraper.cli.read import FormatOpt, chosen_format, db_address, quiet_broken_pipe
from scraper.digest import NEAR_BITS
from scraper.export.dupes import Cluster, find_dupes
from scraper.query import OutputFormat

app = typer.Typer(context_settings=HELP_OPTIONS, rich_markup_mode=None)
NearOpt = Annotated[
    bool,
    typer.Option(
        "--near",
        metavar="",
        help=f"Also pages whose main text is nearly the same: simhashes within {NEAR_BITS} "
        "bits of 64 (identical texts included).",
    ),
]


def _value(cluster: Cluster) -> dict[str, object]:
    pages = [{"url": url, "size_bytes": size} for url, size in cluster.pages]
    return {"kind": str(cluster.kind), "key": cluster.key, "pages": pages}


def _text(clusters: list[Cluster]) -> None:
    for cluster in clusters:
        print(f"{cluster.kind} ({len(cluster.pages)} pages): {cluster.key}")
        for url, size in cluster.pages:
            print(f"  {'?' if size is None else f'{size:,}':>12}  {url}")


def _write(clusters: list[Cluster], fmt: OutputFormat) -> None:
    if fmt == OutputFormat.TABLE:
        _text(clusters)
    elif fmt == OutputFormat.JSON:
        print(json.dumps([_value(c) for c in clusters], ensure_ascii=False, indent=1))
    elif fmt == OutputFormat.JSONL:
        for cluster in clusters:
            print(json.dumps(_value(cluster), ensure_ascii=False))
    else:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["kind", "key", "url", "size_bytes"])
        out.writerows([c.kind, c.key, url, size] for c in clusters for url, size in c.pages)


@app.command(cls=Command)
def dupes(db: DbOpt = None, near: NearOpt = False, fmt: FormatOpt = None) -> None:
    """Clusters of duplicate pages: the same content (exact), the same canonical URL
    (canonical), and with --near nearly the same main text (near)."""
    clusters = asyncio.run(find_dupes(db_address(db), near))
    if not clusters:
        typer.echo("no duplicate pages", err=True)
        return
    with quiet_broken_pipe():
        _write(clusters, chosen_format(fmt))
