"""Whom contributors work for: a profile's company → organisation and kind; the CHAOSS elephant
factor and organisational diversity over (person, organisation, contributions).

`company_of(company, settings) -> Affiliation` (docs/metrics.md, "Where contributors are from,
and whom they work for"):

  * The organisation's `key` ignores case, a leading `@`, spaces and punctuation, and legal forms
    (株式会社, (株), 一般社団法人, Inc., Ltd., Co., K.K., LLC, GmbH, Corp. ...): "@codeforjapan" and
    "Code for Japan" are one organisation; config `affiliations.aliases` merges the rest
    ("一般社団法人コード・フォー・ジャパン").
  * `kind`: a name listed under a kind in config first; then the default rules, in this order:
    academic (大学, University: 東京都立大学 is a university), npo (一般社団法人, NPO, Code for),
    company (株式会社, Inc, Ltd: "Independent Software Inc" is a company), individual (freelance,
    フリーランス), government (都庁, 県庁, 市役所, Ministry, a prefecture's or listed city's name);
    otherwise `unknown`. No guessing: "Google"
    is an organisation of unknown kind until config lists it.
  * An individual has no organisation (`key` None): freelancers are not one big organisation.
  * Several @organisations ("@codeforjapan @yahoo"): the first one named.

Bad input (None, not a string, over MAX_CHARS, control characters) is unknown, never an error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

from civicbot.config import AffiliationSettings
from civicbot.regions import CITIES, PREFECTURES

__all__ = ["KINDS", "Affiliation", "OrganisationalDiversity", "company_of", "companies", "elephant_factor",
           "fewest_for_half", "organisation_key", "organisational_diversity"]

KINDS = ("government", "company", "npo", "academic", "individual", "unknown")
MAX_CHARS = 255  # GitHub's limit on the company field

# Legal forms, removed from the key (they say what kind, not which organisation).
_JA_FORMS = ("特定非営利活動法人", "認定npo法人", "npo法人", "一般社団法人", "一般財団法人", "公益社団法人",
             "公益財団法人", "株式会社", "有限会社", "合同会社", "合名会社", "合資会社", "(株)", "(有)", "(同)",
             "(社)", "(一社)")
_EN_FORM = re.compile(
    r"(?:[\s,]+|^)(?:co\.?,?\s*ltd|pte\.?\s*ltd|pty\.?\s*ltd|inc|incorporated|corp|corporation|co|ltd|limited|"
    r"llc|l\.l\.c|gmbh|k\.?\s?k|plc|ag|s\.a)\.?$", re.IGNORECASE)
# Default kind rules: (kind, substrings for Japanese text, words for romaji), tried in this order.
_RULES = (
    ("academic", ("大学", "高専", "高等専門学校", "高校", "研究所"),
     ("university", "univ", "college", "institute of technology")),
    ("npo", ("一般社団法人", "一般財団法人", "公益社団法人", "公益財団法人", "特定非営利活動法人", "npo法人", "(一社)"),
     ("npo", "non profit", "nonprofit", "code for", "code4", "civic tech", "foundation")),
    ("company", ("株式会社", "有限会社", "合同会社", "合名会社", "合資会社", "(株)", "(有)"),
     ("inc", "incorporated", "ltd", "llc", "gmbh", "corp", "corporation", "co ltd", "k k", "kk", "plc")),
    ("individual", ("フリーランス", "個人事業主", "個人"),
     ("freelance", "freelancer", "self employed", "selfemployed", "independent", "indie")),
    ("government", ("都庁", "道庁", "府庁", "県庁", "市役所", "区役所", "町役場", "村役場", "デジタル庁", "省"),
     ("government", "ministry", "metro gov", "city hall", "prefectural government", "city of")),
)
_GOVERNMENT_NAMES = frozenset([p.name_ja for p in PREFECTURES] + [c.name_ja for c in CITIES])
_NOBODY = frozenset({"", "-", "none", "n a", "na", "nil", "null", "nothing", "なし", "無し", "無所属"})


@dataclass(frozen=True, slots=True)
class Affiliation:
    key: str | None   # the organisation, normalised (None: no organisation)
    name: str | None  # as shown: the alias's name from config, else the company without its legal form
    kind: str         # KINDS
    evidence: str


def _clean(text: object) -> str | None:
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return None
    text = unicodedata.normalize("NFKC", text)
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in text).split())


def _first_organisation(text: str) -> str:
    mentions = re.findall(r"@([\w.-]+)", text)
    if len(mentions) > 1:
        return mentions[0]
    return re.split(r"\s+/\s+|\s*[|、;]\s*", text)[0].lstrip("@").strip()


def _bare(text: str) -> str:
    """`text` without legal forms, as written: '株式会社ABC' → 'ABC', 'Foo Co., Ltd.' → 'Foo'."""
    for form in _JA_FORMS:
        text = re.sub(re.escape(form), " ", text, flags=re.IGNORECASE)
    while (stripped := _EN_FORM.sub("", text.strip()).strip(" ,")) != text.strip() and stripped:
        text = stripped
    return text.strip(" ,")


def organisation_key(name: str) -> str:
    """The key two ways of writing one organisation share: 'Code for Japan' = '@codeforjapan'."""
    return re.sub(r"[\W_]+", "", _bare(_first_organisation(_clean(name) or "")).casefold())


def _words(text: str) -> str:
    return " " + " ".join(re.split(r"[\W_]+", text.casefold())).strip() + " "


def _default_kind(text: str) -> tuple[str, str] | None:
    folded, words = text.casefold(), _words(text)
    if re.match(r"@?code(?:for|4)(?!ces)", folded):  # @codeforjapan, code4nagoya (not Codeforces)
        return "npo", "code for"
    for kind, ja, en in _RULES:
        for needle in ja:
            if needle in folded:
                return kind, needle
        for word in en:
            if f" {word} " in words:
                return kind, word
    return None


def _listed(settings: AffiliationSettings) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    aliases: dict[str, str] = {}
    for canonical, others in settings.aliases.items():
        for name in (canonical, *others):
            aliases[organisation_key(name)] = canonical
    kinds: dict[str, tuple[str, str]] = {}
    for kind in ("government", "npo", "academic", "company", "individual"):
        for name in getattr(settings, kind):
            key = organisation_key(name)
            kinds.setdefault(aliases.get(key) and organisation_key(aliases[key]) or key, (kind, name))
    return aliases, kinds


def company_of(company: str | None, settings: AffiliationSettings | None = None) -> Affiliation:
    """The organisation a profile's company names, and its kind."""
    settings = settings or AffiliationSettings()
    text = _clean(company)
    if text is None or _words(text).strip() in _NOBODY:
        return Affiliation(None, None, "unknown", "no company" if text is not None or company is None
                           else "not a company (type or length)")
    first = _first_organisation(text)
    aliases, kinds = _listed(settings)
    key = organisation_key(first)
    name = aliases.get(key)
    if name is not None:
        key, evidence = organisation_key(name), f"alias of {name!r}"
    else:
        name, evidence = _bare(first) or first, "as written"
    listed = kinds.get(key)
    if listed:
        kind, why = listed[0], f"listed under {listed[0]} as {listed[1]!r}"
    elif (found := _default_kind(name if evidence != "as written" else first) or _default_kind(first)
                   or _default_kind(key)) is not None:  # the alias's name first: one kind per organisation
        kind, why = found[0], f"{found[1]!r} → {found[0]}"
    elif _bare(first) in _GOVERNMENT_NAMES:
        kind, why = "government", "a prefecture's or city's name"
    else:
        kind, why = "unknown", "no rule names its kind"
    if not key or kind == "individual":
        return Affiliation(None, None, kind, f"{why}; no organisation")
    return Affiliation(key, name, kind, f"{evidence}; {why}")


# --- CHAOSS: elephant factor and organisational diversity -------------------------------------

def _per_organisation(contributions: pd.DataFrame) -> tuple[pd.Series, float]:
    """Contributions per organisation (most first, then by name: ties in a fixed order) and the
    contributions of people with no organisation."""
    frame = contributions[["organisation", "contributions"]]
    known = frame["organisation"].notna() & (frame["organisation"].astype(str) != "")
    per_org = frame[known].groupby("organisation")["contributions"].sum()
    per_org = per_org[per_org > 0]
    order = sorted(per_org.index, key=lambda org: (-per_org[org], str(org)))
    return per_org.reindex(order), float(frame.loc[~known, "contributions"].sum())


def fewest_for_half(counts: pd.DataFrame, keys: list[str], who: str, weight: str = "contributions") -> pd.Series:
    """Per group of `keys`: the fewest `who` (organisations, people) whose `weight` makes at least
    half of the group's total, largest first (ties by name: ties never change the answer). The one
    definition behind CHAOSS's elephant factor and contributor absence factor; vectorised, so
    metrics_periodic computes every (scope, period) at once. Rows with no `who` or weight <= 0 are
    left out; a group with nothing left has no row."""
    frame = counts[counts[who].notna() & (counts[weight] > 0)]
    if frame.empty:
        return pd.Series(dtype="int64", name="rank")
    n = frame.groupby([*keys, who], sort=False)[weight].sum().rename("n").reset_index()
    n = n.sort_values([*keys, "n", who], ascending=[True] * len(keys) + [False, True], kind="stable")
    groups = keys or [pd.Series(0, index=n.index)]  # no keys: one group
    grouped = n.groupby(groups, sort=False)["n"]
    n["cum"] = grouped.cumsum()
    n["total"] = grouped.transform("sum")
    n["rank"] = n.groupby(groups, sort=False).cumcount() + 1
    reached = n[2 * n["cum"] >= n["total"]]
    return reached.groupby(keys)["rank"].min() if keys else reached["rank"].head(1)


def elephant_factor(contributions: pd.DataFrame) -> int | None:
    """CHAOSS elephant factor: the fewest organisations whose members make at least half of the
    contributions of people with an organisation. `contributions` has columns person,
    organisation (None/NaN: unknown, or an individual) and contributions. People without an
    organisation are left out of both sides (organisational_diversity reports their share).
    None when no organisation contributed. Ties do not change the answer."""
    frame = contributions[["organisation", "contributions"]]
    frame = frame[frame["organisation"].notna() & (frame["organisation"].astype(str) != "")]
    factor = fewest_for_half(frame, [], "organisation")
    return int(factor.iloc[0]) if len(factor) else None


def companies(company: pd.Series, settings: AffiliationSettings | None = None) -> pd.DataFrame:
    """`company_of` over a column of profile companies: columns organisation (the key, None for
    none or an individual) and kind, on `company`'s index; each distinct text is read once."""
    settings = settings or AffiliationSettings()
    read = {text: company_of(text, settings) for text in company.dropna().unique()}
    unknown = Affiliation(None, None, "unknown", "no company")
    found = [read.get(text, unknown) if isinstance(text, str) else unknown for text in company.tolist()]
    return pd.DataFrame({"organisation": [a.key for a in found], "kind": [a.kind for a in found]},
                        index=company.index)


@dataclass(frozen=True, slots=True)
class OrganisationalDiversity:
    organisations: int             # distinct organisations with a contribution
    largest: str | None            # the one with most contributions (ties: first by name)
    largest_share: float | None    # its share of the contributions of people with an organisation
    unaffiliated_share: float | None  # share of all contributions by people with no organisation
    elephant_factor: int | None


def organisational_diversity(contributions: pd.DataFrame) -> OrganisationalDiversity:
    """CHAOSS organisational diversity over (person, organisation, contributions)."""
    per_org, unaffiliated = _per_organisation(contributions)
    affiliated = float(per_org.sum())
    total = affiliated + unaffiliated
    return OrganisationalDiversity(
        organisations=len(per_org),
        largest=str(per_org.index[0]) if len(per_org) else None,
        largest_share=float(per_org.iloc[0]) / affiliated if len(per_org) else None,
        unaffiliated_share=unaffiliated / total if total else None,
        elephant_factor=elephant_factor(contributions),
    )
