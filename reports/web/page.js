// Draws every chart of index.html with Vega-Lite from the data the report
// embedded (#loopbench-data: rows, a colour per implementation, the runs).
// Each .chart element names its chart type and the case or scenario it
// shows. With several runs, bars and boxes are faceted by run and lines
// dashed by run; an implementation has one colour on the whole page.
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('loopbench-data').textContent);
  const rows = data.rows;
  const severalRuns = data.runs.length > 1;
  const percentileOrder = ['p50', 'p90', 'p99', 'p99.9', 'max'];
  // Values spanning more than this get a logarithmic axis: on a linear one
  // the fastest implementations would be slivers beside the Python rows.
  const maxLinearSpan = 20;
  // Times are drawn in nanoseconds and each tick names its own unit
  // ("20 µs", "1.5 s"), so that a log axis over many decades stays readable.
  const timeLabels = "datum.value >= 1e9 ? format(datum.value / 1e9, '~g') + ' s' : " +
    "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + ' ms' : " +
    "datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + ' µs' : " +
    "format(datum.value, '~g') + ' ns'";
  const timeAxis = {
    labelExpr: timeLabels, tickCount: 6, labelOverlap: 'greedy', labelSeparation: 6,
  };

  function ofCase(key) {
    return rows.filter((row) => row.case === key);
  }

  // A time for a tooltip, in the unit that suits it.
  function readable(ns) {
    const [unit, scale] = ns >= 1e9 ? ['s', 1e9] : ns >= 1e6 ? ['ms', 1e6] : ns >= 1e3 ? ['µs', 1e3] : ['ns', 1];
    return String(Number((ns / scale).toPrecision(4))) + ' ' + unit;
  }

  function span(values) {
    const positive = values.filter((v) => v > 0);
    return positive.length > 0 ? Math.max(...positive) / Math.min(...positive) : 1;
  }

  function valueScale(values, otherwise) {
    return span(values) > maxLinearSpan ? { type: 'log' } : otherwise;
  }

  // The page's colours; the legend lists only the implementations drawn.
  function colour(values) {
    const present = Object.keys(data.colours).filter(
      (name) => values.some((row) => row.implementation === name));
    return {
      field: 'implementation',
      type: 'nominal',
      title: null,
      scale: { domain: Object.keys(data.colours), range: Object.values(data.colours) },
      legend: { values: present },
    };
  }

  // A chart per run one above the other when there are several.
  function byRun(values, spec) {
    if (!severalRuns) return { data: { values }, ...spec };
    return {
      data: { values },
      facet: { row: { field: 'run', title: null, header: { labelAngle: 0, labelAlign: 'left' } } },
      spec,
      resolve: { scale: { y: 'independent' } },
    };
  }

  function bars(key) {
    const values = ofCase(key).map((row) => ({
      implementation: row.implementation, run: row.run, time: row.median_ns,
      time_text: readable(row.median_ns), ratio_text: row.ratio.toFixed(2) + 'x',
    }));
    const times = values.map((v) => v.time);
    const scale = valueScale(times, { zero: true });
    // On a log axis a bar cannot start at 0: it starts at the power of ten
    // below the fastest.
    const base = Math.pow(10, Math.floor(Math.log10(Math.min(...times))));
    if (scale.type === 'log') scale.domainMin = base;
    return byRun(values, {
      width: 320,
      encoding: {
        y: { field: 'implementation', type: 'nominal', sort: { field: 'time' }, title: null },
        x: {
          field: 'time', type: 'quantitative', title: 'median time per run', scale, axis: timeAxis,
        },
      },
      layer: [
        {
          mark: 'bar',
          encoding: {
            ...(scale.type === 'log' ? { x2: { datum: base } } : {}),
            color: colour(values),
            tooltip: [{ field: 'implementation' }, { field: 'run' },
              { field: 'time_text', title: 'median' }, { field: 'ratio_text', title: 'ratio' }],
          },
        },
        { mark: { type: 'text', align: 'left', dx: 3 }, encoding: { text: { field: 'ratio_text' } } },
      ],
    });
  }

  function spread(key) {
    // Fastest first, as in the table (a box plot's own sort cannot see the
    // medians of its repetitions).
    const order = [...new Set(ofCase(key).slice().sort((a, b) => a.ratio - b.ratio)
      .map((row) => row.implementation))];
    const values = ofCase(key).flatMap((row) => row.reps_ns.map((ns) => ({
      implementation: row.implementation, run: row.run, time: ns,
    })));
    const times = values.map((v) => v.time);
    return byRun(values, {
      width: 320,
      encoding: {
        y: {
          field: 'implementation', type: 'nominal', title: null, sort: order,
        },
        x: {
          field: 'time', type: 'quantitative', title: 'time per run',
          scale: valueScale(times, { zero: false }), axis: timeAxis,
        },
      },
      layer: [
        { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.4, color: '#888' } },
        { mark: { type: 'point', filled: true, size: 25 }, encoding: { color: colour(values) } },
      ],
    });
  }

  // Lines of one implementation and run are told apart by colour and dash.
  function series() {
    return severalRuns
      ? {
        strokeDash: {
          field: 'run', type: 'nominal', title: null, legend: {
            symbolType: 'stroke', symbolStrokeWidth: 2,
            encode: { symbols: { update: { stroke: { value: '#444' } } } },
          },
        },
      }
      : {};
  }

  function percentiles(key) {
    const raw = ofCase(key).flatMap((row) =>
      Object.entries(row.percentiles_ns).map(([p, ns]) => ({
        implementation: row.implementation, run: row.run, p, ns,
      })));
    const positive = raw.filter((v) => v.ns > 0).map((v) => v.ns);
    // A log axis cannot show 0 or less (a percentile below the clock's
    // resolution, on a virtual clock, or early): such points sit at the axis
    // floor, hollow, and the chart says so.
    const floor = positive.length > 0 ? Math.min(...positive) / 2 : 1;
    const values = raw.map((v) => ({
      ...v, latency: v.ns > 0 ? v.ns : floor, zero: v.ns > 0 ? 'no' : 'yes', latency_text: readable(v.ns),
    }));
    const zeros = values.filter((v) => v.zero === 'yes');
    const notes = [];
    for (const v of zeros) {
      const name = severalRuns ? `${v.implementation} [${v.run}]` : v.implementation;
      const note = notes.find((n) => n.name === name);
      if (note) note.ps.push(v.p); else notes.push({ name, ps: [v.p] });
    }
    const spec = {
      data: { values },
      width: 320,
      height: 260,
      encoding: {
        x: {
          field: 'p', type: 'ordinal', sort: percentileOrder, title: 'percentile',
          axis: { labelAngle: 0 },
        },
        y: {
          field: 'latency', type: 'quantitative', scale: { type: 'log' }, title: 'latency',
          axis: timeAxis,
        },
        color: colour(values),
        ...series(),
        tooltip: [{ field: 'implementation' }, { field: 'run' }, { field: 'p' },
          { field: 'latency_text', title: 'latency' }],
      },
      layer: [
        { mark: { type: 'line', point: { filled: true } } },
        {
          mark: { type: 'point', shape: 'triangle-down', filled: false, size: 60 },
          transform: [{ filter: "datum.zero === 'yes'" }],
        },
      ],
    };
    if (notes.length > 0) {
      spec.title = {
        text: ['<= 0 (early, below the clock\'s resolution, or a virtual clock) cannot sit on a log axis;',
          'drawn hollow at its floor:']
          .concat(notes.map((n) => `${n.name}: ${n.ps.join(', ')}`)),
        fontSize: 11, fontWeight: 'normal', anchor: 'start', color: '#a33',
      };
    }
    return spec;
  }

  function scaling(scenario) {
    const of = rows.filter(
      (row) => row.scenario === scenario && row.size > 0 && row.ns_per_item > 0);
    const values = of.map((row) => ({
      implementation: row.implementation, run: row.run, params: row.params, size: row.size,
      series: row.series || '', per_item: row.ns_per_item, per_item_text: readable(row.ns_per_item),
    }));
    return {
      data: { values },
      width: 360,
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'size', type: 'quantitative', scale: { type: 'log' },
          title: of.length > 0 ? of[0].size_param : 'size', axis: { format: ',~g' },
        },
        y: {
          field: 'per_item', type: 'quantitative', scale: { type: 'log' },
          title: 'time per item', axis: timeAxis,
        },
        color: colour(values),
        ...series(),
        detail: { field: 'series' },
        shape: {
          field: 'series', type: 'nominal', title: 'other parameters', legend: { labelLimit: 400 },
        },
        tooltip: [{ field: 'implementation' }, { field: 'run' }, { field: 'params' },
          { field: 'per_item_text', title: 'per item' }],
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
