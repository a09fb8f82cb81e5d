"""``python -m scraper`` and the ``scraper`` console script.

The CLI is imported inside :func:`run`, not at the top: a parse process (multiprocessing's
spawn) imports the console script's module again, and this way it does not load the CLI and
everything behind it (aiohttp, aiosqlite, typer, rich: about 25 MB more per parse process).
"""


def run() -> None:
    from scraper.cli.app import main  # late, on purpose: see the module docstring

    main()


if __name__ == "__main__":
    run()
