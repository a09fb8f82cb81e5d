"""A 64-bit simhash (Charikar) of a text's word 3-grams: the words (split on whitespace, case
kept) are sampled by content, one distinct word in four (those whose hash starts with a byte
under 64: the same words on every page, so an inserted line shifts nothing), every three
consecutive sampled words are a 64-bit feature, weighted by how often it occurs, and bit ``i`` of
the result is set when more than half of the features have it. Texts that differ in a few words
differ in a few bits (bit ``i`` differs with probability angle/pi of the two feature vectors);
:data:`NEAR_BITS` is the Hamming distance ``scraper dupes --near`` calls near, and
:func:`~scraper.digest.simhash_bands` the four 16-bit slices it indexes (two hashes within 3 bits
agree on at least one band: pigeonhole).

Cheap by construction (~0.1 ms for 1,000 words on an idle core of this machine): each distinct
word is hashed once per process (blake2b, 8 bytes, memoized); a feature is
``h(w0) ^ T(h(w1)) ^ (h(w2) shifted one byte)``, computed for all features at once as big-integer
operations on the packed word hashes (``T``: a fixed byte permutation, so the feature depends on
word order); the bit counts are an ``&`` with a mask and ``int.bit_count`` per bit over each
byte column of the packed features (4x ``bytes.translate`` + ``count``).
No Python step per word or feature. Only the first :data:`MAX_WORDS` words count; a text with
fewer than three sampled words has all its words as features.
"""

import hashlib
import random

from scraper.digest import NEAR_BITS, SIMHASH_BANDS, simhash_bands, simhash_distance

__all__ = ["NEAR_BITS", "SIMHASH_BANDS", "distance", "simhash", "simhash_bands"]
distance = simhash_distance

MAX_WORDS = 5000
_LANE = 8  # bytes per feature
_MEMO_MAX = 200_000
_SAMPLED_BELOW = 64  # a word whose hash's first byte is under this is sampled: 1 in 4
# A fixed permutation of byte values (seeded: the same in every process and release).
_ORDER = list(range(256))
random.Random(29).shuffle(_ORDER)
_PERMUTED = bytes(_ORDER)
# _MASKS[k] has bit k of each of MAX_LANES bytes set: (column & mask).bit_count() counts the
# features with that bit, a column being byte j of every feature as one integer.
_MAX_LANES = 8192
_MASKS = [int.from_bytes(bytes([1 << k]) * _MAX_LANES, "little") for k in range(8)]


def _digest(word: str) -> bytes:
    return hashlib.blake2b(word.encode("utf-8", "replace"), digest_size=8).digest()


class _Memo(dict[str, bytes]):
    """word -> its 8-byte hash if the word is sampled, else b""; a bounded cache of a pure
    function, per process."""

    def __missing__(self, word: str) -> bytes:
        digest = _digest(word)
        if digest[0] >= _SAMPLED_BELOW:
            digest = b""
        if len(self) < _MEMO_MAX:
            self[word] = digest
        return digest


_MEMO = _Memo()


def _features(words: list[str]) -> bytes:
    """The packed 8-byte features of the text's 3-gram shingles (one per word for 1-2 words)."""
    packed = b"".join(map(_MEMO.__getitem__, words))
    if len(packed) < 3 * _LANE:  # a short text: every word counts, sampled or not
        packed = b"".join(map(_digest, words))
    if len(packed) < 3 * _LANE:
        return packed
    first = int.from_bytes(packed, "little")
    second = int.from_bytes(packed.translate(_PERMUTED), "little") >> (8 * _LANE)
    third = first >> (8 * (2 * _LANE + 1))
    mixed = first ^ second ^ third
    return mixed.to_bytes(len(packed), "little")[: len(packed) - 2 * _LANE]


def simhash(text: str) -> int:
    """The text's simhash as an unsigned 64-bit int (0 for a text without words)."""
    words = text.split()
    del words[MAX_WORDS:]
    if not words:
        return 0
    packed = _features(words)[: _MAX_LANES * _LANE]
    half = len(packed) / (2 * _LANE)
    value = 0
    for j in range(_LANE):
        column = int.from_bytes(packed[j::_LANE], "little")
        for k, mask in enumerate(_MASKS):
            if (column & mask).bit_count() > half:
                value |= 1 << (j * 8 + k)
    return value
