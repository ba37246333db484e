"""Guess a repository's region (prefecture, and city when it is named) from its public metadata.

`match_region(owner, name, description, homepage)` looks for prefecture and city names, in romaji
and in kanji, and returns a `RegionMatch` or None. It never guesses: no name, no match.
The rules (docs/regions.md has the long form):

Romaji (owner, name, homepage; the description too)
  * Text is NFKC-normalised (full-width letters become ASCII); macrons are stripped (ō → o).
  * Split into tokens on anything not a letter or digit, on camelCase (CodeForNiigata), and
    between letters and digits (code4nagoya → code 4 nagoya).
  * A token that is not itself a place is split once more when it is a known civic prefix or
    suffix glued to a place: codeforsapporo → codefor + sapporo, civictechzenchiba, fukuokacity.
    Nothing else is split: "osakana" is not Osaka, "mielke" is not Mie, "naraku" is not Nara.
  * Only whole tokens match (or two adjacent tokens that spell a place: kita-kyushu).
    Spelling variants: oosaka/ohsaka, hyougo, kouchi, ooita/ohita, gumma, ibaragi, toukyou ...
  * A bare name shared by a prefecture and its capital city ("fukuoka", "chiba", "osaka") means
    the prefecture; it means the city only next to a city marker: fukuoka-city, fukuokacity,
    fukuoka-shi, city-fukuoka, or the homepage host city.fukuoka.lg.jp.
  * Names that are also common words or names elsewhere (mie, saga, nara, kochi, akita, kobe,
    sakai, toda, mito, machida, kawasaki) count only with civic context somewhere in the
    metadata: a covid/corona/stopcovid/code(for)/civictech/pref/city/lg/gov token, or any
    Japanese text. So covid19-saga is Saga, but redux-saga is nothing.

Kanji (any field; mostly the description)
  * Prefectures match with their suffix (東京都, 大阪府, 兵庫県, 北海道). The bare name (東京, 大阪)
    also matches except for those that are common surnames or words (千葉, 石川, 宮城, 大分 ...),
    which need the suffix.
  * Cities match with 市 (神戸市, さいたま市); a few unmistakable ones also bare (札幌, 名古屋).
    A city is not matched when another kanji precedes it that is not a prefecture suffix:
    東大阪市, 東広島市, 東松山市 and 泉大津市 are other cities.
  * Longest match first, left to right, so 東京都 is Tokyo and never 京都.

Choosing (when several places match)
  1. Fields are tried in priority order: name, owner, homepage, description. The first field
     that matches anything decides the prefecture.
  2. Within that field a city beats a bare prefecture (it implies its prefecture); otherwise the
     earliest match wins, except that Tokyo loses to any other prefecture (derivatives of the
     Tokyo site often mention Tokyo as their upstream).
  3. The municipality is the first city, by field priority, *in the chosen prefecture*; a city of
     another prefecture in a lower field is ignored (codefortoda/covid19-saitama → 11 + Toda).

`RegionMatch.evidence` says what matched, in which field, e.g. "name 'kobe-stopcovid19': 'kobe' → 神戸市 (28100)".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from .data import CITIES, PREFECTURES, City, Prefecture, prefecture

__all__ = ["RegionMatch", "match_region", "FIELDS"]

FIELDS = ("name", "owner", "homepage", "description")  # priority order


@dataclass(frozen=True, slots=True)
class RegionMatch:
    pref_code: str
    municipality_code: str | None
    source: str  # always "matcher" here; other sources (the config listing) may use other values
    evidence: str

    @property
    def prefecture(self) -> Prefecture:
        return prefecture(self.pref_code)


# --- alias tables ---------------------------------------------------------------------------

# Extra romaji spellings (long vowels written out, older Hepburn, common misspellings).
_PREF_VARIANTS = {
    "01": ("hokkaidou", "hokkaidoh"),
    "08": ("ibaragi",),
    "10": ("gumma",),
    "13": ("toukyou", "tokio"),
    "15": ("nigata",),
    "26": ("kyouto",),
    "27": ("oosaka", "ohsaka"),
    "28": ("hyougo", "hyoogo", "hyohgo"),
    "39": ("kouchi", "koochi", "kohchi"),
    "44": ("ooita", "ohita"),
}
_CITY_VARIANTS = {
    "28100": ("koube",),
    "40100": ("kitakyuushu",),
    "13201": ("hachiouji",),
    "19201": ("koufu",),
    "25201": ("ootsu", "ohtsu"),
    "04203": ("shiogama",),
}
# Words or names in common use elsewhere: they need civic context (see module docstring).
AMBIGUOUS = frozenset({
    "mie", "saga", "nara", "kochi", "kouchi", "koochi", "kohchi", "akita",
    "kobe", "koube", "sakai", "toda", "mito", "machida", "kawasaki",
})
CONTEXT_TOKENS = frozenset({
    "covid", "corona", "coronavirus", "stopcovid", "code", "codefor", "civictech", "civic",
    "pref", "city", "lg", "gov", "ken", "shi",
})
CITY_MARKERS_AFTER = frozenset({"city", "shi"})
CITY_MARKERS_BEFORE = frozenset({"city"})
# Glued to a place name in one token: codeforsapporo, civictechzenchiba, stopcovidkanagawa, fukuokacity.
PREFIXES = ("civictechzen", "civictech", "codefor", "stopcovid", "coronavirus", "corona", "covid",
            "opendata", "civic", "code", "open", "hack", "team")
SUFFIXES = ("stopcovid", "coronavirus", "corona", "covid", "city", "pref", "shi", "ken", "fu", "to",
            "info", "site", "data", "dashboard", "org")

# Kanji prefecture short names that are common surnames or words: they need 都/道/府/県.
_KANJI_NEED_SUFFIX = frozenset({
    "青森", "宮城", "秋田", "山形", "福島", "千葉", "富山", "石川", "福井", "山梨", "長野", "三重",
    "鳥取", "岡山", "広島", "山口", "香川", "高知", "福岡", "佐賀", "長崎", "熊本", "大分", "宮崎",
})
# Kanji city names that match without 市 (long or unmistakable).
_KANJI_CITY_BARE = frozenset({"札幌", "仙台", "横浜", "相模原", "名古屋", "北九州", "浜松", "神戸"})
_PREF_SUFFIX_CHARS = "都道府県"


def _romaji(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class _Place:
    pref_code: str
    city: City | None  # None: the prefecture itself

    @property
    def label(self) -> str:
        if self.city:
            return f"{self.city.name_ja} ({self.city.muni_code})"
        p = prefecture(self.pref_code)
        return f"{p.name_ja} ({p.code})"


def _build_romaji() -> tuple[dict[str, _Place], dict[str, City]]:
    places: dict[str, _Place] = {}
    for p in PREFECTURES:
        for alias in (_romaji(p.name_en).lower(), *_PREF_VARIANTS.get(p.code, ())):
            places[alias] = _Place(p.code, None)
    same_name: dict[str, City] = {}  # alias of a prefecture that is also its city's name
    for c in CITIES:
        if c.muni_code == "13100":
            continue  # "Tokyo 23 wards" is not a name anyone writes; Tokyo stays the prefecture
        for alias in (_romaji(c.name_en).lower(), *_CITY_VARIANTS.get(c.muni_code, ())):
            if alias in places:
                if places[alias].pref_code == c.pref_code:
                    same_name[alias] = c
                continue
            places[alias] = _Place(c.pref_code, c)
    return places, same_name


_ROMAJI, _SAME_NAME_CITY = _build_romaji()


def _build_kanji() -> tuple[re.Pattern[str], dict[str, _Place]]:
    table: dict[str, _Place] = {}
    for p in PREFECTURES:
        table[p.name_ja] = _Place(p.code, None)
        if p.short_ja not in _KANJI_NEED_SUFFIX:
            table.setdefault(p.short_ja, _Place(p.code, None))
    for c in CITIES:
        if c.muni_code == "13100":
            continue
        table[c.name_ja] = _Place(c.pref_code, c)
        stem = c.name_ja[:-1]
        if stem in _KANJI_CITY_BARE:
            table[stem] = _Place(c.pref_code, c)
    table["塩釜市"] = table["塩竈市"]  # the common simplified spelling
    alternatives = sorted(table, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, alternatives))), table


_KANJI_RE, _KANJI = _build_kanji()
_IDEOGRAPH = re.compile(r"[\u3400-\u9fff\uf900-\ufaff々]")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


# --- tokenising --------------------------------------------------------------------------------

MAX_COMPOUND = 64  # characters of a token that may be a place glued to affixes (covid19tokyometropolitan)


@lru_cache(maxsize=4096)
def _split_compound(token: str) -> tuple[str, ...] | None:
    """token as (affix..., place, affix...) if it is a place glued to known affixes, else None."""
    if token in _ROMAJI:
        return (token,)
    if len(token) > MAX_COMPOUND:  # no real name is this long; a hostile one must not recurse for ever
        return None
    for prefix in PREFIXES:
        if token.startswith(prefix) and len(token) > len(prefix):
            rest = _split_compound(token[len(prefix):])
            if rest:
                return (prefix, *rest)
    for suffix in SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            rest = _split_compound(token[: -len(suffix)])
            if rest:
                return (*rest, suffix)
    return None


def tokens(text: str) -> list[str]:
    """Lowercase romaji tokens of `text`, compounds split (see the module docstring)."""
    text = _romaji(text)
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)  # camelCase, COVIDTokyo
    text = re.sub(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", " ", text)  # code4nagoya
    out: list[str] = []
    for raw in re.split(r"[^a-z0-9]+", text.lower()):
        if raw:
            out.extend(_split_compound(raw) or (raw,))
    return out


def _field_text(field: str, value: str) -> str:
    if field != "homepage":
        return value
    parts = urlsplit(value if "://" in value else f"//{value}")
    return f"{parts.hostname or ''} {parts.path}"


# --- matching ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Hit:
    field_rank: int
    pos: int
    place: _Place
    field: str
    value: str
    matched: str

    @property
    def evidence(self) -> str:
        return f"{self.field} {self.value!r}: {self.matched!r} → {self.place.label}"


def _romaji_hits(field: str, rank: int, value: str, context: bool) -> list[_Hit]:
    toks = tokens(_field_text(field, value))
    hits: list[_Hit] = []
    i = 0
    while i < len(toks):
        width = 1
        word = toks[i]
        if i + 1 < len(toks) and len(toks[i]) >= 3 and len(toks[i + 1]) >= 3 and toks[i] + toks[i + 1] in _ROMAJI:
            word, width = toks[i] + toks[i + 1], 2
        place = _ROMAJI.get(word)
        if place is not None and (word not in AMBIGUOUS or context):
            before = toks[i - 1] if i > 0 else ""
            after = toks[i + width] if i + width < len(toks) else ""
            if word in _SAME_NAME_CITY and (after in CITY_MARKERS_AFTER or before in CITY_MARKERS_BEFORE):
                place = _Place(place.pref_code, _SAME_NAME_CITY[word])
            hits.append(_Hit(rank, i, place, field, value, word))
        i += width
    return hits


def _kanji_hits(field: str, rank: int, value: str) -> list[_Hit]:
    text = unicodedata.normalize("NFKC", value)
    hits = []
    for m in _KANJI_RE.finditer(text):
        place = _KANJI[m.group()]
        if place.city is not None and m.start() > 0:
            prev = text[m.start() - 1]
            if _IDEOGRAPH.match(prev) and prev not in _PREF_SUFFIX_CHARS:
                continue  # 東大阪市, 東広島市, 泉大津市: a different city
        hits.append(_Hit(rank, 10_000 + m.start(), place, field, value, m.group()))
    return hits


def _has_context(values: dict[str, str]) -> bool:
    for field, value in values.items():
        if _JAPANESE.search(value):
            return True
        if CONTEXT_TOKENS.intersection(tokens(_field_text(field, value))):
            return True
    return False


def _best_in_field(hits: list[_Hit]) -> _Hit:
    cities = [h for h in hits if h.place.city is not None]
    if cities:
        return min(cities, key=lambda h: h.pos)
    others = [h for h in hits if h.place.pref_code != "13"]
    return min(others or hits, key=lambda h: h.pos)


def match_region(owner: str, name: str, description: str | None = None,
                 homepage: str | None = None, context: bool | None = None) -> RegionMatch | None:
    """The region a repository is about, from its owner, name, description and homepage; None if unknown.

    `context` says whether the ambiguous words (AMBIGUOUS) count; None: decide from the metadata.
    A caller that already knows the text is about Japan (a location that says "Japan") passes True."""
    values = {f: v for f, v in (("name", name), ("owner", owner), ("homepage", homepage),
                                 ("description", description)) if v}
    if context is None:
        context = _has_context(values)
    by_field: list[list[_Hit]] = []
    for rank, field in enumerate(FIELDS):
        value = values.get(field)
        if value:
            hits = _romaji_hits(field, rank, value, context) + _kanji_hits(field, rank, value)
            if hits:
                by_field.append(hits)
    if not by_field:
        return None
    chosen = _best_in_field(by_field[0])
    pref_code = chosen.place.pref_code
    city_hit = chosen if chosen.place.city else next(
        (h for hits in by_field for h in sorted(hits, key=lambda h: h.pos)
         if h.place.city is not None and h.place.pref_code == pref_code), None)
    evidence = chosen.evidence
    if city_hit is not None and city_hit is not chosen:
        evidence += f"; {city_hit.evidence}"
    return RegionMatch(pref_code, city_hit.place.city.muni_code if city_hit else None, "matcher", evidence)
