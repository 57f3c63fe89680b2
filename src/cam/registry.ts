// cam/registry.ts: the CAM methods by name. The built-in registry is frozen; a user adds a method by making a new
// registry (createRegistry(myMethod) or registerMethod(registry, myMethod)) and passing it to explain's
// `methods` option — nothing global changes, so two libraries in one process cannot step on each other.

import { fail } from '../errors.js';
import { decomcam } from './decomcam.js';
import { eigencam } from './eigencam.js';
import { eigengradcam } from './eigengradcam.js';
import { gradcam } from './gradcam.js';
import { gradcampp } from './gradcampp.js';
import { gscorecam } from './gscorecam.js';
import { hirescam } from './hirescam.js';
import { layercam } from './layercam.js';
import { scorecam } from './scorecam.js';
import type { CamMethod } from './template.js';
import { xgradcam } from './xgradcam.js';

/** The built-in methods' names. */
export type MethodName =
  'decomcam' | 'gradcam' | 'gradcampp' | 'xgradcam' | 'layercam' | 'hirescam' | 'eigencam' | 'eigengradcam' | 'scorecam' | 'gscorecam';

/** Methods by name, read-only; make a new one with createRegistry or registerMethod. */
export type MethodRegistry = ReadonlyMap<string, CamMethod>;

/** Every built-in method by name (the --method values of tools/explain.js), frozen. */
export const camMethods: Readonly<Record<MethodName, CamMethod>> = Object.freeze({
  decomcam, gradcam, gradcampp, xgradcam, layercam, hirescam, eigencam, eigengradcam, scorecam, gscorecam,
});

/** The built-in methods' names, in the order of the table. */
export const METHOD_NAMES = Object.freeze(Object.keys(camMethods)) as readonly MethodName[];

function checkMethod(m: CamMethod): void {
  if (!m || typeof m !== 'object' || typeof m.name !== 'string' || m.name === '') {
    fail('a CAM method needs a non-empty name (see CamMethod in cam/template.ts)', 'usage');
  }
  const kinds = [m.channelWeights, m.rawMap, m.fullMap].filter((f) => typeof f === 'function').length;
  if (kinds !== 1) fail(`method ${m.name} must define exactly one of channelWeights, rawMap, fullMap (it defines ${kinds})`, 'usage');
  if (!m.defaults || typeof m.defaults !== 'object') fail(`method ${m.name} needs defaults: its options with their defaults ({} for none)`, 'usage');
}

function frozenMap(entries: [string, CamMethod][]): MethodRegistry {
  const map = new Map(entries);
  // a ReadonlyMap in the types; at run time the mutators are taken away too
  for (const key of ['set', 'delete', 'clear'] as const) {
    Object.defineProperty(map, key, { value: () => fail('a method registry is read-only: use registerMethod to make a new one', 'usage') });
  }
  return map;
}

/** The built-in methods. */
export const builtinMethods: MethodRegistry = frozenMap(Object.entries(camMethods));

/** A new registry: the built-ins plus `methods` (a method of a built-in's name replaces it). */
export function createRegistry(...methods: CamMethod[]): MethodRegistry {
  methods.forEach(checkMethod);
  return frozenMap([...builtinMethods.entries(), ...methods.map((m): [string, CamMethod] => [m.name, m])]);
}

/** A new registry: `registry` plus `method`; `registry` is unchanged. */
export function registerMethod(registry: MethodRegistry, method: CamMethod): MethodRegistry {
  checkMethod(method);
  return frozenMap([...registry.entries(), [method.name, method]]);
}

/** The method called `name` in `registry`, or an error listing those there are. */
export function methodByName(registry: MethodRegistry, name: string): CamMethod {
  const m = typeof name === 'string' ? registry.get(name) : undefined;
  if (!m) fail(`method "${name}" is unknown: expected one of ${[...registry.keys()].join(', ')}`, 'usage');
  return m;
}
