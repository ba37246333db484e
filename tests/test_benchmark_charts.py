"""The charts benchmark asks for every chart and figure as a dashboard does, under every filter set."""

from __future__ import annotations

import urllib.parse

import yaml

from benchmarks.charts import chart_urls
from civicbot.publish.metadata import DASHBOARDS_DIR, UPSTREAM, build_metadata

SETS = [("none", {}), ("window", {"date_from": "2020-03-01", "date_to": "2020-08-31"}),
        ("upstream", {"repo": UPSTREAM}), ("window+derivative", {"date_from": "2020-03-01", "repo": "a/b"})]


def test_every_chart_and_figure_is_asked_under_every_filter_set_of_its_dashboard():
    urls = chart_urls("http://h", "db", build_metadata(database="db"), SETS)
    asked = {name for _, name, _ in urls}
    for slug, dashboard in yaml.safe_load((DASHBOARDS_DIR / "dashboards.yml").read_text(encoding="utf-8")).items():
        sets = SETS if dashboard.get("filters") else SETS[:1]
        for chart, spec in dashboard["charts"].items():
            if spec.get("query"):
                assert {f"{slug}/{chart} [{name}]" for name, _ in sets} <= asked, chart
    for kind, name, url in urls:
        args = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert "[[" not in args["sql"] and "/*" not in args["sql"].replace("/*top_per_repo*/", ""), name
        if name == "impact/people [window+derivative]":
            assert args["repo"] == "a/b" and args["date_from"] == "2020-03-01" and "date_to" not in args
            assert ":date_from" in args["sql"] and ":date_to" not in args["sql"]
        if name == "impact/people [none]":
            assert ":date_from" not in args["sql"] and "repo" not in args
