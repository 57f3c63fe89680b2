// cam/options.ts: a method's options, resolved — its defaults, then its named preset (DecomCAM's only), then
// the caller's values (undefined ones ignored). An option the method does not declare, a value of the wrong
// type, or a preset given to a method without presets is an error naming the method (and, for an option that
// belongs to another method, that method). Plain objects only: 'toString' is no preset and no option.

import { fail } from '../errors.js';
import type { CamMethod } from './template.js';

/** A method's options after resolution, with which of them the caller set and the preset used. */
export interface ResolvedOptions<O extends object> {
  options: Readonly<O>;
  /** Option names the caller set. */
  given: ReadonlySet<string>;
  /** The preset taken (methods with presets), else null. */
  preset: string | null;
}

const names = (o: object): string => Object.keys(o).join(', ');

/** `given` holds only the method's own options (and `preset`); `others` lists every known method, for the hint. */
export function resolveMethodOptions<O extends object>(method: CamMethod<O>, given: Record<string, unknown>,
  others: Iterable<CamMethod> = []): ResolvedOptions<O> {
  const who = `method ${method.name}`;
  let base: Readonly<O> = method.defaults;
  let preset: string | null = null;
  if (given.preset !== undefined) {
    if (!method.presets) {
      fail(`option preset = ${JSON.stringify(given.preset)}: ${who} has no presets (presets are DecomCAM's; ` +
        `${method.name}'s options are ${names(method.defaults) || 'none'})`, 'usage');
    }
    if (typeof given.preset !== 'string' || !Object.hasOwn(method.presets, given.preset)) {
      fail(`preset ${JSON.stringify(given.preset)} is unknown for ${who}: expected one of ${names(method.presets)}`, 'usage');
    }
    preset = given.preset;
  } else if (method.presets && method.defaultPreset !== undefined) {
    preset = method.defaultPreset;
  }
  if (preset !== null && method.presets) base = method.presets[preset];

  const options: Record<string, unknown> = { ...base };
  const set = new Set<string>();
  for (const [key, value] of Object.entries(given)) {
    if (key === 'preset' || value === undefined) continue;
    if (!Object.hasOwn(method.defaults, key)) {
      const owners = [...others].filter((m) => m !== method && Object.hasOwn(m.defaults, key)).map((m) => m.name);
      const hint = owners.length ? ` (${key} is an option of ${owners.join(', ')})` : '';
      fail(`option ${key} is not an option of ${who}: its options are ${names(method.defaults) || 'none'}${hint}`, 'usage');
    }
    const expected = typeof (method.defaults as Record<string, unknown>)[key];
    if (typeof value !== expected) {
      fail(`option ${key} = ${JSON.stringify(value)} of ${who}: expected a ${expected}`, 'usage');
    }
    options[key] = value;
    set.add(key);
  }
  const resolved = Object.freeze(options) as Readonly<O>;
  method.check?.(resolved);
  return { options: resolved, given: set, preset };
}

/** Fails unless options[name] is an integer ≥ min, naming the method. */
export function checkInt(method: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) fail(`option ${name} = ${v} of method ${method}: expected an integer ≥ ${min}`, 'usage');
}

/** Fails unless v is a finite number ≥ min (−Infinity: any finite number), naming the method. */
export function checkNumber(method: string, name: string, v: number, min: number): void {
  if (!Number.isFinite(v) || v < min) fail(`option ${name} = ${v} of method ${method}: expected a finite number ≥ ${min}`, 'usage');
}

/** Fails unless v is one of `choices`, naming the method. */
export function checkChoice(method: string, name: string, v: string, choices: readonly string[]): void {
  if (!choices.includes(v)) fail(`option ${name} = ${JSON.stringify(v)} of method ${method}: expected one of ${choices.join(', ')}`, 'usage');
}
