"""A tiny offline language guess from a text's most common function words, for pages that
declare no language: about 20 stop words for each of 16 languages written in Latin script, plus
script ranges for Cyrillic, Greek, Arabic, Hebrew, CJK, Thai. Cheap: one pass over at most the
first 2,000 characters (300 words), and only for pages that declare no language; None when
nothing is clear."""

import re

_WORDS = {
    "en": "the of and to in is that for it with as was on be by this are from or at",
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch",
    "fr": "de la le et les des en un du une que est pour qui dans par sur au pas avec",
    "es": "de la que el en y los del se las por un para con una su al lo como más",
    "it": "di e il la che per un in del è della non una le si dei con sono gli alla",
    "pt": "de a o que e do da em um para com não uma os no se na por mais as dos",
    "nl": "de en van het een in is dat op te zijn met voor niet aan er die ook als",
    "sv": "och i att det som en på är av för med till den har inte om ett de var",
    "da": "og i at det er en til på som de med af for ikke der var et den har",
    "no": "og i det som er en på til at med av for ikke den har de var om fra",
    "pl": "i w na z do się nie jest że to o jak po co tak za od przez ale",
    "cs": "a v se na je že s z o do to jako ve pro by ale k jsou i po",
    "fi": "ja on ei se että oli hän mutta kun niin myös ovat joka tai kuin jos",
    "tr": "ve bir bu da de için ile çok olarak gibi daha en ne var o ama",
    "id": "yang dan di ini itu dengan untuk dari dalam tidak akan pada ke juga",
    "ro": "și de la în a cu o pe un care nu din este că mai se pentru sunt",
}
_OWNERS: dict[str, list[str]] = {}
for _lang, _words in _WORDS.items():
    for _w in _words.split():
        _OWNERS.setdefault(_w, []).append(_lang)
_SCRIPTS = (
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)
_WORD = re.compile(r"\w+")
_MAX_WORDS = 300
_MAX_CHARS = 2000
_MIN_HITS = 5


def detect_language(text: str) -> str | None:
    """The language code (ISO 639-1) the text most likely is in, or None."""
    sample = text[:_MAX_CHARS]
    if not sample.isascii():
        for lang, script in _SCRIPTS:
            if len(script.findall(sample)) > len(sample) // 5:
                return lang
    scores: dict[str, float] = {}
    for word in _WORD.findall(sample.lower())[:_MAX_WORDS]:
        owners = _OWNERS.get(word)
        if owners:
            for lang in owners:
                scores[lang] = scores.get(lang, 0.0) + 1 / len(owners)
    if not scores:
        return None
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= _MIN_HITS else None
