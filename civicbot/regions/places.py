"""Where a person says they are: a GitHub profile's free-text location → country (and prefecture).

`place_of(location) -> Place` (docs/metrics.md, "Where contributors are from"):

  * Country names in many languages come from babel's CLDR data (Japan, 日本, Japon, Japón,
    ドイツ, 대한민국 ...), kept to the ISO 3166-1 countries pycountry lists; pycountry also gives
    the alpha-3 codes and the US states. ISO codes count only as a whole part or an upper-case
    word ("JP", "Tokyo, JP", "USA"); a flag emoji (🇯🇵) counts as its country.
  * Japanese places are the region matcher's (civicbot.regions.match_region): prefectures and
    the listed cities, kanji and romaji. A ward or town it does not list is not a place here
    ("Shibuya" alone is unknown; "Shibuya, Tokyo" is Tokyo).
  * A few big cities abroad that people write without a country (Berlin, London, Seoul, San
    Francisco) come from the small table CITIES_ABROAD below.
  * Every place named must agree: "Tokyo, Japan" is JP/13, "Georgia" (a country and a US state)
    or "Tokyo / Berlin" is ambiguous, "Tokyo / Osaka" is JP with the prefecture ambiguous.
    A word that is a Japanese place only in a Japanese context (Nara, Saga, Kochi ...) is
    ambiguous alone and counts once the location says Japan.
  * No fuzzy matching: a typo ("Tokoyo") is unknown rather than a guess. Known variants are the
    matcher's (toukyou, oosaka ...). "Earth", "Internet", "localhost", emoji, "" are unknown.

Bad input (None, not a string, over MAX_CHARS, control characters) is unknown, never an error.
A person's location is never logged; only counts per country / prefecture are ever published.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .data import PREFECTURES, prefecture
from .matcher import AMBIGUOUS, match_region, tokens

__all__ = ["CITIES_ABROAD", "MAX_CHARS", "Place", "country_name", "place_of"]

# GitHub caps the profile location at 255 characters; anything longer is not a location.
MAX_CHARS = 255
STATUSES = ("known", "unknown", "ambiguous")

# Locales whose country names are read (babel/CLDR): the languages contributors write in.
_LOCALES = ("en", "ja", "zh_Hans", "zh_Hant", "ko", "de", "fr", "es", "pt", "it", "nl", "ru", "pl",
            "sv", "vi", "id", "th", "tr", "uk")
# Usual short names CLDR does not give as a territory name.
_COUNTRY_ALIASES = {
    "uk": "GB", "usa": "US", "britain": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "america": "US", "united states of america": "US", "korea": "KR",
    "holland": "NL", "hong kong": "HK", "macau": "MO", "米国": "US", "アメリカ": "US", "英国": "GB",
    "台灣": "TW", "臺灣": "TW", "韓國": "KR", "香港": "HK", "nihon": "JP", "nippon": "JP",
}
# Big cities written without their country. Names in one country only; keys are normalised.
CITIES_ABROAD = {
    "US": ("new york", "jersey city", "nyc", "brooklyn", "san francisco", "bay area", "silicon valley", "seattle",
           "los angeles", "boston", "chicago", "austin", "portland", "san jose", "mountain view",
           "palo alto", "ニューヨーク", "サンフランシスコ", "シアトル"),
    "GB": ("london", "manchester", "edinburgh", "ロンドン"),
    "DE": ("berlin", "munich", "munchen", "hamburg", "frankfurt", "ベルリン", "ミュンヘン"),
    "FR": ("paris", "パリ"), "NL": ("amsterdam",), "SE": ("stockholm",), "FI": ("helsinki",),
    "IE": ("dublin",), "ES": ("madrid", "barcelona"), "CH": ("zurich",), "AT": ("vienna", "wien"),
    "CA": ("toronto", "vancouver", "montreal"), "AU": ("sydney", "melbourne"),
    "TW": ("taipei", "台北", "臺北", "台中", "taichung", "kaohsiung", "高雄"),
    "KR": ("seoul", "서울", "ソウル", "busan", "부산", "釜山"),
    "CN": ("beijing", "北京", "shanghai", "上海", "shenzhen", "深圳", "hangzhou", "杭州"),
    "IN": ("bangalore", "bengaluru", "mumbai", "delhi", "new delhi", "hyderabad", "pune", "chennai"),
    "GE": ("tbilisi",), "TH": ("bangkok",), "VN": ("hanoi", "ho chi minh city", "saigon"), "ID": ("jakarta",),
    "PH": ("manila",), "MY": ("kuala lumpur",), "BR": ("sao paulo",), "RU": ("moscow",),
}
# Parts of a location: lists, "A / B", and moves ("Tokyo → Osaka", "Tokyo <-> Osaka", arrows block).
_SEPARATORS = re.compile(r"\s*(?:[,/|;・、，／&+()（）\[\]~〜\u2190-\u21ff]|<?->|\s-\s|\band\b|\bor\b)\s*",
                         re.IGNORECASE)
# "Kagawa-ku", "Chiba-cho": a ward or town named like a prefecture, which need not be in it.
_WARD = re.compile(r"\b([A-Za-z]+)[\s-]?(?:ku|cho|machi|mura)\b", re.IGNORECASE)
_SHORT_KANJI = {p.short_ja: p.code for p in PREFECTURES}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_FLAG = re.compile("([\U0001F1E6-\U0001F1FF])([\U0001F1E6-\U0001F1FF])")


@dataclass(frozen=True, slots=True)
class Place:
    country: str | None    # ISO 3166-1 alpha-2
    pref_code: str | None  # JIS X 0401 "01".."47" (Japan only)
    muni_code: str | None  # a listed city's 5-digit code (civicbot.regions.CITIES)
    status: str            # known | unknown | ambiguous (STATUSES)
    evidence: str

    @property
    def prefecture_name(self) -> str | None:
        return prefecture(self.pref_code).name_ja if self.pref_code else None


@dataclass(frozen=True, slots=True)
class _Piece:
    countries: frozenset[str]
    pref_code: str | None
    muni_code: str | None
    evidence: str


def _key(text: str) -> str:
    """Casefolded, accents stripped, punctuation as single spaces: 'Côte d’Ivoire' → 'cote d ivoire'."""
    out: list[str] = []
    for c in unicodedata.normalize("NFKD", text):
        if not (unicodedata.combining(c) and out and out[-1].isascii()):  # keep kana's ゛ (ドイツ)
            out.append(c)
    return " ".join(re.split(r"[^\w]+|_", unicodedata.normalize("NFC", "".join(out)).casefold())).strip()


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, frozenset[str]], set[str], dict[str, frozenset[str]]]:
    """(name → countries, ISO alpha-2 codes, code → countries): built once, from the libraries."""
    import pycountry
    from babel import Locale

    iso = {c.alpha_2 for c in pycountry.countries}
    names: dict[str, set[str]] = {}

    def add(name: str, code: str, short_ok: bool = False) -> None:
        if short_ok or len(_key(name)) > 3 or _CJK.search(name):  # CLDR's "ao", "cad", "in" are words
            names.setdefault(_key(name), set()).add(code)

    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            if getattr(country, attr, None):
                add(getattr(country, attr), country.alpha_2)
    for locale in _LOCALES:
        for code, name in Locale.parse(locale).territories.items():
            if code in iso:
                add(name, code)
    for name, code in _COUNTRY_ALIASES.items():
        add(name, code, short_ok=True)
    for code, cities in CITIES_ABROAD.items():
        for name in cities:
            add(name, code, short_ok=True)
    codes: dict[str, set[str]] = {c.alpha_2: {c.alpha_2} for c in pycountry.countries}
    codes.update({c.alpha_3: {c.alpha_2} for c in pycountry.countries})
    codes["UK"] = {"GB"}
    for state in pycountry.subdivisions.get(country_code="US"):
        if state.type not in ("State", "District"):
            continue  # Guam, Puerto Rico ...: their own ISO codes
        add(state.name, "US")  # Georgia becomes {GE, US}: ambiguous alone
        codes.setdefault(state.code.split("-")[1], set()).add("US")  # "CA": Canada or California
    names.pop("", None)
    return ({k: frozenset(v) for k, v in names.items()}, iso,
            {k: frozenset(v) for k, v in codes.items()})


@lru_cache(maxsize=1)
def _cjk_pattern() -> re.Pattern[str]:
    cjk = sorted((n for n in _tables()[0] if _CJK.search(n)), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, cjk)))


def _clean(location: object) -> str | None:
    if not isinstance(location, str) or len(location) > MAX_CHARS:
        return None
    text = unicodedata.normalize("NFKC", location)
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text).strip()


def _name_pieces(text: str) -> list[_Piece]:
    """Countries, US states and cities abroad: longest run of words first, left to right."""
    names, iso, codes = _tables()
    pieces = []
    for m in _cjk_pattern().finditer(text) if _CJK.search(text) else ():
        if text.startswith("地方", m.end()):
            continue  # 中国地方 is a region of Japan, not China
        pieces.append(_Piece(names[m.group()], None, None, f"{m.group()!r} → {'/'.join(sorted(names[m.group()]))}"))
    words = _key(_CJK.sub(" ", text)).split()
    i = 0
    while i < len(words):
        for n in range(min(5, len(words) - i), 0, -1):
            name = " ".join(words[i:i + n])
            if name in names:
                pieces.append(_Piece(names[name], None, None, f"{name!r} → {'/'.join(sorted(names[name]))}"))
                i += n
                break
        else:
            i += 1
    shouting = text.upper() == text
    for part in (p.strip() for p in _SEPARATORS.split(text)):
        if part.upper() != part and part.upper() in iso:  # "jp", "Jp": a country, never a US state ("ok")
            pieces.append(_Piece(frozenset({part.upper()}), None, None, f"{part!r} → {part.upper()}"))
            continue
        candidates = [part] if part in codes else \
            [w for w in re.findall(r"\b[A-Z]{2,3}\b", part) if not shouting and w in codes]
        for code in candidates:
            pieces.append(_Piece(codes[code], None, None, f"{code!r} → {'/'.join(sorted(codes[code]))}"))
    for a, b in _FLAG.findall(text):
        code = chr(ord(a) - 0x1F1E6 + 65) + chr(ord(b) - 0x1F1E6 + 65)
        if code in iso:  # a flag is a country, never a US state
            pieces.append(_Piece(frozenset({code}), None, None, f"flag → {code}"))
    return pieces


def _japan_pieces(text: str, context: bool) -> tuple[list[_Piece], list[str]]:
    """The matcher's places, part by part, and the wards or towns named like a place ("Kagawa-ku")."""
    pieces, wards = [], []
    for part in _SEPARATORS.split(text):
        for m in _WARD.finditer(part):
            if match_region("", "", m.group(1), context=True):
                wards.append(m.group())
                part = part.replace(m.group(), " ")
        m = match_region("", "", part, context=True if context else None) if part.strip() else None
        if m is not None:
            evidence = m.evidence.replace("description ", "location ", 1)  # the matcher's field name
            pieces.append(_Piece(frozenset({"JP"}), m.pref_code, m.municipality_code, evidence))
            continue
        # The matcher wants 千葉県, not 千葉 (a surname in a description); a whole word of a
        # location is the place.
        for word in part.split():
            if word in _SHORT_KANJI:
                pref = prefecture(_SHORT_KANJI[word])
                pieces.append(_Piece(frozenset({"JP"}), pref.code, None, f"{word!r} → {pref.name_ja} ({pref.code})"))
    return pieces, wards


def _combine(pieces: list[_Piece]) -> Place:
    evidence = "; ".join(p.evidence for p in pieces)
    countries = frozenset.intersection(*(p.countries for p in pieces))
    if len(countries) != 1:
        why = "names places in different countries" if not countries else "could be " + "/".join(sorted(countries))
        return Place(None, None, None, "ambiguous", f"{why}: {evidence}")
    prefs = {p.pref_code for p in pieces if p.pref_code}
    if len(prefs) > 1:
        return Place(next(iter(countries)), None, None, "ambiguous", f"several prefectures: {evidence}")
    pref = next(iter(prefs), None)
    muni = next((p.muni_code for p in pieces if p.pref_code == pref and p.muni_code), None)
    return Place(next(iter(countries)), pref, muni, "known", evidence)


def place_of(location: str | None) -> Place:
    """The country (and for Japan the prefecture, and a listed city) a profile location names."""
    text = _clean(location)
    if not text:
        why = "empty" if text == "" or location is None else "not a location (type or length)"
        return Place(None, None, None, "unknown", why)
    pieces = _name_pieces(text)
    in_japan = any(p.countries == {"JP"} for p in pieces) or bool(re.search(r"[\u3040-\u30ff\u3400-\u9fff]", text))
    japan, wards = _japan_pieces(text, in_japan)
    if japan and not in_japan:  # "Kawasaki, Kanagawa": one place in Japan makes the others count
        japan, wards = _japan_pieces(text, True)
    if pieces or japan:
        return _combine(pieces + japan)
    if wards:
        return Place("JP", None, None, "ambiguous", f"{wards[0]!r} is a ward or town, not the prefecture")
    ambiguous = sorted(AMBIGUOUS.intersection(tokens(text)))
    if ambiguous:
        return Place(None, None, None, "ambiguous", f"{ambiguous[0]!r} is a Japanese place only in context")
    return Place(None, None, None, "unknown", "names no place we know")


@lru_cache(maxsize=None)
def country_name(code: str, lang: str) -> str:
    """A country's name from its ISO 3166-1 alpha-2 code in `lang` (ja, en; CLDR, through babel),
    the code itself when it is not one: the one naming of a country on every table and page."""
    from babel import Locale

    return Locale.parse(lang).territories.get(code.upper(), code) if len(code) == 2 else code
