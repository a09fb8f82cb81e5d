"""The fingerprints a revisit compares: of a raw body (the same bytes: nothing to parse), and
of a page's content (its title, text and extracted data, so markup noise such as tokens or
timestamps in attributes is no change). Pure functions; also used to fill the hashes of pages
stored before they existed (the schema migration), so their form never changes."""

import hashlib
import json

from scraper.models import GONE_STATUSES, HTML_TYPES


def body_hash(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def content_hash(title: str | None, text: str | None, data_json: str | None) -> str:
    """The hash of what a page says; ``data_json`` is the page's extracted fields as JSON text,
    in any key order or spacing (PostgreSQL's jsonb rewrites both)."""
    data = "" if data_json is None else _canonical(data_json)
    joined = "\x1f".join((title or "", text or "", data))
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _canonical(data_json: str) -> str:
    try:
        value = json.loads(data_json)
    except ValueError:
        return data_json
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def page_content_hash(
    status: int,
    content_type: str,
    size_bytes: int,
    title: str | None,
    text: str | None,
    data_json: str | None,
    raw: str | None = None,
) -> str | None:
    """The content hash of a stored page: of its parsed content for an HTML page; of its
    body (``raw``, its hash) for another type, or of its type and size when the body was only
    counted; of its status when it is not a success; None for a page that is gone."""
    if status in GONE_STATUSES:
        return None
    if not 200 <= status < 300:
        return content_hash(f"status {status}", None, None)
    if content_type in HTML_TYPES:
        return content_hash(title, text, data_json)
    return raw or content_hash(f"{content_type} {size_bytes}", None, None)


# -- simhashes (scraper.parse.simhash computes them; storage and ``dupes`` compare them) -----
NEAR_BITS = 3  # the Hamming distance ``scraper dupes --near`` calls near
SIMHASH_BANDS = 4  # 16-bit slices: two hashes within NEAR_BITS bits share one (pigeonhole)


def signed_simhash(value: int) -> int:
    """An unsigned 64-bit value as the signed integer SQL stores (INTEGER, bigint)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def simhash_bands(value: int) -> tuple[int, ...]:
    """The four 16-bit slices of a 64-bit simhash (signed or not), lowest first."""
    return tuple((value >> (16 * i)) & 0xFFFF for i in range(SIMHASH_BANDS))


def simhash_distance(a: int, b: int) -> int:
    """Hamming distance of two 64-bit hashes (signed or not)."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
