/**
 * The report in a real browser: headless Chromium (Debian package `chromium`) loads the
 * generated page from a file with networking off, and
 *  - its DOM holds every plot (SVG), the run labels, axis titles and legends;
 *  - its screenshot shows the plots: the bar and line colours are on screen.
 * Without Chromium it is skipped, and fails under LIVEMIG_REQUIRE_ALL=1 (test/helpers/requirements.ts;
 * install it: `apt-get install -y chromium`). LIVEMIG_CHROMIUM overrides the path.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeMigrationReport } from '../../src/cli/report/index.js';
import { matrix } from '../../src/cli/bench/matrix.js';
import { renderHtml } from '../../src/cli/bench/report.js';
import { countColor, countColorIn, decodePng } from './png.js';
import { fakeBench, syntheticRuns, tempDir } from './helpers.js';
import { chromiumPath, requires } from '../helpers/requirements.js';

const tmp = tempDir('livemig-render-');
after(tmp.remove);

/** Runs headless Chromium on `url` with `args`; resolves with its standard output. */
function chromium(url: string, args: readonly string[]): Promise<string> {
  const profile = join(tmp.dir, `profile-${Math.random().toString(36).slice(2)}`);
  const p = spawn(chromiumPath()!, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-extensions', '--hide-scrollbars', `--user-data-dir=${profile}`,
    ...args, url,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`chromium did not finish within 60 s: ${err.slice(-2000)}`));
    }, 60_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`chromium exited with ${code}: ${err.slice(-2000)}`));
    });
  });
}

describe('report rendered by headless Chromium', { ...requires.chromium(), timeout: 180_000 }, async () => {
  const path = join(tmp.dir, 'report.html');
  await writeMigrationReport(path, syntheticRuns(), { title: 'render check', parameters: [['guest RAM', '4 MiB']] });
  const url = pathToFileURL(path).href;
  const png = join(tmp.dir, 'report.png');
  // both browsers run at once (each takes a few seconds to start); the tests await them
  const dumped = chromium(url, ['--dump-dom']);
  const shot = chromium(url, [`--screenshot=${png}`, '--window-size=1280,4600']);
  dumped.catch(() => undefined);
  shot.catch(() => undefined);

  test('the DOM Chromium built holds every plot, label, axis and legend', async () => {
    const dom = await dumped;
    assert.match(dom, /<h1>render check<\/h1>/);
    const svgs = dom.match(/<svg\b/g) ?? [];
    assert.equal(svgs.length, 6 + 5 + 1, 'six plots for the XBZRLE run, five for the other (no cache), one downtime plot');
    for (const id of ['bytes-per-pass', 'pages-per-pass', 'dirty-pages', 'cache-miss-rate', 'throughput', 'remaining', 'downtime']) assert.match(dom, new RegExp(`<figure class="plot( wide)?" id="${id}">`));
    for (const label of ['Bytes sent per pass, by page kind', 'Dirty pages per pass', 'Cache miss rate per pass', 'Throughput over time', 'Downtime', 'whole pages', 'delta pages', 'time since the migration started', 'downtime limit 300 ms', 'XBZRLE', 'no delta compression']) {
      assert.ok(dom.includes(label), `missing "${label}"`);
    }
    assert.ok((dom.match(/<g class="legend">/g) ?? []).length >= 12);
    assert.ok((dom.match(/class="axis-title"/g) ?? []).length >= 2 * (6 + 5));
  });

  test('the screenshot shows the plots in their colours', async () => {
    await shot;
    assert.ok(statSync(png).size > 50_000, `screenshot of ${statSync(png).size} bytes: nearly blank?`);
    const img = decodePng(readFileSync(png));
    assert.equal(img.width, 1280);
    assert.equal(img.height, 4600);
    // solid areas of the plots: whole-page bars (blue), delta bars (orange), misses (purple), the paused band (pink)
    const seen = { whole: countColor(img, '#4e79a7'), delta: countColor(img, '#f28e2b'), misses: countColor(img, '#b07aa1'), band: countColor(img, '#f6c9c9') };
    assert.ok(seen.whole > 20_000, `whole-page bars: ${seen.whole} pixels`);
    assert.ok(seen.delta > 2_000, `delta-page bars: ${seen.delta} pixels`);
    assert.ok(seen.misses > 500, `cache-miss bars: ${seen.misses} pixels`);
    assert.ok(seen.band > 1_000, `downtime band: ${seen.band} pixels`);
  });
});

describe('bench report rendered by headless Chromium', { ...requires.chromium(), timeout: 120_000 }, () => {
  test('its charts use the page\'s width: bars in every third of a 1280-pixel window', async () => {
    const path = join(tmp.dir, 'bench.html');
    writeFileSync(path, renderHtml(fakeBench(matrix('tiny'))));
    const png = join(tmp.dir, 'bench.png');
    await chromium(pathToFileURL(path).href, [`--screenshot=${png}`, '--window-size=1280,1600']);
    const img = decodePng(readFileSync(png));
    // the bars: whole pages and "without" (blue), xbzrle and "with" (orange)
    const third = Math.floor(img.width / 3);
    for (const [k, x0] of [0, third, 2 * third].entries()) {
      const blue = countColorIn(img, '#4e79a7', x0, x0 + third);
      const orange = countColorIn(img, '#f28e2b', x0, x0 + third);
      assert.ok(blue > 2_000 && orange > 1_000, `third ${k + 1} of the page: ${blue} blue and ${orange} orange bar pixels`);
    }
  });
});
