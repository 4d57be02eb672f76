// Opens index.html in headless Chromium (Debian's, driven by playwright-core)
// and checks what CI promises about the page; keeps a screenshot. Exit 0
// when all holds, 1 otherwise (each problem on stderr), 2 for bad usage.
//
//   node reports/web/check-page.mjs OUT/index.html OUT/screenshot.png [BACKEND ...]
//
// What it checks:
// - it draws: no console errors, no network request, every chart a non-empty
//   SVG, every expected backend named in some chart;
// - labels: no two series of a chart at the same place under the same name
//   (two runs labelled alike stack their bars and zigzag their lines), no
//   two visible texts of a chart overlapping ("1.00x1.34x"), no two columns
//   or rows of a table with the same heading;
// - axes: a quantitative axis whose values span more than 20x is
//   logarithmic, and a logarithmic one has no value <= 0 (which it would
//   drop without a word);
// - colours: within a chart, two names never share a colour; across the
//   page, a name keeps its colour.
// The charts are read as drawn: the Vega-Lite specification each chart was
// given and the colour scale of its view, caught by wrapping vegaEmbed
// before the page's scripts run, and its SVG.
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [pagePath, screenshot, ...backends] = process.argv.slice(2);
if (!pagePath || !screenshot) {
  console.error('check-page: usage: check-page.mjs INDEX.html SCREENSHOT.png [BACKEND ...]');
  process.exit(2);
}

// Values of one chart whose largest is more than this times the smallest
// need a logarithmic axis: on a linear one the smallest are slivers.
const kMaxLinearSpan = 20;

// Runs in the page before any of its scripts: keeps every chart's
// specification and, once drawn, its view.
function catchCharts() {
  const charts = [];
  window.loopbenchCheckCharts = charts;
  let wrapped;
  Object.defineProperty(window, 'vegaEmbed', {
    configurable: true,
    get: () => wrapped,
    set: (embed) => {
      wrapped = Object.assign((element, spec, options) => {
        const entry = { element, spec: JSON.parse(JSON.stringify(spec)), view: null };
        charts.push(entry);
        return embed(element, spec, options).then((result) => {
          entry.view = result.view;
          return result;
        });
      }, embed);
    },
  });
}

// Runs in the page: what check() needs of each chart, as plain data.
function describeCharts() {
  const visible = (node) => {
    for (let at = node; at && at.tagName !== 'svg'; at = at.parentElement) {
      const style = getComputedStyle(at);
      if (style.opacity === '0' || style.display === 'none' || style.visibility === 'hidden') {
        return false;
      }
      if (at.getAttribute('opacity') === '0' || at.getAttribute('fill-opacity') === '0') {
        return false;
      }
    }
    return node.textContent.trim() !== '';
  };
  return window.loopbenchCheckCharts.map(({ element, spec, view }) => {
    const svg = element.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    const texts = svg
      ? Array.from(svg.querySelectorAll('text')).filter(visible).map((node) => {
        const r = node.getBoundingClientRect();
        return { text: node.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      })
      : [];
    let colours = null;
    try {
      const scale = view && view.scale('color');
      if (scale && typeof scale.domain === 'function') {
        colours = scale.domain().map((name) => [String(name), String(scale(name))]);
      }
    } catch (error) {
      colours = null;  // No colour scale: nothing to compare.
    }
    return {
      what: (element.dataset.chart || 'chart') + ' ' + (element.dataset.key || ''),
      spec,
      colours,
      marks: svg ? svg.querySelectorAll('path, rect, text, line').length : 0,
      width: box.width,
      height: box.height,
      texts,
    };
  });
}

// Runs in the page: every table's column headings (the header cells above
// a column, joined; colspans expanded) and row headings (the first cell).
function describeTables() {
  return Array.from(document.querySelectorAll('table')).map((table, index) => {
    const rows = Array.from(table.rows);
    const headerRows = rows.filter((row) => Array.from(row.cells).every((c) => c.tagName === 'TH'));
    const columns = [];
    for (const row of headerRows) {
      let at = 0;
      for (const cell of row.cells) {
        for (let span = 0; span < cell.colSpan; ++span, ++at) {
          columns[at] = (columns[at] ? columns[at] + ' / ' : '') + cell.textContent.trim();
        }
      }
    }
    const rowHeadings = rows.filter((row) => !headerRows.includes(row) && row.cells.length > 0)
      .map((row) => row.cells[0].textContent.trim());
    const near = table.closest('section')?.querySelector('h2')?.textContent ?? '';
    const caption = table.previousElementSibling?.textContent?.slice(0, 60) ?? '';
    return { what: `table ${index + 1} (${near}: ${caption})`, columns, rowHeadings };
  });
}

// Every unit of a (possibly layered or faceted) Vega-Lite specification with
// the data and encoding it inherits, and the facet fields above it.
function units(spec, data = null, encoding = {}, facets = []) {
  const ownData = spec.data && Array.isArray(spec.data.values) ? spec.data.values : data;
  const ownEncoding = { ...encoding, ...(spec.encoding || {}) };
  const ownFacets = [...facets];
  if (spec.facet) {
    for (const channel of ['row', 'column']) {
      if (spec.facet[channel]?.field) ownFacets.push(spec.facet[channel].field);
    }
    if (spec.facet.field) ownFacets.push(spec.facet.field);
  }
  const out = [];
  if (spec.mark) out.push({ mark: spec.mark.type || spec.mark, data: ownData || [], encoding: ownEncoding, facets: ownFacets });
  for (const child of spec.layer || []) out.push(...units(child, ownData, ownEncoding, ownFacets));
  if (spec.spec) out.push(...units(spec.spec, ownData, ownEncoding, ownFacets));
  for (const key of ['hconcat', 'vconcat', 'concat']) {
    for (const child of spec[key] || []) out.push(...units(child, ownData, {}, ownFacets));
  }
  return out;
}

function axisProblems(chart) {
  const problems = [];
  const seen = new Set();
  for (const unit of units(chart.spec)) {
    for (const channel of ['x', 'y']) {
      const enc = unit.encoding[channel];
      if (!enc || enc.type !== 'quantitative' || !enc.field) continue;
      const values = unit.data.map((row) => row[enc.field]).filter((v) => typeof v === 'number');
      const positive = values.filter((v) => v > 0);
      if (positive.length === 0) continue;
      const span = Math.max(...positive) / Math.min(...positive);
      const log = ['log', 'symlog'].includes(enc.scale?.type);
      const name = `${chart.what}: ${channel} axis (${enc.title || enc.field})`;
      if (seen.has(name)) continue;
      if (span > kMaxLinearSpan && !log) {
        problems.push(`${name} is linear over a ${span.toFixed(0)}x span`);
        seen.add(name);
      } else if (log && values.some((v) => v <= 0)) {
        problems.push(`${name} is logarithmic and drops ${values.filter((v) => v <= 0).length} ` +
                      'value(s) <= 0 without a word');
        seen.add(name);
      }
    }
  }
  return problems;
}

// Marks whose place and name are their data: two rows with the same values
// for every channel but the measured one land on each other.
const kPlacedMarks = ['bar', 'line', 'text', 'area'];
const kKeyChannels = ['x', 'y', 'xOffset', 'yOffset', 'color', 'fill', 'stroke', 'strokeDash',
  'detail', 'shape', 'row', 'column', 'facet'];

function seriesProblems(chart) {
  const problems = [];
  for (const unit of units(chart.spec)) {
    if (!kPlacedMarks.includes(unit.mark)) continue;
    const measured = unit.mark === 'line' || unit.mark === 'area'
      ? 'y'
      : (unit.encoding.x?.type === 'quantitative' ? 'x' : 'y');
    const fields = [];
    for (const channel of kKeyChannels) {
      if (channel === measured) continue;
      for (const enc of [].concat(unit.encoding[channel] || [])) if (enc.field) fields.push(enc.field);
    }
    fields.push(...unit.facets);
    const seen = new Map();
    for (const row of unit.data) {
      const key = JSON.stringify(fields.map((field) => row[field]));
      seen.set(key, (seen.get(key) || 0) + 1);
    }
    for (const [key, count] of seen) {
      if (count > 1) {
        problems.push(`${chart.what}: ${count} ${unit.mark} marks at one place under one name ` +
                      `(${fields.join(', ')} = ${JSON.parse(key).join(', ')})`);
        break;  // One per mark is enough to find it.
      }
    }
  }
  return problems;
}

function overlapProblems(chart) {
  const problems = [];
  const texts = chart.texts;
  for (let i = 0; i < texts.length; ++i) {
    for (let j = i + 1; j < texts.length; ++j) {
      const a = texts[i];
      const b = texts[j];
      const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      // A pixel of touching is how fonts sit on a line; more is two labels in one place.
      if (width > 1 && height > 2) {
        problems.push(`${chart.what}: labels overlap: "${a.text}" and "${b.text}"`);
        return problems;
      }
    }
  }
  return problems;
}

function colourProblems(charts) {
  const problems = [];
  const colourOf = new Map();  // Name -> [colour, the chart that gave it].
  for (const chart of charts) {
    if (!chart.colours) continue;
    const nameOf = new Map();
    for (const [name, colour] of chart.colours) {
      if (nameOf.has(colour) && nameOf.get(colour) !== name) {
        problems.push(`${chart.what}: "${nameOf.get(colour)}" and "${name}" share the colour ${colour}`);
      }
      nameOf.set(colour, name);
      const before = colourOf.get(name);
      if (!before) {
        colourOf.set(name, [colour, chart.what]);
      } else if (before[0] !== colour) {
        problems.push(`"${name}" is ${before[0]} in ${before[1]} but ${colour} in ${chart.what}`);
      }
    }
  }
  return problems;
}

function tableProblems(tables) {
  const problems = [];
  for (const table of tables) {
    for (const [kind, labels] of [['columns', table.columns], ['rows', table.rowHeadings]]) {
      const seen = new Set();
      for (const label of labels) {
        if (label === '') continue;
        if (seen.has(label)) {
          problems.push(`${table.what}: two ${kind} headed "${label}"`);
          break;
        }
        seen.add(label);
      }
    }
  }
  return problems;
}

const problems = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push('console error: ' + message.text());
  });
  page.on('pageerror', (error) => problems.push('page error: ' + error.message));
  // Offline means offline: any request beyond the file itself is a fault.
  page.on('request', (request) => {
    if (!request.url().startsWith('file:')) problems.push('network request: ' + request.url());
  });
  await page.addInitScript(catchCharts);
  await page.goto(pathToFileURL(pagePath).href);
  try {
    await page.waitForSelector('body[data-charts-done="yes"]', { timeout: 60000 });
  } catch (error) {
    problems.push('the charts did not finish drawing within 60 s');
  }

  const charts = await page.evaluate(describeCharts);
  if (charts.length === 0) problems.push('no chart on the page');
  for (const chart of charts) {
    if (chart.marks === 0 || chart.width === 0 || chart.height === 0) {
      problems.push(`chart not rendered: ${chart.what}`);
    }
    problems.push(...seriesProblems(chart), ...overlapProblems(chart), ...axisProblems(chart));
  }
  problems.push(...colourProblems(charts));
  problems.push(...tableProblems(await page.evaluate(describeTables)));

  const text = charts.flatMap((chart) => chart.texts.map((t) => t.text));
  // A label is the backend's name, perhaps with a note: "sim (virtual time)".
  for (const backend of backends) {
    if (!text.some((label) => label === backend || label.startsWith(backend + ' '))) {
      problems.push(`backend ${backend} appears in no chart`);
    }
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  console.error(`check-page: ${charts.length} charts, backends ${backends.join(' ')}; ` +
                `screenshot ${screenshot}`);
} finally {
  await browser.close();
}
for (const problem of problems) console.error('check-page: ' + problem);
process.exit(problems.length === 0 ? 0 : 1);
