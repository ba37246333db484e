"""The words and the style of `civicbot report` (civicbot/publish/report.py), Japanese and English."""

from __future__ import annotations

from civicbot.metrics.origins import OTHER_PREFECTURES, STATUS_WORDS
from civicbot.regions import country_name
from civicbot.regions.data import prefecture


def yen(amount: int, lang: str, *, exact: bool = False) -> str:
    """An amount in yen for people: two significant figures unless `exact` (an estimate is no price)."""
    if not exact and amount >= 100:
        digits = len(str(int(amount))) - 2
        amount = round(amount, -digits)
    if lang == "ja":
        if exact or amount < 10_000:
            return f"{amount:,} 円"
        if amount >= 100_000_000:
            return f"約 {amount / 100_000_000:,.{1 if amount < 1_000_000_000 else 0}f} 億円"
        return f"約 {amount / 10_000:,.0f} 万円"
    if exact or amount < 1_000_000:
        return f"¥{amount:,}"
    if amount >= 1_000_000_000:
        return f"about ¥{amount / 1_000_000_000:,.1f} billion"
    return f"about ¥{amount / 1_000_000:,.0f} million"


def _place_name(key: str, code: str, lang: str) -> str:
    """A country's or prefecture's name, or the words of the row of small places ("other")."""
    if code == "other":
        return (OTHER_PREFECTURES if key == "prefectures" else STATUS_WORDS["other"])[lang == "en"]
    return _pref_name(code, lang) if key == "prefectures" else country_name(code, lang)


def _pref_name(code: str, lang: str) -> str:
    try:
        p = prefecture(code)
    except (KeyError, ValueError):
        return code
    return p.name_ja if lang == "ja" else p.name_en


_METHOD_JA = ("算定方法: 米国政府 code.gov の方式に倣い、上流リポジトリのコード量から COCOMO (scc の基本モデル: 工数 = "
              "2.4 × (千行)^1.05 人月) で作り直す費用を求め、それを再利用した他の団体の数 (地域サイトのリポジトリの"
              "所有者。上流の所有者を除く) だけ掛けています。コード量は GitHub の言語別バイト数を、言語ごとの平均行長"
              "(約 26〜40 バイト/行) で行数に換算しました。空行やコメントも含むため高めに出ます。実際に支払われた"
              "金額でも、サイトの価値のすべてでもありません。")
_METHOD_EN = ("Method: following code.gov, the cost of writing the upstream's code again by COCOMO (scc's basic "
              "model: effort = 2.4 × KLOC^1.05 person-months), times the number of other bodies that reused it "
              "(owners of regional-site repositories, the upstream's owner left out). Code size is GitHub's bytes "
              "per language turned into lines with an average line length per language (about 26-40 bytes a "
              "line); blank and comment lines are included, so it leans high. It is neither money actually paid "
              "nor the whole value of the sites.")

TEXT = {
    "ja": {
        "lang": "ja",
        "report": "インパクトレポート",
        "window": lambda a, b, days, tz: f"期間: {a:%Y年%-m月%-d日} 〜 {b:%Y年%-m月%-d日} ({days} 日間、{tz})",
        "headline_title": "期間中の協力",
        "headline": lambda days, people, proposals, accepted:
            f"{days} 日間に {people:,} 名が改善に協力し、{proposals:,} 件の提案のうち {accepted:,} 件が取り入れられました。",
        "contributors": "協力した人 (名)", "proposals": "提案 (件)", "accepted": "取り入れられた提案 (件)",
        "issues": "課題 (issue)", "prs": "変更の提案 (プルリクエスト)", "created": "作成", "closed": "完了",
        "release_merges": "リリース・同期のためのマージ (提案に数えず)",
        "automation_prs": "自動化による PR (提案に数えず)",
        "bots_note": "すべてボット (自動化アカウント) を除いた数です。人数は同じ人を 1 人と数えます。",
        "reach_title": "地域への広がり",
        # Only what was found: the family's own list may be longer than what GitHub and the config show.
        "reach": lambda sites, prefs, end: (f"{end:%Y年%-m月%-d日}までに作られた地域サイトのうち、見つかったものは "
                                            f"{sites:,} 件 ({prefs:,} 都道府県) です。見つからなかったサイトは数えていません。"),
        "forks": lambda k: f"このほか、協力者が提案のために作ったコピー (協力者のフォーク) が {k:,} 件あります (地域サイトには数えません)。",
        "map_title": "都道府県別の地域サイト数",
        "map_caption": lambda end: f"都道府県別の地域サイト数 ({end:%Y年%-m月%-d日}時点)。沖縄県は左上の枠内。",
        "curve_title": "地域サイトのある都道府県の数",
        "curve_caption": "地域サイトのある都道府県の数の推移 (色付きの帯がこのレポートの期間)。",
        "month": lambda d, first: f"{d:%Y年%-m月}" if first or d.month == 1 else f"{d.month}月",
        "no_data": "データがありません。",
        "places_title": "協力者の所在地",
        "places_missing": "協力者のプロフィールからの所在地はまだ収集していません。収集後にこの欄に国・都道府県別の人数が載ります。",
        "places_none": "所在地のわかる協力者はまだいません。",
        "places_note": "GitHub のプロフィールに所在地を書いている協力者のみ。書いていない人は数えていません。"
                       "人数の少ない国・都道府県は、だれのことかわからないように「その他」にまとめています。",
        "countries": "国・地域", "prefectures": "都道府県",
        "place_name": lambda key, name: _place_name(key, name, "ja"),
        "value_title": "公共的な価値 (推計)",
        "value_missing": "推計はまだ計算されていません (コード量の収集と指標の計算の後に載ります)。",
        "estimate_tag": "推計",
        "value_sentence": lambda v, end: (
            f"{v['upstream']} のコードを各団体が一から作り直したとすると、1 団体あたり {yen(v['cost_yen'], 'ja')}、"
            f"{end:%Y年%-m月%-d日}までに再利用した {v['other_bodies']:,} 団体で {yen(v['estimate_yen'], 'ja')}の"
            "費用がかかったと推計されます (コード量はデータの時点のもの)。"),
        "v_code": "上流のコード量 (行)", "v_effort": "工数 (人月) / 期間 (月)",
        "v_wage": "年間給与 × 諸経費の倍率", "v_cost": "1 団体あたりの作り直す費用", "v_bodies": "再利用した他の団体の数",
        "value_method": _METHOD_JA,
        "definitions_title": "用語の定義",
        "definitions": [
            ("協力した人", "期間中にコミット・課題・プルリクエスト・コメント・レビューのどれかをした人 (ボットを除く。同じ人の複数のアカウントは 1 人)。"),
            ("提案", "期間中に作成されたプルリクエストのうち、リリース・同期のためのマージと自動化によるものを除いたもの。"),
            ("取り入れられた提案", "期間中にマージされた提案。"),
            ("作成・完了", "期間中に作成された / 閉じられた課題とプルリクエスト (ボットを除く)。"),
            ("地域サイト", "上流から派生したリポジトリのうち、地域 (都道府県) が特定できたもの。"),
            ("協力者のフォーク", "地域の特定できない派生リポジトリ。主に協力者が提案を送るために作ったコピー。"),
            ("期間", "プロジェクトのタイムゾーンでの暦日。初日と最終日を含みます。"),
        ],
        "footer": lambda as_of, version, upstream: (f"データの時点: {as_of or '不明'}。出典: GitHub ({upstream} と派生リポジトリ)。"
                                                    f"civicbot {version} で作成。定義の詳細: サイトの「用語と数字の定義」 (/-/definitions)。"),
    },
    "en": {
        "lang": "en",
        "report": "Impact report",
        "window": lambda a, b, days, tz: f"Period: {a:%-d %B %Y} – {b:%-d %B %Y} ({days} days, {tz})",
        "headline_title": "Contributions in the period",
        "headline": lambda days, people, proposals, accepted:
            f"In {days} days, {people:,} people helped improve the site: {proposals:,} proposals, {accepted:,} accepted.",
        "contributors": "people who contributed", "proposals": "proposals", "accepted": "accepted proposals",
        "issues": "Issues", "prs": "Pull requests", "created": "created", "closed": "closed",
        "release_merges": "release / sync merges (not proposals)", "automation_prs": "automation PRs (not proposals)",
        "bots_note": "All counts leave out bots (automation accounts). Each person is counted once.",
        "reach_title": "Reach across Japan",
        "reach": lambda sites, prefs, end: (f"Of the regional sites made by {end:%-d %B %Y}, {sites:,} were found, in "
                                            f"{prefs:,} prefectures; sites not found are not counted."),
        "forks": lambda k: f"Besides these, contributors made {k:,} copies (contributors' forks) to send proposals; they are not counted as regional sites.",
        "map_title": "Regional sites per prefecture",
        "map_caption": lambda end: f"Regional sites per prefecture, as of {end:%-d %B %Y}. Okinawa in the framed inset, top left.",
        "curve_title": "Prefectures with a regional site",
        "curve_caption": "Prefectures with a regional site over time (the shaded band is this report's period).",
        "month": lambda d, first: f"{d:%b %Y}" if first or d.month == 1 else f"{d:%b}",
        "no_data": "No data.",
        "places_title": "Where contributors are",
        "places_missing": "Contributors' places (from their GitHub profiles) are not yet harvested; once they are, "
                          "this section shows people per country and prefecture.",
        "places_none": "No contributor's place is known yet.",
        "places_note": "Only contributors who give a location on their GitHub profile; others are not counted. "
                       "Places with few people are counted together as \"other\", so that no one can be picked out.",
        "countries": "Countries", "prefectures": "Prefectures",
        "place_name": lambda key, name: _place_name(key, name, "en"),
        "value_title": "Public value (an estimate)",
        "value_missing": "The estimate is not computed yet (it needs the code size harvest and `civicbot metrics`).",
        "estimate_tag": "Estimate",
        "value_sentence": lambda v, end: (
            f"Writing the code of {v['upstream']} again from scratch would cost each body "
            f"{yen(v['cost_yen'], 'en')}; for the {v['other_bodies']:,} other bodies that had reused it by "
            f"{end:%-d %B %Y}, {yen(v['estimate_yen'], 'en')} in all (code size as of the data's date)."),
        "v_code": "Upstream code (lines)", "v_effort": "Effort (person-months) / schedule (months)",
        "v_wage": "Yearly salary × overhead", "v_cost": "Cost of one copy", "v_bodies": "Other bodies that reused it",
        "value_method": _METHOD_EN,
        "definitions_title": "Definitions",
        "definitions": [
            ("People who contributed", "People who made a commit, opened an issue or pull request, commented or reviewed in the period (bots left out; one person's several accounts count once)."),
            ("Proposals", "Pull requests opened in the period, except release / sync merges and automation."),
            ("Accepted proposals", "Proposals merged in the period."),
            ("Created / closed", "Issues and pull requests opened / closed in the period (bots left out)."),
            ("Regional sites", "Repositories derived from the upstream whose region (prefecture) is known."),
            ("Contributors' forks", "Derived repositories with no region: mostly copies contributors made to send proposals."),
            ("Period", "Calendar days in the project's time zone, first and last day included."),
        ],
        "footer": lambda as_of, version, upstream: (f"Data as of {as_of or 'unknown'}. Source: GitHub ({upstream} and "
                                                    f"its derived repositories). Made with civicbot {version}. "
                                                    "Full definitions: the site's definitions page (/-/definitions)."),
    },
}

CSS = """
@page { size: A4; margin: 12mm 14mm 14mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", sans-serif;
       color: #222; margin: 0 auto; max-width: 760px; font-size: 10.5pt; line-height: 1.55; }
header { border-bottom: 3px solid #08306b; margin-bottom: 10px; }
.kicker { color: #2171b5; font-weight: bold; margin: 0; letter-spacing: .05em; }
/* A long Japanese title breaks between phrases, its lines balanced: it left "ト" alone on a line */
h1 { font-size: 20pt; margin: 2px 0 4px; word-break: auto-phrase; text-wrap: balance; }
.window { margin: 0 0 8px; color: #444; }
h2 { font-size: 13pt; border-left: 5px solid #2171b5; padding-left: 8px; margin: 16px 0 6px; }
h3 { font-size: 10.5pt; margin: 6px 0 2px; }
.lead { font-size: 11.5pt; margin: 4px 0 8px; }
.kpis { display: flex; gap: 10px; margin: 8px 0; }
.kpi { flex: 1; background: #eef4fb; border-radius: 6px; padding: 8px 10px; text-align: center; }
.kpi .num { font-size: 26pt; font-weight: bold; color: #08306b; line-height: 1.1; }
.kpi .label { font-size: 9.5pt; color: #333; }
table.figures { border-collapse: collapse; margin: 6px 0; min-width: 60%; }
table.figures th, table.figures td { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: right; }
table.figures th:first-child { text-align: left; font-weight: normal; }
table.figures thead th { font-weight: bold; }
table.small { font-size: 9.5pt; }
table.assumptions td { text-align: left; }
table.assumptions th { white-space: nowrap; vertical-align: top; }
.note { color: #555; font-size: 9pt; margin: 4px 0; }
.none { color: #555; font-style: italic; }
figure { margin: 8px 0; break-inside: avoid; text-align: center; }
figcaption { font-size: 9pt; color: #444; }
svg text { font-size: 10px; fill: #444; font-family: inherit; }
.legend { font-size: 9pt; margin-top: 2px; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #999; vertical-align: middle; margin: 0 3px 0 8px; }
.columns { display: flex; gap: 18px; align-items: flex-start; }
figure.map { flex: 0 0 330px; }
.columns > div { flex: 1; }
.value { break-inside: avoid; }
.estimate { margin: 6px 0; }
.estimate .tag { background: #fde9c9; border: 1px solid #e6a23c; border-radius: 4px; padding: 1px 8px; margin-right: 8px;
                 font-weight: bold; color: #8a5300; vertical-align: middle; }
.estimate .num { font-size: 18pt; font-weight: bold; color: #08306b; vertical-align: middle; }
.definitions dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 9.5pt; margin: 0; }
.definitions dt { font-weight: bold; }
.definitions dd { margin: 0; }
footer { border-top: 1px solid #ccc; margin-top: 14px; padding-top: 6px; font-size: 8.5pt; color: #555; }
section { break-inside: auto; }
"""
