#!/usr/bin/env node
// tools/explorer.js: serves the explorer page (explorer/) and what it loads (dist/browser/, weights/tiny-clip/)
// as static files on 127.0.0.1, with the two headers that make the page cross-origin isolated
// (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp), without which a
// browser gives a page no SharedArrayBuffer and the wasm kernels run on one thread. `npm run explorer`.
//   node tools/explorer.js [--port 8080] [--root <folder>] [--no-isolation]   (port 0: any free port; the URL is printed)
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** MIME types by extension: .wasm must be application/wasm, modules text/javascript. */
export const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.txt': 'text/plain; charset=utf-8',
  '.safetensors': 'application/octet-stream', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
};

/** The headers every answer carries: cross-origin isolation, and no caching (the page is a development tool). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/**
 * A static server of `root` (default: the repository) on 127.0.0.1:port; resolves to { server, url } once
 * listening. '/' redirects to /explorer/. Only GET and HEAD; nothing outside root is served. isolate: false leaves
 * out the COOP/COEP headers (the page then runs its kernels on one thread).
 */
export function serveExplorer({ port = 8080, root = repo, isolate = true } = {}) {
  const base = resolve(root);
  const headers = isolate ? ISOLATION_HEADERS : { 'Cache-Control': 'no-store' };
  const server = createServer(async (req, res) => {
    const send = (code, body, type = 'text/plain; charset=utf-8', extra = {}) => {
      res.writeHead(code, { ...headers, 'Content-Type': type, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'only GET and HEAD\n');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return send(400, 'bad URL\n');
    }
    if (path === '/') return send(302, '', undefined, { Location: '/explorer/' });
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(base, '.' + normalize(path));
    if (file !== base && !file.startsWith(base + sep)) return send(403, 'outside the served folder\n');
    try {
      const st = await stat(file);
      if (!st.isFile()) return send(404, `${path}: not a file\n`);
      send(200, await readFile(file), MIME[extname(file).toLowerCase()] ?? 'application/octet-stream');
    } catch {
      send(404, `${path}: not found\n`);
    }
  });
  return new Promise((ok, bad) => {
    server.once('error', bad);
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      ok({ server, url: `http://127.0.0.1:${p}/` });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  const port = Number(opt('port', process.env.PORT ?? '8080'));
  const isolate = !args.includes('--no-isolation');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`explorer: --port ${opt('port')} is not a port number (0-65535)`);
    process.exit(2);
  }
  const { url } = await serveExplorer({ port, root: opt('root', repo), isolate }).catch((e) => {
    console.error(`explorer: cannot listen on 127.0.0.1:${port}: ${e.message}`);
    process.exit(1);
  });
  const bundle = join(repo, 'dist', 'browser', 'decomcam.js');
  if (!existsSync(bundle)) console.error(`explorer: warning: ${bundle} is missing: run \`npm run build\` first, or the page cannot load`);
  console.error(`explorer: ${url}explorer/  (benchmark: ${url}explorer/bench.html; serving ${repo}; Ctrl-C stops)`);
}
