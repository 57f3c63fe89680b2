// tools/lib/cli.js: what every command-line tool shares — option parsing from a small table, the exit
// codes (2 usage, 1 runtime), one clear line on error, and writing outputs whole or not at all.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFilesAtomic } from 'decomcam';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export class UsageError extends Error {}

export function packageVersion() {
  return JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
}

// spec: { name: { type: 'string'|'int'|'float'|'bool'|'list', default?, help, choices?, min?, max? } }
// Accepts --name value, --name=value, and repeated --name for 'list'. An empty value is refused (--out '' is
// not the current folder), and so is a value that is itself one of the options (--text --json): write
// --text=--json for that text.
export function parseArgs(argv, spec) {
  const opts = {};
  for (const [name, s] of Object.entries(spec)) opts[name] = s.type === 'list' ? [] : s.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}" (options start with --; see --help)`);
    let [name, value] = arg.slice(2).split(/=(.*)/s, 2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name} (see --help)`);
    if (s.type === 'bool') { opts[name] = true; continue; }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option --${name} needs a value`);
      value = argv[++i];
      const other = value.startsWith('--') ? value.slice(2).split('=')[0] : null;
      if (other !== null && spec[other]) {
        throw new UsageError(`option --${name} needs a value, got the option ${value} (if that is the value, write --${name}=${value})`);
      }
    }
    if (value === '') throw new UsageError(`option --${name} is empty: give it a value (see --help)`);
    let v = value;
    if (s.type === 'int' || s.type === 'float') {
      v = Number(value);
      if (value.trim() === '' || !Number.isFinite(v) || (s.type === 'int' && !Number.isInteger(v))) {
        throw new UsageError(`option --${name} needs ${s.type === 'int' ? 'an integer' : 'a number'}, got "${value}"`);
      }
      if (s.min !== undefined && v < s.min) throw new UsageError(`option --${name} must be at least ${s.min}, got ${v}`);
      if (s.max !== undefined && v > s.max) throw new UsageError(`option --${name} must be at most ${s.max}, got ${v}${s.maxWhy ? ` (${s.maxWhy})` : ''}`);
    }
    if (s.choices && !s.choices.includes(v)) {
      throw new UsageError(`option --${name}: "${v}" is not one of ${s.choices.join(', ')}`);
    }
    if (s.type === 'list') opts[name].push(v); else opts[name] = v;
  }
  for (const [name, s] of Object.entries(spec)) {
    if (s.type === 'list' && opts[name].length === 0 && s.default) opts[name] = [...s.default];
  }
  return opts;
}

export function helpText(usage, spec) {
  const lines = [usage, '', 'Options:'];
  for (const [name, s] of Object.entries(spec)) {
    const arg = s.type === 'bool' ? '' : ` ${s.type === 'int' || s.type === 'float' ? 'N' : 'V'}`;
    const def = s.default !== undefined && s.type !== 'bool' ? ` (default: ${Array.isArray(s.default) ? s.default.join(', ') : s.default})` : '';
    lines.push(`  --${(name + arg).padEnd(18)} ${s.help}${def}`);
  }
  return lines.join('\n');
}

// Runs main(); any error becomes one line on stderr and the right exit status.
export async function runMain(name, main) {
  try {
    await main(process.argv.slice(2));
  } catch (e) {
    const usage = e instanceof UsageError || e?.code === 'usage';
    const known = usage || e?.name === 'DecomcamError';
    // a system error that reached here (a file vanished, a disk filled up) is one line too; anything else is a
    // bug in the tool, and its stack is what a bug report needs
    const system = !known && typeof e?.code === 'string' && typeof e?.syscall === 'string';
    const text = known ? e.message : system ? `${e.syscall} ${e.path ?? ''} failed: ${e.code}` : (e?.stack ?? String(e));
    process.stderr.write(`${name}: ${text}\n`);
    process.exitCode = usage ? 2 : 1;
  }
}

// Writes a set of files { relativePath: bytes|string } into dir, whole or not at all (io/atomic.ts, the one
// staged writer); `label` is how errors name dir, e.g. "--out ./results".
export function writeOutputsAtomically(dir, files, label = dir) {
  writeFilesAtomic(dir, files, label);
}
