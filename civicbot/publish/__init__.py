"""Publishing with Datasette: metadata generated from the docs, Japanese search, a sanitised bundle.

- `metadata.build_metadata`: the Datasette 0.65 metadata (titles, licence, table and column
  descriptions parsed from docs/*.md, hidden tables, canned queries, dashboards).
- `search.enable_search`: the trigram FTS5 index over items (and the `search` canned query's rules).
- `bundle.build_bundle`: the published copy (sanitised, immutable, with inspect data and commands).
- `site_plugin`: civicbot's Datasette plugin (SQLite limits, markdown without images, visible
  bidi marks), registered by `civicbot serve` and shipped in the bundle.
- `commands`: the `civicbot serve` and `civicbot publish` click wrappers.
"""
