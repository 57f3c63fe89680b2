// explorer/bench-worker.js: the browser benchmark's compute (a module Web Worker, where the wasm backend may
// block on its kernel threads): the timings of bench-core.js on each backend asked for, posted one row at a time.
import * as dc from '../dist/browser/decomcam.js';
import { b16Forward, tinyExplain } from './bench-core.js';

const TINY = new URL('../weights/tiny-clip/', import.meta.url);
const bytes = async (name) => new Uint8Array(await (await fetch(new URL(name, TINY))).arrayBuffer());

self.onmessage = async (e) => {
  const { backends, reps, parts } = e.data;
  try {
    const files = {};
    for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']) files[f] = await bytes(f);
    const sample = JSON.parse(new TextDecoder().decode(await bytes('sample.json')));
    const image = dc.decodeImage(await bytes(sample.image), sample.image);
    for (const { name, options, slow } of backends) {
      const be = dc.createBackend(name, options);
      const why = be.unavailable?.();
      if (why) { self.postMessage({ type: 'row', backend: name, skipped: why }); continue; }
      if (be.ready) await be.ready(); // the kernel threads start
      const label = be.describe ? be.describe() : name;
      // gpu.js on a software WebGL (SwiftShader) takes about a minute an explain: one run, no warm-up
      const n = slow ? 1 : reps, warm = !slow;
      if (parts.includes('tiny')) {
        self.postMessage({ type: 'progress', text: `tiny-clip explain on ${label}` });
        const model = dc.loadClipFromFiles(files, { backend: be, label: 'tiny-clip' });
        const t = await tinyExplain(dc, model, image, sample.text, n, warm);
        self.postMessage({ type: 'row', part: 'tiny', backend: label, ...t });
      }
      if (parts.includes('b16')) {
        self.postMessage({ type: 'progress', text: `ViT-B/16 forward on ${label}` });
        const t = await b16Forward(dc, be, n, warm);
        self.postMessage({ type: 'row', part: 'b16', backend: label, ...t });
      }
      be.close?.();
    }
    self.postMessage({ type: 'done' });
  } catch (err) {
    self.postMessage({ type: 'error', message: err?.stack ?? String(err) });
  }
};
