// civicbot's vega-lite and metric renderers, loaded after datasette-dashboards 0.8's dashboards.js
// (whose renderChart looks them up by name when it runs), so a chart with nothing to show says
// why in words: vega-lite given no rows in a dashboard card grows without end (33 million px on
// the Tokyo data, where nobody commented) and pushes every later chart off the page, and a metric
// with no row read "undefined". `chart.empty` (dashboards.yml) gives the chart's own reason.
// Keep the specs in step with the plugin's dashboards.js: only the empty case differs.
const EMPTY_CHART = 'この期間・リポジトリには表示するデータがありません / Nothing to show for this period and repository'

async function chartRows(chart, query_string, absolute_url) {
  const results = await fetch(getDataUrl(chart, query_string, absolute_url))
  return results.json()
}

function sayEmpty(chart_slug, chart) {
  const p = document.createElement('p')
  p.className = 'chart-empty'
  Object.assign(p.style, { margin: '1rem 0', color: '#444' })
  p.textContent = chart.empty || EMPTY_CHART
  document.querySelector(`#chart-${chart_slug}`).replaceChildren(p)
}

async function renderVegaLiteChart(chart_slug, chart, query_string, absolute_url, full_height) {
  const data = await chartRows(chart, query_string, absolute_url)
  if (!data.rows || data.rows.length === 0) {
    return sayEmpty(chart_slug, chart)
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: chart.title,
    width: 'container',
    height: full_height ? 'container' : undefined,
    view: { stroke: null },
    config: { background: '#00000000', arc: { innerRadius: 50 }, line: { point: true } },
    data: { values: data.rows, format: { 'type': 'json' } },
    ...chart.display
  }
  vegaEmbed(document.querySelector(`#chart-${chart_slug}`), spec)
  if (data.truncated) {
    enableChartTooltip(chart_slug)
  }
}

async function renderMetricChart(chart_slug, chart, query_string, absolute_url, full_height) {
  const data = await chartRows(chart, query_string, absolute_url)
  const metric = data.rows && data.rows.length ? data.rows[0][chart.display.field] : null
  if (metric === null || metric === undefined) {
    return sayEmpty(chart_slug, chart)
  }
  const p = document.createElement('p')
  p.textContent = `${chart.display.prefix || ''}${metric}${chart.display.suffix || ''}`
  p.style.fontSize = '2.2rem'
  p.style.fontWeight = '900'
  const wrapper = document.createElement('div')
  wrapper.appendChild(p)
  Object.assign(wrapper.style, { width: '100%', height: '100%', display: 'flex', flexDirection: 'column',
    justifyContent: 'center', alignItems: 'center', overflow: 'hidden', whiteSpace: 'nowrap',
    textOverflow: 'ellipsis' })
  document.querySelector(`#chart-${chart_slug}`).appendChild(wrapper)
  if (data.truncated) {
    enableChartTooltip(chart_slug)
  }
}
