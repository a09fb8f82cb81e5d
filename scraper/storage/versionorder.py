"""Versions ordered by fetch time (schema 13, issue 30): a URL's latest version is the one
fetched last (ties: the highest id), not the one written last, so an older capture imported
after a newer one does not invert the history. The views ``pages_markdown`` and
``pages_metadata`` are made again over that order on both backends."""

VERSION_ORDER_SCHEMA = 13  # the version of both backends' schemas that reorders the views


def latest_version(url: str) -> str:
    """An SQL expression: the id of the version of ``url`` (an SQL expression) fetched last."""
    return (
        f"(SELECT v.id FROM versions AS v WHERE v.url = {url} "
        "ORDER BY v.fetched_at DESC, v.id DESC LIMIT 1)"
    )


def reordered_views(views: str) -> str:
    """The migration from 12: the two views dropped and made again (``views``: their CREATE
    statements, :data:`~scraper.storage.contents.MARKDOWN_VIEW` and
    :data:`~scraper.storage.metadata.METADATA_VIEW`)."""
    return "DROP VIEW IF EXISTS pages_markdown; DROP VIEW IF EXISTS pages_metadata;" + views
