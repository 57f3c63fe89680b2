#!/usr/bin/env node
// tools/bench_browser.js: decomcam's speed in a browser against Node on the same machine (issue 16; not a test).
// Runs explorer/bench-core.js's timings — tiny-clip DecomCAM on the sample scene, one seeded ViT-B/16 forward —
// in Node (wasm, 2 worker_threads, the fused build where Node has it) and then in headless Chromium
// (explorer/bench.html: wasm on 2 Web Workers; with --gpu also gpu.js on WebGL2, one run), and prints the
// medians and the browser/Node ratios. Needs Chromium (/usr/bin/chromium or $DECOMCAM_CHROMIUM) and the bundle
// (`npm run build`).
//   node tools/bench_browser.js [--reps 5] [--parts tiny,b16] [--gpu] [--json FILE]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as dc from '../dist/index.js';
import { b16Forward, tinyExplain } from '../explorer/bench-core.js';
import { serveExplorer } from './explorer.js';

const { values: args } = parseArgs({
  options: { reps: { type: 'string', default: '5' }, parts: { type: 'string', default: 'tiny,b16' }, gpu: { type: 'boolean', default: false },
    json: { type: 'string' }, threads: { type: 'string', default: '2' } },
});
const reps = Number(args.reps), threads = Number(args.threads), parts = args.parts.split(',');
const log = (m) => process.stderr.write(`${m}\n`);
const repo = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const chromium = process.env.DECOMCAM_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromium)) { log(`bench_browser: no Chromium at ${chromium}`); process.exit(2); }
if (!existsSync(join(repo, 'dist', 'browser', 'decomcam.js'))) { log('bench_browser: dist/browser/ is missing: run npm run build'); process.exit(2); }

// ---- Node
if (process.env.DECOMCAM_WASM_FMA !== '0') dc.enableRelaxedSimd();
const node = [];
{
  const tiny = join(repo, 'weights', 'tiny-clip');
  const sample = JSON.parse(readFileSync(join(tiny, 'sample.json'), 'utf8'));
  const image = dc.loadImage(join(tiny, sample.image));
  const be = dc.createBackend('wasm', { threads });
  const label = be.describe();
  if (parts.includes('tiny')) {
    log(`node: tiny-clip explain on ${label}`);
    node.push({ part: 'tiny', backend: label, ...(await tinyExplain(dc, dc.loadClip(tiny, { backend: be }), image, sample.text, reps)) });
  }
  if (parts.includes('b16')) {
    log(`node: ViT-B/16 forward on ${label}`);
    node.push({ part: 'b16', backend: label, ...(await b16Forward(dc, be, reps)) });
  }
  be.close();
}

// ---- Chromium
const puppeteer = (await import('puppeteer-core')).default;
const { server, url } = await serveExplorer({ port: 0 });
const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--enable-unsafe-swiftshader'] });
let page, version;
try {
  version = await browser.version();
  page = await browser.newPage();
  page.on('pageerror', (e) => log(`page: ${e.message}`));
  await page.goto(`${url}explorer/bench.html?reps=${reps}&parts=${parts.join(',')}&threads=${threads}${args.gpu ? '&gpu=1' : ''}`);
  let shown = 0;
  for (;;) {
    const b = await page.evaluate(() => window.bench);
    for (; shown < b.rows.length; shown++) log(`browser: ${b.rows[shown].part ?? ''} ${b.rows[shown].backend} ${b.rows[shown].ms?.toFixed(1) ?? b.rows[shown].skipped}`);
    if (b.done) {
      if (b.error) throw new Error(`the bench page failed: ${b.error}`);
      var rows = b.rows;
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
} finally {
  await browser.close();
  server.close();
}

// ---- the table
const name = { tiny: 'tiny-clip DecomCAM (sample scene)', b16: 'ViT-B/16 forward (seeded)' };
console.log(`\n## decomcam in the browser vs Node, same machine (median ms of ${reps} after a warm-up; ${version}, ${process.version}, ` +
  `${availableParallelism()} cores, load ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
console.log(`${'part'.padEnd(36)} ${'where'.padEnd(60)} ${'ms'.padStart(9)}  vs Node`);
const out = [];
for (const p of parts) {
  const n = node.find((r) => r.part === p);
  console.log(`${name[p].padEnd(36)} ${`node: ${n.backend}`.padEnd(60)} ${n.ms.toFixed(1).padStart(9)}`);
  out.push({ host: 'node', ...n });
  for (const r of rows.filter((x) => x.part === p)) {
    const ratio = r.ms / n.ms;
    console.log(`${''.padEnd(36)} ${`chromium: ${r.backend}`.padEnd(60)} ${r.ms.toFixed(1).padStart(9)}  ${ratio.toFixed(2)}x${r.runs.length === 1 ? ' (1 run)' : ''}`);
    out.push({ host: 'chromium', ...r, ratio });
  }
}
for (const r of rows.filter((x) => x.skipped)) console.log(`chromium ${r.backend}: skipped (${r.skipped})`);
if (args.json) writeFileSync(args.json, JSON.stringify({ machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version, chromium: version }, rows: out }, null, 1));
