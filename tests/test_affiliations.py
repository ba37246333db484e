"""Profile company → organisation and kind; elephant factor and organisational diversity
(civicbot.metrics.affiliations, docs/metrics.md)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sizes import HYPOTHESIS_EXAMPLES

from civicbot.config import AffiliationSettings, ConfigError, load_config
from civicbot.metrics.affiliations import (
    KINDS,
    MAX_CHARS,
    Affiliation,
    company_of,
    elephant_factor,
    organisation_key,
    organisational_diversity,
)

SETTINGS = AffiliationSettings(
    aliases={"Code for Japan": ["一般社団法人コード・フォー・ジャパン", "コード・フォー・ジャパン"],
             "Tokyo Metropolitan Government": ["Tokyo-Metro-Gov"]},
    government=["Tokyo Metropolitan Government"], company=["Google"], npo=["Civic Tech Zen Chiba"],
)


@pytest.mark.parametrize("company", [
    "@codeforjapan", "Code for Japan", "code for japan", "  CODE  FOR  JAPAN ", "Code-for-Japan",
    "一般社団法人コード・フォー・ジャパン", "コード・フォー・ジャパン", "@codeforjapan @yahoo", "ｃｏｄｅ ｆｏｒ ｊａｐａｎ",
])
def test_one_organisation_however_it_is_written(company):
    a = company_of(company, SETTINGS)
    assert (a.key, a.name, a.kind) == ("codeforjapan", "Code for Japan", "npo"), a.evidence


def test_without_the_alias_the_japanese_name_is_another_organisation():
    assert company_of("一般社団法人コード・フォー・ジャパン").key == "コードフォージャパン"
    assert company_of("@codeforjapan").key == company_of("Code for Japan").key == "codeforjapan"


@pytest.mark.parametrize("company,key", [
    ("株式会社ABC", "abc"), ("ABC株式会社", "abc"), ("(株)ABC", "abc"), ("㈱ABC", "abc"), ("（株）ABC", "abc"),
    ("ABC Inc.", "abc"), ("ABC, Inc.", "abc"), ("ABC Inc", "abc"), ("ABC Co., Ltd.", "abc"), ("ABC Ltd", "abc"),
    ("ABC K.K.", "abc"), ("ABC KK", "abc"), ("ABC LLC", "abc"), ("ABC GmbH", "abc"), ("ABC Corp.", "abc"),
    ("ABC Corporation", "abc"), ("合同会社ABC", "abc"), ("一般社団法人ABC", "abc"), ("NPO法人ABC", "abc"),
    ("@ABC", "abc"), ("abc", "abc"), ("Yahoo Japan Corporation", "yahoojapan"), ("Inc.", "inc"),
])
def test_legal_forms_case_at_and_spaces_do_not_matter(company, key):
    assert company_of(company).key == key == organisation_key(company)


@pytest.mark.parametrize("company,kind", [
    ("都庁", "government"), ("東京都", "government"), ("Tokyo Metropolitan Government", "government"),
    ("@Tokyo-Metro-Gov", "government"), ("兵庫県庁", "government"), ("神戸市役所", "government"),
    ("兵庫県", "government"), ("神戸市", "government"), ("デジタル庁", "government"), ("経済産業省", "government"),
    ("Ministry of Health", "government"), ("City of Kobe", "government"),
    ("東京大学", "academic"), ("東京都立大学", "academic"), ("The University of Tokyo", "academic"),
    ("Keio Univ.", "academic"), ("産業技術総合研究所", "academic"),
    ("一般社団法人ABC", "npo"), ("NPO法人ABC", "npo"), ("Code for Kobe", "npo"), ("code4nagoya", "npo"),
    ("Civic Tech Zen Chiba", "npo"), ("Mozilla Foundation", "npo"),
    ("株式会社ABC", "company"), ("ABC Inc.", "company"), ("ABC Ltd", "company"), ("ABC GmbH", "company"),
    ("Google", "company"), ("@google", "company"), ("Codeforces", "unknown"),
    ("Freelance", "individual"), ("freelancer", "individual"), ("フリーランス", "individual"),
    ("Self-employed", "individual"), ("個人事業主", "individual"), ("Independent Software Inc", "company"),
    ("Yahoo", "unknown"), ("ACME", "unknown"),
])
def test_kind(company, kind):
    a = company_of(company, SETTINGS)
    assert a.kind == kind, a.evidence
    assert a.kind in KINDS


def test_a_listed_name_beats_the_default_rules():
    assert company_of("Foo University").kind == "academic"
    assert company_of("Foo University", AffiliationSettings(company=["Foo University"])).kind == "company"
    assert "listed under company" in company_of("Foo University", AffiliationSettings(company=["Foo University"])).evidence


def test_an_individual_is_nobodys_organisation():
    assert company_of("Freelance") == Affiliation(None, None, "individual", company_of("Freelance").evidence)


@pytest.mark.parametrize("bad", [
    None, "", "   ", "-", "none", "N/A", "なし", 42, b"ABC", ["ABC"], "x" * (MAX_CHARS + 1), "\x00\x1b",
    "@", "@@@@", "Inc." * 60, "\ud800", "🏢",
])
def test_no_company_or_bad_input_is_unknown_and_never_raises(bad):
    a = company_of(bad, SETTINGS)
    assert a.kind in KINDS and isinstance(a, Affiliation)
    if bad is None or bad in ("", "   ", "-", "none", "N/A", "なし", 42, b"ABC", "x" * (MAX_CHARS + 1)):
        assert (a.key, a.kind) == (None, "unknown")


def test_control_characters_do_not_make_another_organisation():
    assert company_of("\x00Google\x1b").key == "google"


def test_nothing_is_logged(caplog):
    with caplog.at_level(logging.DEBUG):
        company_of("@codeforjapan", SETTINGS)
    assert caplog.records == []


def test_config_section_loads(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("name: t\nupstream: a/b\naffiliations:\n  aliases:\n    Code for Japan: [codeforjapan]\n"
                    "  government: [東京都庁]\n", encoding="utf-8")
    assert load_config(path).affiliations.government == ["東京都庁"]
    path.write_text("name: t\nupstream: a/b\naffiliations:\n  governments: [x]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="affiliations.governments"):
        load_config(path)


# --- elephant factor and organisational diversity ---------------------------------------------

def frame(rows):
    return pd.DataFrame(rows, columns=["person", "organisation", "contributions"])


def test_elephant_factor_is_the_fewest_organisations_making_half():
    rows = [("a", "x", 60), ("b", "y", 30), ("c", "z", 10)]
    assert elephant_factor(frame(rows)) == 1
    rows = [("a", "x", 40), ("b", "y", 30), ("c", "z", 30)]
    assert elephant_factor(frame(rows)) == 2
    # one organisation's members add up: x has 2 people with 30 each
    assert elephant_factor(frame([("a", "x", 30), ("b", "x", 30), ("c", "y", 40)])) == 1


def test_exactly_half_is_enough():
    assert elephant_factor(frame([("a", "x", 50), ("b", "y", 50)])) == 1
    assert elephant_factor(frame([("a", "x", 5), ("b", "y", 5), ("c", "z", 5), ("d", "w", 5)])) == 2


def test_ties_do_not_change_the_answer_or_the_largest():
    rows = [("a", "y", 25), ("b", "x", 25), ("c", "z", 25), ("d", "w", 25)]
    assert elephant_factor(frame(rows)) == elephant_factor(frame(rows[::-1])) == 2
    assert organisational_diversity(frame(rows)).largest == "w"  # ties: first by name
    assert organisational_diversity(frame(rows[::-1])).largest == "w"


def test_unknown_organisations_are_counted_apart():
    rows = [("a", None, 1000), ("b", np.nan, 600), ("e", "", 400), ("c", "x", 10), ("d", "y", 30)]
    assert elephant_factor(frame(rows)) == 1  # not dominated by the 2,000 unknown contributions
    d = organisational_diversity(frame(rows))
    assert (d.organisations, d.largest, d.largest_share) == (2, "y", 0.75)
    assert d.unaffiliated_share == pytest.approx(2000 / 2040)
    assert d.elephant_factor == 1


def test_nobody_affiliated():
    assert elephant_factor(frame([("a", None, 3)])) is None
    assert elephant_factor(frame([])) is None
    d = organisational_diversity(frame([("a", None, 3)]))
    assert (d.organisations, d.largest, d.largest_share, d.unaffiliated_share) == (0, None, None, 1.0)
    assert organisational_diversity(frame([])).unaffiliated_share is None
    assert elephant_factor(frame([("a", "x", 0)])) is None  # no contribution, no organisation


def test_with_company_of():
    people = pd.DataFrame({"person": ["a", "b", "c", "d"],
                           "company": ["@codeforjapan", "Code for Japan", "Freelance", "東京都"],
                           "contributions": [10, 10, 30, 15]})
    people["organisation"] = [company_of(c, SETTINGS).key for c in people["company"]]
    d = organisational_diversity(people)
    assert (d.organisations, d.largest, d.elephant_factor) == (2, "codeforjapan", 1)
    assert d.unaffiliated_share == pytest.approx(30 / 65)


@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=300), st.text(alphabet="東京都大阪府 ,/-@kuTokyoJapan株式会社Inc.🇯🇵", max_size=80)))
def test_any_text_gives_an_answer(text):
    assert company_of(text).kind in KINDS
