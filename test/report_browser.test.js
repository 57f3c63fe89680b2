// test/report_browser.test.js: report.html in a real browser (issue 19, pt 3). Debian's chromium (installed by
// .ci/run where it can) opens the page from file:// through puppeteer-core, headless, no network: no console
// error, every <img> decoded, one OSSM panel per component with the weight result.json has, and a screenshot
// (saved beside the run, in a temp folder). Skips, saying why, where /usr/bin/chromium or puppeteer-core is absent.
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './helpers/compare.js';

const CHROMIUM = process.env.DECOMCAM_CHROMIUM ?? '/usr/bin/chromium';

async function puppeteerOrNull() {
  try {
    return (await import('puppeteer-core')).default;
  } catch {
    return null;
  }
}

test('report.html in headless Chromium: no console error, every image decoded, one panel per component with its weight', async (t) => {
  const puppeteer = await puppeteerOrNull();
  if (!existsSync(CHROMIUM) || !puppeteer) {
    t.skip(`skipped: ${!puppeteer ? 'puppeteer-core is not installed (a devDependency: npm install)' : `${CHROMIUM} is absent (apt-get install chromium, or set DECOMCAM_CHROMIUM)`}`);
    t.end();
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-browser-report-'));
  const out = join(dir, 'out');
  // the shipped model and its sample scene, two texts, one baseline compared
  const r = spawnSync(process.execPath, [join(repoRoot, 'tools', 'explain.js'), '--text', 'a blue triangle', '--text', 'a purple square',
    '--compare', 'gradcam', '--out', out], { encoding: 'utf8', timeout: 300000 });
  t.equal(r.status, 0, `explain.js exit 0 (${r.stderr.trim().split('\n').pop()})`);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));

  const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    const requests = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (q) => { if (!q.url().startsWith('file:') && !q.url().startsWith('data:')) requests.push(q.url()); });
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
    t.deepEqual(errors, [], 'no console error');
    t.deepEqual(requests, [], 'no request leaves the file');
    const imgs = await page.$$eval('img', (els) => els.map((e) => ({ alt: e.alt, ok: e.complete && e.naturalWidth > 0 })));
    t.ok(imgs.length > 20 && imgs.every((i) => i.ok), `all ${imgs.length} <img> decoded (naturalWidth > 0)${imgs.filter((i) => !i.ok).map((i) => `; not: ${i.alt}`).join('')}`);
    const panels = await page.$$eval('.ossm', (els) => els.map((e) => ({
      text: Number(e.dataset.text), q: Number(e.dataset.q), weight: Number(e.dataset.weight), shown: e.querySelector('.weight')?.textContent,
      visible: e.getBoundingClientRect().width > 0,
    })));
    result.texts.forEach((entry, k) => {
      const mine = panels.filter((p) => p.text === k);
      t.equal(mine.length, entry.weights.length, `"${entry.text}": ${mine.length} OSSM panels for ${entry.weights.length} components`);
      t.ok(mine.every((p) => p.weight === entry.weights[p.q] && p.shown === entry.weights[p.q].toFixed(3) && p.visible),
        `"${entry.text}": each panel's weight (data and shown) is result.json's [${entry.weights.join(', ')}]`);
      const order = mine.map((p) => p.weight);
      t.ok(order.every((w, i) => i === 0 || order[i - 1] >= w), `"${entry.text}": panels sorted by weight`);
    });
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.ok(statSync(shot).size > 10000, `screenshot saved: ${shot}`);
  } finally {
    await browser.close();
  }
  t.end();
});
