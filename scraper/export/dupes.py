"""``scraper dupes``: clusters of pages that are the same page, read from a crawl database.

- **exact**: successful pages whose content hash is the same (title, text and extracted data);
- **canonical**: pages that name the same canonical URL (``<link rel=canonical>``) other than
  their own, with that URL (its size null when it was not crawled);
- **near** (``--near``): pages whose main-text simhashes are within
  :data:`~scraper.digest.NEAR_BITS` bits, found through the four 16-bit bands (two such hashes
  share a band, so only pages in the same band bucket are compared, never every pair).

Each cluster lists its URLs with their sizes (bytes of the body as fetched), largest cluster
first. Reads go through the read store, so both backends answer the same.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from scraper.digest import NEAR_BITS, SIMHASH_BANDS, simhash_distance
from scraper.storage import open_read_store
from scraper.storage.reading import CrawlReader, Row

_OK = "p.status BETWEEN 200 AND 299"
EXACT = f"""
SELECT p.content_hash, p.url, p.size_bytes FROM pages AS p
WHERE {_OK} AND p.content_hash IN (
    SELECT content_hash FROM pages AS p WHERE {_OK} AND content_hash IS NOT NULL
    GROUP BY content_hash HAVING count(*) > 1)
ORDER BY 1, 2
"""
CANONICAL = f"""
SELECT m.canonical_url, m.url, p.size_bytes FROM pages_metadata AS m
JOIN pages AS p ON p.url = m.url
WHERE {_OK} AND m.canonical_url IS NOT NULL ORDER BY 1, 2
"""
TARGETS = f"""
SELECT p.url, p.size_bytes FROM pages AS p
WHERE {_OK} AND p.url IN (SELECT canonical_url FROM pages_metadata)
"""
NEAR = f"""
SELECT m.simhash, m.url, p.size_bytes FROM pages_metadata AS m
JOIN pages AS p ON p.url = m.url WHERE {_OK} AND m.simhash <> 0
"""


class DupeKind(StrEnum):
    EXACT = "exact"
    CANONICAL = "canonical"
    NEAR = "near"


@dataclass(frozen=True, slots=True)
class Cluster:
    """Pages that are the same page: ``key`` is the content hash, the canonical URL, or the
    simhash (16 hex digits) of the cluster's first page; ``pages`` are (url, size), by URL."""

    kind: DupeKind
    key: str
    pages: tuple[tuple[str, int | None], ...]


async def _all(reader: CrawlReader, sql: str) -> list[Row]:
    found: list[Row] = []
    async with reader.rows(sql) as rows:
        while chunk := await rows.fetch():
            found.extend(chunk)
    return found


def _size(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _grouped(kind: DupeKind, rows: Iterable[Row]) -> list[Cluster]:
    groups: dict[str, dict[str, int | None]] = defaultdict(dict)
    for key, url, size in rows:
        groups[str(key)][str(url)] = _size(size)
    return [
        Cluster(kind, key, tuple(sorted(pages.items())))
        for key, pages in groups.items()
        if len(pages) > 1
    ]


def _canonical(rows: list[Row], sizes: dict[str, int | None]) -> list[Cluster]:
    """Pages by the canonical URL they name, with that URL (its size None when it was not
    crawled); a page naming itself alone is no cluster."""
    targets = {str(c) for c, url, _ in rows if c != url}
    with_target = [*rows, *((c, c, sizes.get(c)) for c in targets)]
    clusters = _grouped(DupeKind.CANONICAL, (r for r in with_target if str(r[0]) in targets))
    return clusters


class _Union:
    """Union-find over simhash values."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        self.parent[x] = root
        return root

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def near_groups(hashes: Iterable[int], bits: int = NEAR_BITS) -> dict[int, list[int]]:
    """The distinct ``hashes`` in groups joined by pairs within ``bits`` bits (transitively),
    comparing only hashes that share a 16-bit band; groups of one left out."""
    distinct = list(set(hashes))
    union = _Union()
    for band in range(SIMHASH_BANDS):
        buckets: dict[int, list[int]] = defaultdict(list)
        for h in distinct:
            buckets[(h >> (16 * band)) & 0xFFFF].append(h)
        for bucket in buckets.values():
            for i, a in enumerate(bucket):
                for b in bucket[i + 1 :]:
                    if simhash_distance(a, b) <= bits:
                        union.join(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for h in distinct:
        groups[union.find(h)].append(h)
    return {root: members for root, members in groups.items() if len(members) > 1}


def _near(rows: list[Row]) -> list[Cluster]:
    """Pages whose simhashes are near (identical ones included: a cluster of the same text)."""
    by_hash: dict[int, dict[str, int | None]] = defaultdict(dict)
    for value, url, size in rows:
        if isinstance(value, int):
            by_hash[value][str(url)] = _size(size)
    groups = near_groups(by_hash)
    grouped = {h for members in groups.values() for h in members}
    clusters = list(groups.values())
    clusters += [[h] for h, pages in by_hash.items() if len(pages) > 1 and h not in grouped]
    return [
        Cluster(
            DupeKind.NEAR,
            f"{min(members) & ((1 << 64) - 1):016x}",
            tuple(sorted(p for h in members for p in by_hash[h].items())),
        )
        for members in clusters
    ]


async def find_dupes(db: str | Path, near: bool) -> list[Cluster]:
    """The crawl's clusters: exact and canonical, and near ones with ``near``; the biggest
    first, then by kind and key."""
    async with open_read_store(db) as reader:
        clusters = _grouped(DupeKind.EXACT, await _all(reader, EXACT))
        sizes = {str(url): _size(size) for url, size in await _all(reader, TARGETS)}
        clusters += _canonical(await _all(reader, CANONICAL), sizes)
        if near:
            clusters += _near(await _all(reader, NEAR))
    return sorted(clusters, key=lambda c: (-len(c.pages), c.kind, c.key))
