"""``scraper reparse``: parse the bodies kept with ``--store-html`` again, fetching nothing."""

from dataclasses import dataclass

from scraper.config import Settings, settings_to_json
from scraper.crawl.records import run_in_pool
from scraper.crawl.workers import interrupted_by_signals
from scraper.parse import check_rules, parse_pool, pool_size, reparse_batch
from scraper.storage import open_crawl_store


@dataclass(frozen=True, slots=True)
class ReparseSummary:
    pages: int
    skipped: int
    settings_saved: bool = True  # False: pages without a body keep the stored rules the crawl's


async def reparse_bodies(settings: Settings, batch_size: int = 200) -> ReparseSummary:
    """Re-run parsing and extraction over the bodies stored with ``--store-html``.

    Fetches nothing. The settings (new [extract] rules included) become the crawl's own only when
    every stored HTML page has a body to apply them to: otherwise the stored rules stay those
    its pages were extracted with (``settings_saved`` False), so a later ``resume`` or
    ``recrawl`` does not extract with rules the stored pages never had. Takes the crawl lock:
    it is refused while a crawl runs on the database.
    """
    check_rules(settings.extract)
    hint = "the pages reparsed so far are kept; run it again to reparse them all"
    with interrupted_by_signals("reparse", hint):
        return await _reparse(settings, batch_size)


async def _reparse(settings: Settings, batch_size: int) -> ReparseSummary:
    """Reparse batch by batch; each batch is written in one transaction."""
    pages = 0
    async with open_crawl_store(settings.db) as store:
        skipped = await store.html_pages_without_body()
        if not skipped:
            await store.save_settings(settings_to_json(settings))
        with parse_pool(pool_size(settings.parse_workers, settings.markdown)) as pool:
            async for bodies in store.stored_bodies(batch_size):
                parsed = await run_in_pool(pool, reparse_batch, bodies, settings.parse_spec)
                await store.update_parsed(parsed)
                pages += len(parsed)
    return ReparseSummary(pages, skipped, settings_saved=not skipped)
