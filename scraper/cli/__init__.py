"""The command line (typer): ``app`` (crawl, resume, reparse, bench), ``read`` (query, search,
export, stats, status) and ``options`` (the crawl options, declared once). The only place that
prints or exits: every user-facing failure becomes one ``error:`` line and an exit code."""
