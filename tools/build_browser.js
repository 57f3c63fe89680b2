// tools/build_browser.js: the browser build, run by `npm run build` after tsc and the wasm kernels. esbuild bundles
// dist/ (ESM, for browsers) into dist/browser/:
//   decomcam.js        the library (dist/index.js) with the wasm kernels embedded and gpu.js (its WebGL build)
//   kernel-worker.js   a kernel thread of the wasm backend (dist/kernels/wasm/worker.js), started by decomcam.js
// with Node's parts swapped for the browser's: platform/node.js → platform/browser.js, worker/node.js →
// worker/browser.js, and node:fs, node:path, node:url, node:zlib, pngjs and the global Buffer → platform/shims/
// (the file system calls fail with a clear DecomcamError; zlib inflates with platform/inflate.js, PNGs are
// written with stored deflate blocks). Any other node: import is an error here.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'browser');
const SHIMS = ['fs', 'path', 'url', 'zlib'];
// a dist file → the file that stands in for it in a browser
const SWAPS = [['platform/node.js', 'platform/browser.js'], ['worker/node.js', 'worker/browser.js']];

// withGpu false: gpu.js becomes an empty module (a kernel thread never runs gpu.js)
const browserPlatform = (withGpu) => ({
  name: 'decomcam-browser',
  setup(b) {
    if (!withGpu) b.onResolve({ filter: /^gpu\.js$/ }, () => ({ path: 'gpu.js', namespace: 'empty' }));
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export {};', loader: 'js' }));
    b.onResolve({ filter: /^node:/ }, (args) => {
      const name = args.path.slice(5);
      if (SHIMS.includes(name)) return { path: join(dist, 'platform', 'shims', `${name}.js`) };
      return { errors: [{ text: `${args.importer} imports ${args.path}, which has no browser stand-in (put it behind src/platform/)` }] };
    });
    b.onResolve({ filter: /^pngjs$/ }, () => ({ path: join(dist, 'platform', 'shims', 'pngjs.js') }));
    b.onResolve({ filter: /^decomcam-embedded:/ }, (args) => ({ path: join(dist, 'kernels', 'wasm', args.path.split(':')[1]) }));
    b.onResolve({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith('.')) return undefined;
      const file = join(args.resolveDir, args.path);
      for (const [from, to] of SWAPS) {
        if (file === join(dist, from)) return { path: join(dist, to) };
      }
      return undefined;
    });
  },
});

for (const [entry, name, withGpu] of [['index.js', 'decomcam.js', true], [join('kernels', 'wasm', 'worker.js'), 'kernel-worker.js', false]]) {
  const input = join(dist, entry);
  if (!existsSync(input)) throw new Error(`build_browser.js: ${input} is missing (run tsc first)`);
  const result = await build({
    entryPoints: [input], outfile: join(out, name), bundle: true, format: 'esm', platform: 'browser', target: 'chrome111',
    loader: { '.wasm': 'binary' }, inject: [join(dist, 'platform', 'shims', 'buffer.js')], plugins: [browserPlatform(withGpu)], legalComments: 'none', logLevel: 'warning', metafile: true,
  });
  const bytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
  console.error(`browser: ${input} -> ${join(out, name)} (${bytes} bytes)`);
}
