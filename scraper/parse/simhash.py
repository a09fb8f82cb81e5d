"""A 64-bit simhash of a text (Charikar): each distinct lower-cased word is hashed (blake2b, 8
bytes), weighted by its count, and bit ``i`` of the result is set when most of the weight has it.
Texts that differ in a few words differ in a few bits; :data:`NEAR_BITS` is the Hamming distance
``scraper dupes --near`` calls near, and :func:`bands` the four 16-bit slices it indexes (two
hashes within 3 bits agree on at least one band: pigeonhole)."""

import hashlib
import re
from collections import Counter

NEAR_BITS = 3
BANDS = 4
_WORD = re.compile(r"\w+")
_MEMO: dict[str, bytes] = {}  # word -> its 8-byte hash, bounded: pure function, per process
_MEMO_MAX = 200_000
# _BIT[k][x] is 1 when bit k of byte x is set: bytes.translate + count does one bit of all hashes.
_BIT = [bytes((x >> k) & 1 for x in range(256)) for k in range(8)]


def _hash(word: str) -> bytes:
    digest = _MEMO.get(word)
    if digest is None:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        if len(_MEMO) < _MEMO_MAX:
            _MEMO[word] = digest
    return digest


def simhash(text: str) -> int:
    """The text's simhash as an unsigned 64-bit int (0 for a text without words)."""
    counts = Counter(_WORD.findall(text.lower()))
    if not counts:
        return 0
    memo = _MEMO
    packed = b"".join((memo.get(w) or _hash(w)) * n for w, n in counts.items())
    half = len(packed) / 16
    value = 0
    for j in range(8):
        column = packed[j::8]
        for k in range(8):
            if column.translate(_BIT[k]).count(1) > half:
                value |= 1 << (j * 8 + k)
    return value


def signed(value: int) -> int:
    """An unsigned 64-bit value as the signed integer SQL stores (INTEGER, bigint)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def bands(value: int) -> tuple[int, ...]:
    """The four 16-bit slices of a 64-bit simhash, lowest first."""
    return tuple((value >> (16 * i)) & 0xFFFF for i in range(BANDS))


def distance(a: int, b: int) -> int:
    """Hamming distance of two 64-bit hashes (signed or not)."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
