// platform/shims/path.ts: node:path in the browser bundle — POSIX join, dirname, basename, resolve, relative,
// extname and sep over '/'-separated names (file names only label things in a browser: nothing is opened by path).

export const sep = '/';

function normalizeParts(parts: string[], absolute: boolean): string {
  const out: string[] = [];
  for (const p of parts.join('/').split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (p !== '..' || !absolute) out.push(p);
  }
  const s = out.join('/');
  return absolute ? `/${s}` : s || '.';
}

export function join(...parts: string[]): string {
  return normalizeParts(parts, parts.length > 0 && parts[0].startsWith('/'));
}

export function resolve(...parts: string[]): string {
  let i = parts.length - 1;
  while (i > 0 && !parts[i].startsWith('/')) i--;
  return normalizeParts(['/', ...parts.slice(Math.max(0, i))], true);
}

export function normalize(p: string): string {
  return normalizeParts([p], p.startsWith('/'));
}

export function dirname(p: string): string {
  const s = p.replace(/\/+$/, '');
  const i = s.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : s.slice(0, i);
}

export function basename(p: string, ext?: string): string {
  const s = p.replace(/\/+$/, '');
  const b = s.slice(s.lastIndexOf('/') + 1);
  return ext && b.endsWith(ext) && b !== ext ? b.slice(0, -ext.length) : b;
}

export function extname(p: string): string {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i);
}

export function relative(from: string, to: string): string {
  const a = resolve(from).split('/').filter(Boolean), b = resolve(to).split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}

export default { sep, join, resolve, normalize, dirname, basename, extname, relative };
