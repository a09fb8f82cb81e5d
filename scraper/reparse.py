"""``scraper reparse``: parse the bodies kept with ``--store-html`` again, fetching nothing."""

import asyncio
from dataclasses import dataclass
from pathlib import Path

from scraper.config import Settings, settings_to_json
from scraper.extract import check_rules
from scraper.orchestrator import parse_pool
from scraper.parse import reparse_batch
from scraper.store import Store


@dataclass(frozen=True, slots=True)
class ReparseSummary:
    pages: int
    skipped: int


async def reparse_bodies(settings: Settings, batch_size: int = 200) -> ReparseSummary:
    """Re-run parsing and extraction over the bodies stored with ``--store-html``.

    Fetches nothing; the settings (new [extract] rules included) become the crawl's own. Takes
    the crawl lock: it is refused while a crawl runs on the database.
    """
    check_rules(settings.extract)
    pages = 0
    async with Store(Path(settings.db)) as store:
        await store.save_settings(settings_to_json(settings))
        skipped = await store.html_pages_without_body()
        with parse_pool(settings.parse_workers) as pool:
            loop = asyncio.get_running_loop()
            async for bodies in store.stored_bodies(batch_size):
                args = (bodies, settings.extract, settings.max_links_per_page)
                if pool is None:
                    parsed = reparse_batch(*args)
                else:
                    parsed = await loop.run_in_executor(pool, reparse_batch, *args)
                await store.update_parsed(parsed)
                pages += len(parsed)
    return ReparseSummary(pages, skipped)
