// Opens index.html in headless Chromium (Debian's, driven by playwright-core)
// and checks what CI promises about the page: no console errors, every
// chart rendered as a non-empty SVG, every expected backend shown; keeps a
// screenshot. Exit 0 when all holds, 1 otherwise (each problem on stderr).
//
//   node reports/web/check-page.mjs OUT/index.html OUT/screenshot.png [BACKEND ...]
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [page_path, screenshot, ...backends] = process.argv.slice(2);
if (!page_path || !screenshot) {
  console.error('check-page: usage: check-page.mjs INDEX.html SCREENSHOT.png [BACKEND ...]');
  process.exit(2);
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
  await page.goto(pathToFileURL(page_path).href);
  try {
    await page.waitForSelector('body[data-charts-done="yes"]', { timeout: 60000 });
  } catch (error) {
    problems.push('the charts did not finish drawing within 60 s');
  }

  const charts = await page.$$eval('.chart', (elements) =>
    elements.map((element) => {
      const svg = element.querySelector('svg');
      const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      return {
        what: element.dataset.chart + ' ' + element.dataset.key,
        marks: svg ? svg.querySelectorAll('path, rect, text, line').length : 0,
        width: box.width,
        height: box.height,
      };
    }));
  if (charts.length === 0) problems.push('no chart on the page');
  for (const chart of charts) {
    if (chart.marks === 0 || chart.width === 0 || chart.height === 0) {
      problems.push(`chart not rendered: ${chart.what}`);
    }
  }
  const text = await page.$$eval('.chart svg text', (nodes) => nodes.map((n) => n.textContent));
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
