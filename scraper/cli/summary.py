"""What a crawl's commands print: the live progress line and the summary at the end of a run
(its totals from the store, this run's revisits and rate, hints on how to go on)."""

from scraper.crawl import NETWORK_REASONS, CrawlStats, CrawlSummary, resume_command

MOST_REASONS = 3  # failure reasons named in the summary; the rest are counted as "others"


def progress_detail(stats: CrawlStats) -> str:
    """Under the bar: what this run did (revisits of a recrawl; this worker's pages on a shared
    crawl), its failures, what is in flight, and its rate (pages fetched and written)."""
    f, sink = stats.frontier, stats.sink
    done = []
    if stats.revisits is not None:
        done.append(
            f"{stats.checked}/{stats.revisits} checked ({sink.unchanged_written} unchanged, "
            f"{sink.changed_written} changed) · {f.new_pages} new"
        )
    elif stats.crawl_pages is not None:
        done.append(f"{f.new_pages} stored by this worker")
    return " · ".join([
        *done,
        f"{f.failed} failed · {f.blocked} blocked · {stats.in_flight} in flight · "
        f"{f.buffered} queued · {stats.retried} retries · {stats.rate:.1f} pages/s",
    ])  # fmt: skip


def progress_notes(stats: CrawlStats) -> list[str]:
    """The live display's lines under the bar: busiest hosts, then the latest failures."""
    notes = [
        f"  {host}: {queued} queued, {in_flight} in flight, delay {delay:.2f}s"
        for host, queued, in_flight, delay in stats.busiest
    ]
    notes += [f"  ! {reason}: {url}" for url, reason in stats.frontier.recent_failures]
    return notes


def failure_reasons(failures: tuple[tuple[str, int], ...]) -> str:
    """`` (dns_error 3, timeout 2, others 4)``: the most frequent reasons first, or ``""``."""
    named = [f"{reason} {count}" for reason, count in failures[:MOST_REASONS]]
    others = sum(count for _reason, count in failures[MOST_REASONS:])
    return f" ({', '.join(named + ([f'others {others}'] if others else []))})" if named else ""


def summary_line(summary: CrawlSummary) -> str:
    """The crawl's totals (from the store), this run's time and rate (pages it fetched and
    wrote, revisits included); on a shared crawl, what this worker did comes first."""
    pending = "?" if summary.pending is None else summary.pending
    earlier = summary.earlier
    when = "when this worker started" if summary.shared else "before this run"
    stored = f"{summary.pages} pages stored" + (f" ({earlier} {when})" if earlier else "")
    failed = f"{summary.failed} failed{failure_reasons(summary.failures)}"
    timing = f"{summary.elapsed_s:.1f}s ({summary.rate:.1f} pages/s)"
    totals = f"{stored}, {failed}, {summary.blocked} blocked, {pending} pending"
    if not summary.shared:
        return f"{totals}, {timing} -> {summary.db}"
    return (
        f"this worker: {summary.new_pages} pages stored, {summary.run_failed} failed, "
        f"{summary.run_blocked} blocked, {timing}; the crawl: {totals} -> {summary.db}"
    )


def limit_note(summary: CrawlSummary) -> str | None:
    """How to go on when the page limit stopped the crawl with URLs pending (else None)."""
    if not (summary.max_pages and summary.pages >= summary.max_pages and summary.pending):
        return None
    more = summary.pages + summary.max_pages
    return (
        f"the page limit is reached ({summary.pages} pages stored, --max-pages "
        f"{summary.max_pages}) and {summary.pending} URLs are pending; to go on, run: "
        f"{resume_command(summary.db)} --max-pages {more} (0: no limit)"
    )


def progress_plain(stats: CrawlStats) -> str:
    """The progress line written every PROGRESS_EVERY_S without a terminal."""
    line = f"{stats.pages} pages · {progress_detail(stats)}"
    if stats.frontier.recent_failures:
        url, reason = stats.frontier.recent_failures[-1]
        line += f" · last failure: {reason} {url}"
    return line


def revisit_line(summary: CrawlSummary) -> str:
    """What a recrawl did: its revisits (unchanged, changed, removed) and the new pages."""
    changed = summary.changed - summary.removed
    new = f"{summary.new_pages} new page{'' if summary.new_pages == 1 else 's'}"
    return (
        f"recrawl: {summary.checked} of {summary.revisits} scheduled pages checked "
        f"({summary.unchanged} unchanged, {changed} changed, {summary.removed} removed), {new}"
    )


def no_pending(summary: CrawlSummary) -> str:
    """Why there is nothing to do; with failed URLs, how to try them again."""
    line = f"{summary.db} has no pending URL ({summary.pages} pages)"
    if summary.failed:
        line += (
            f"; {summary.failed} URLs failed{failure_reasons(summary.failures)}: to try them "
            f"again, run: {resume_command(summary.db)} --retry-failed"
        )
    return line


def network_hint(summary: CrawlSummary) -> str | None:
    """When this run stored nothing and every failed URL failed for a network reason (no
    answer at all): a hint that the network, not the sites, is down; else None."""
    reasons = {reason for reason, _count in summary.failures}
    if summary.visited or not reasons or not reasons <= NETWORK_REASONS:
        return None
    dns = " Does DNS resolve here?" if "dns_error" in reasons else ""
    return (
        f"hint: every URL failed for a network reason{failure_reasons(summary.failures)}: is "
        f"this machine online?{dns} Once it is, run: {resume_command(summary.db)} --retry-failed"
    )


def reparse_line(pages: int, skipped: int) -> str:
    """What reparse did; pages without a stored body name the flag that keeps bodies, and that
    the crawl's stored settings were kept for them."""
    if not skipped:
        return f"reparsed {pages} pages"
    kept = (
        "; the crawl's stored settings and [extract] rules are unchanged, since those pages "
        "keep the fields of the rules they were crawled with"
    )
    if not pages:
        return (
            f"reparsed 0 pages: {skipped} pages have no stored body "
            f"(crawl with --store-html to keep bodies){kept}"
        )
    return (
        f"reparsed {pages} pages with the new rules; {skipped} pages have no stored body "
        f"(crawled without --store-html){kept}"
    )
