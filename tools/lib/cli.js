// tools/lib/cli.js: what every command-line tool shares — option parsing from a small table, the exit
// codes (2 usage, 1 runtime), one clear line on error, and writing outputs whole or not at all.
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export class UsageError extends Error {}

export function packageVersion() {
  return JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
}

// spec: { name: { type: 'string'|'int'|'float'|'bool'|'list', default?, help, choices? } }
// Accepts --name value, --name=value, and repeated --name for 'list'.
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
    }
    let v = value;
    if (s.type === 'int' || s.type === 'float') {
      v = Number(value);
      if (value.trim() === '' || !Number.isFinite(v) || (s.type === 'int' && !Number.isInteger(v))) {
        throw new UsageError(`option --${name} needs ${s.type === 'int' ? 'an integer' : 'a number'}, got "${value}"`);
      }
      if (s.min !== undefined && v < s.min) throw new UsageError(`option --${name} must be at least ${s.min}, got ${v}`);
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
    process.stderr.write(`${name}: ${known ? e.message : (e?.stack ?? String(e))}\n`);
    process.exitCode = usage ? 2 : 1;
  }
}

// Writes a set of files { relativePath: bytes|string } into dir, whole or not at all: everything goes to a
// staging folder beside dir first; only when all of it is written is each file renamed into place.
export function writeOutputsAtomically(dir, files) {
  const target = resolve(dir);
  const staging = `${target}.partial-${process.pid}-${Date.now()}`;
  try {
    for (const [rel, bytes] of Object.entries(files)) {
      const p = join(staging, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
    }
    mkdirSync(target, { recursive: true });
    for (const rel of Object.keys(files)) {
      mkdirSync(dirname(join(target, rel)), { recursive: true });
      renameSync(join(staging, rel), join(target, rel));
    }
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}
