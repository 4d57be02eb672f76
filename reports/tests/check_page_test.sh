#!/usr/bin/env bash
# Proves that web/check-page.mjs tells a bad page from a good one: it must
# fail on the page main's `loopbench report` made from two runs on two
# machines plus the Python rows (fixtures/page/two-runs-main.html, kept with
# the chart libraries cut out; they are put back here from node_modules),
# naming colliding labels, linear axes over wide spans and colours that
# change from chart to chart; and pass on the page the `loopbench` given
# makes from the same files.
#
#   reports/tests/check_page_test.sh LOOPBENCH OUT_DIR
set -euo pipefail
loopbench=${1:?usage: check_page_test.sh LOOPBENCH OUT_DIR}
out=${2:?usage: check_page_test.sh LOOPBENCH OUT_DIR}
reports=$(cd "$(dirname "$0")/.." && pwd)
fixtures=$reports/tests/fixtures/page
mkdir -p "$out"

node --input-type=module - "$fixtures/two-runs-main.html" "$out/old/index.html" "$reports/node_modules" <<'JS'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
const [fixture, target, modules] = process.argv.slice(2);
const libraries = ['vega', 'vega-lite', 'vega-embed']
  .map((name) => readFileSync(`${modules}/${name}/build/${name}.min.js`, 'utf8'))
  .join('\n').replaceAll('</script', '<\\/script');
const page = readFileSync(fixture, 'utf8');
if (!page.includes('/* LOOPBENCH_CHART_LIBRARIES */')) throw new Error(`${fixture}: no marker`);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, page.replace('/* LOOPBENCH_CHART_LIBRARIES */', () => libraries));
JS

status=0
node "$reports/web/check-page.mjs" "$out/old/index.html" "$out/old/screenshot.png" epoll uv \
  2> "$out/old/check.log" || status=$?
if ((status != 1)); then
  cat "$out/old/check.log" >&2
  echo "check_page_test: the old two-run page passed the check (exit $status)" >&2
  exit 1
fi
for expected in 'marks at one place under one name' 'labels overlap' 'two columns headed' \
  'is linear over a' 'but #'; do
  if ! grep -q -- "$expected" "$out/old/check.log"; then
    cat "$out/old/check.log" >&2
    echo "check_page_test: the old page's problems do not include '$expected'" >&2
    exit 1
  fi
done

"$loopbench" report "$fixtures/a/bench.json" "$fixtures/a/python-reference.json" \
  "$fixtures/b/bench.json" --out "$out/new" --force > /dev/null 2> "$out/new-report.log"
if ! node "$reports/web/check-page.mjs" "$out/new/index.html" "$out/new/screenshot.png" \
  epoll sim asio uv uring libev asyncio uvloop 2> "$out/new/check.log"; then
  cat "$out/new/check.log" >&2
  echo "check_page_test: the new two-run page failed the check" >&2
  exit 1
fi
problems=$(grep -c '^check-page: ' "$out/old/check.log")
echo "check_page_test: the old page fails ($((problems - 1)) problems), the new one passes" >&2
