// Draws every chart of index.html with Vega-Lite from the data the report
// embedded (#loopbench-data). Each .chart element names its chart type and
// the case or scenario it shows.
(function () {
  'use strict';
  const rows = JSON.parse(document.getElementById('loopbench-data').textContent);
  const kindColours = {
    domain: ['scenario', 'baseline', 'python-reference'],
    range: ['#1f77b4', '#9e9e9e', '#6a3d9a'],
  };
  const percentileOrder = ['p50', 'p90', 'p99', 'p99.9', 'max'];

  function ofCase(key) {
    return rows.filter((row) => row.case === key);
  }

  function bars(key) {
    const values = ofCase(key).map((row) => ({ ...row, ratio_text: row.ratio.toFixed(2) + 'x' }));
    const y = { field: 'label', type: 'nominal', sort: { field: 'median_ms' }, title: null };
    return {
      data: { values },
      width: 320,
      encoding: { y, x: { field: 'median_ms', type: 'quantitative', title: 'median ms per run' } },
      layer: [
        {
          mark: 'bar',
          encoding: {
            color: { field: 'kind', type: 'nominal', scale: kindColours, title: 'kind' },
            tooltip: [{ field: 'label' }, { field: 'median_ms' }, { field: 'ratio_text', title: 'ratio' }],
          },
        },
        { mark: { type: 'text', align: 'left', dx: 3 }, encoding: { text: { field: 'ratio_text' } } },
      ],
    };
  }

  function spread(key) {
    const values = ofCase(key).flatMap((row) =>
      row.reps_ms.map((ms) => ({ label: row.label, kind: row.kind, ms })));
    const y = { field: 'label', type: 'nominal', title: null };
    const x = { field: 'ms', type: 'quantitative', title: 'ms per run', scale: { zero: false } };
    return {
      data: { values },
      width: 320,
      encoding: { y, x },
      layer: [
        { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.4 } },
        {
          mark: { type: 'point', filled: true, size: 25 },
          encoding: { color: { field: 'kind', type: 'nominal', scale: kindColours, title: 'kind' } },
        },
      ],
    };
  }

  function percentiles(key) {
    const values = ofCase(key).flatMap((row) =>
      Object.entries(row.percentiles_ns).map(([p, ns]) => ({ label: row.label, p, ns })));
    return {
      data: { values },
      width: 320,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'p', type: 'ordinal', sort: percentileOrder, title: 'percentile' },
        y: { field: 'ns', type: 'quantitative', scale: { type: 'log' }, title: 'latency ns' },
        color: { field: 'label', type: 'nominal', title: null },
        tooltip: [{ field: 'label' }, { field: 'p' }, { field: 'ns' }],
      },
    };
  }

  function scaling(scenario) {
    const values = rows.filter(
      (row) => row.scenario === scenario && row.size > 0 && row.ns_per_item > 0);
    return {
      data: { values },
      width: 360,
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'size', type: 'quantitative', scale: { type: 'log' },
          title: values.length > 0 ? values[0].size_param : 'size',
        },
        y: { field: 'ns_per_item', type: 'quantitative', scale: { type: 'log' }, title: 'ns per item' },
        color: { field: 'label', type: 'nominal', title: null },
        tooltip: [{ field: 'label' }, { field: 'params' }, { field: 'ns_per_item' }],
      },
    };
  }

  const builders = { bars, spread, percentiles, scaling };
  // One chart that fails says so in its place and on the console; the
  // others are still drawn.
  const pending = Array.from(document.querySelectorAll('.chart')).map((element) => {
    const fail = (error) => {
      element.textContent = 'chart failed: ' + error;
      console.error('loopbench chart', element.dataset.chart, element.dataset.key, String(error));
    };
    const build = builders[element.dataset.chart];
    if (!build) return Promise.resolve(fail('unknown chart type'));
    const spec = build(element.dataset.key);
    spec.$schema = 'https://vega.github.io/schema/vega-lite/v5.json';
    return vegaEmbed(element, spec, { renderer: 'svg', actions: false })
      .then(() => element.setAttribute('data-rendered', 'yes'))
      .catch(fail);
  });
  Promise.all(pending).then(() => document.body.setAttribute('data-charts-done', 'yes'));
})();
