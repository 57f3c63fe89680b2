// test/async.test.js: the async entry (src/worker/): explain() in a worker thread that loads the tiny model
// from its folder. 1. the result equals the synchronous explain() bit for bit (ts and wasm backends, DecomCAM
// and Grad-CAM); 2. the calling thread's event loop keeps running meanwhile (a liveness check, not a timing:
// a 1 ms interval must fire at least a few times while the request is pending, which a blocked loop never
// does); 3. errors come back as DecomcamError, the Explainer survives them, and close() ends it.
import test from 'tape';
import { join } from 'node:path';
import { createExplainer, explainAsync, explain, loadClip, loadImage, createBackend, DecomcamError } from '../dist/index.js';
import { repoRoot } from './helpers/compare.js';

const modelDir = join(repoRoot, 'weights', 'tiny-clip');
const image = loadImage(join(modelDir, 'sample.png'));
const texts = ['a red square', 'a blue circle'];

// Every array and number of two explanations, bit for bit (timings aside); returns the first difference or null.
function firstDifference(a, b, path = 'explanation') {
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor || a.length !== b.length) return `${path}: type or length`;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `${path}[${i}]: ${a[i]} vs ${b[i]}`;
    return null;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return Object.is(a, b) ? null : `${path}: ${a} vs ${b}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => k !== 'timings'));
  for (const k of keys) {
    const d = firstDifference(a[k], b[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

for (const backend of ['ts', 'wasm']) {
  test(`async (${backend}): an Explainer's results equal explain()'s, bit for bit`, async (t) => {
    const be = createBackend(backend);
    const model = loadClip(modelDir, { backend: be });
    const explainer = await createExplainer(modelDir, { backend });
    t.equal(explainer.backend, backend, `the worker runs on ${explainer.note}`);
    for (const options of [{ method: 'decomcam', Q: 4 }, { method: 'gradcam' }]) {
      const method = options.method;
      const sync = explain(model, image, texts, options);
      const async = await explainer.explain(image, texts, options);
      t.equal(async.results.length, texts.length, `${method}: one result per text`);
      const diff = firstDifference(async, sync);
      t.equal(diff, null, `${method}: the async result is the sync one, bit for bit${diff ? ` (first difference ${diff})` : ''}`);
    }
    await explainer.close();
    be.close?.();
    t.end();
  });
}

test('async: the event loop stays free while a request runs', async (t) => {
  const before = image.data.slice();
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 1);
  const ex = await explainAsync(modelDir, image, texts, { Q: 4 }, { backend: 'ts' });
  clearInterval(timer);
  // a blocked loop gives 0 ticks; worker start, model load and DecomCAM take ≥ tens of ms on any machine
  t.ok(ticks >= 5, `the main thread's 1 ms interval fired ${ticks} times during explainAsync (at least 5)`);
  t.equal(ex.results.length, 2, 'explainAsync answered');
  t.ok(image.data.length === before.length && image.data.every((v, i) => v === before[i]), 'the caller\'s image is untouched (sent as a copy)');
  t.end();
});

test('async: errors, and close()', async (t) => {
  try {
    await createExplainer(join(repoRoot, 'weights', 'no-such-model'));
    t.fail('a missing model folder must reject');
  } catch (e) {
    t.ok(e instanceof DecomcamError && /does not exist/.test(e.message), `a missing folder: DecomcamError (${e.message})`);
  }
  const explainer = await createExplainer(modelDir, { backend: 'ts' });
  try {
    await explainer.explain(image, texts, { method: 'no-such-method' });
    t.fail('an unknown method must reject');
  } catch (e) {
    t.ok(e instanceof DecomcamError && e.code === 'usage' && /no-such-method/.test(e.message), `an unknown method: DecomcamError (${e.message})`);
  }
  const ok = await explainer.explain(image, ['a red square'], { method: 'gradcam' });
  t.equal(ok.results.length, 1, 'the Explainer still answers after an error');
  const pending = explainer.explain(image, texts, { Q: 4 })
    .then(() => t.fail('a request pending at close() must reject'), (e) => t.ok(/closed/.test(e.message), `pending at close(): ${e.message}`));
  await explainer.close();
  await pending;
  await explainer.explain(image, texts).then(() => t.fail('explain after close must reject'),
    (e) => t.ok(e instanceof DecomcamError && /after close/.test(e.message), `after close(): ${e.message}`));
  t.end();
});
