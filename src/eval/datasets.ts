// eval/datasets.ts: annotated image sets as a flat list of image–text pairs for tools/eval.js.
// Three sources: the generated scenes shipped in weights/scenes-heldout (annotations.json, masks as PNG),
// a folder of Pascal VOC XML files beside their JPEGs, and a COCO-style JSON (COCO's instances format, or a
// simple {images: [{file, width, height, objects: [{label, bbox_xyxy}]}]}).
// Boxes come out as eval/frame.ts's Box: [x1, y1, x2, y2], end exclusive, in the original image's pixels.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fail } from '../errors.js';
import type { Box } from './frame.js';

/**
 * One object (one query) of an evaluation image: its label, the prompt explained, its boxes [x1, y1, x2, y2] and
 * optional mask.
 */
export interface EvalObject {
  id: string;             // the object's name within its image, stable under reordering of the dataset files:
                          // the scene object's index ('obj0'), or the VOC/COCO class label
  label: string;          // class name ('dog') or the object's caption ('a red circle')
  prompt: string;         // the text the CAM explains
  boxes: Box[];
  maskFile?: string;      // a 0/255 PNG at the image's resolution, where the dataset has one
  group?: string;         // the dataset-defined group of this pair (one of EvalDataset.groups), where it has them
}

/** One evaluation image: its file, size in pixels and objects. */
export interface EvalImage {
  id: string;             // the file's path relative to the dataset's root: names the image in records and shards
  file: string;           // absolute path
  width: number;
  height: number;
  objects: EvalObject[];  // one query each
}

/** An evaluation dataset: its images and the closed set of prompts. */
export interface EvalDataset {
  name: string;
  images: EvalImage[];
  prompts: string[];      // the closed set of prompts, for zero-shot accuracy and class probabilities
  groups?: string[];      // the names of the pair groups, in the order tables list them (absent: no groups)
}

/** The generated scenes' groups: what else is in the picture beside the queried object. */
export const SCENE_GROUPS = ['single object', 'same colour', 'different colours'];

// 'single object': the object is alone; 'same colour': another object has its colour (colour alone cannot find
// it, the shape must); 'different colours': every other object has another colour.
function sceneGroup(objects: { colour?: string }[], k: number): string {
  if (objects.length === 1) return SCENE_GROUPS[0];
  return objects.some((o, j) => j !== k && o.colour === objects[k].colour) ? SCENE_GROUPS[1] : SCENE_GROUPS[2];
}

/**
 * 'a photo of a dog' — CLIP's usual template for a class name.
 */
export function classPrompt(label: string): string {
  return `a photo of a ${label}`;
}

function readJson(path: string, what: string): unknown {
  if (!existsSync(path)) fail(`${what} ${path} does not exist`, 'usage');
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    return fail(`${what} ${path} is not valid JSON: ${(e as Error).message}`, 'usage');
  }
}

function checkBox(box: unknown, where: string): Box {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
      box[2] < box[0] || box[3] < box[1]) {
    fail(`${where}: box ${JSON.stringify(box)} is not [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1`, 'usage');
  }
  return [box[0], box[1], box[2], box[3]];
}

/**
 * The generated scenes (reference/scenes.py --export): each object queried by its own caption.
 */
export function loadScenes(dir: string): EvalDataset {
  // the held-out scenes live in the repository, not in the npm package (it stays small)
  if (!existsSync(join(dir, 'annotations.json'))) {
    fail(`scene annotations ${join(dir, 'annotations.json')} do not exist: the held-out scenes are in the repository ` +
      '(weights/scenes-heldout), not in the npm package; run from a clone, or give another dataset (--voc, --coco)', 'usage');
  }
  const ann = readJson(join(dir, 'annotations.json'), 'scene annotations') as {
    object_captions?: string[]; scenes?: { file: string; width: number; height: number;
      objects: { caption: string; colour?: string; box_xyxy: number[]; mask?: string }[] }[];
  };
  if (!Array.isArray(ann.scenes) || !Array.isArray(ann.object_captions)) {
    fail(`${join(dir, 'annotations.json')} is not a scenes file: expected "scenes" and "object_captions"`, 'usage');
  }
  const images = ann.scenes.map((s, i) => ({
    id: s.file, file: join(dir, s.file), width: s.width, height: s.height,
    objects: s.objects.map((o, k) => ({
      id: `obj${k}`, label: o.caption, prompt: o.caption, boxes: [checkBox(o.box_xyxy, `scene ${i} (${s.file})`)],
      maskFile: o.mask ? join(dir, o.mask) : undefined,
      // groups need every object's colour; scenes exported before colours were recorded have none
      group: s.objects.every((x) => typeof x.colour === 'string') ? sceneGroup(s.objects, k) : undefined,
    })),
  }));
  const grouped = images.every((im) => im.objects.every((o) => o.group !== undefined));
  return { name: `scenes:${dir}`, images, prompts: [...ann.object_captions], ...(grouped ? { groups: [...SCENE_GROUPS] } : {}) };
}

// The text inside <tag>…</tag> of a small XML string (VOC's files are flat and regular).
function xmlText(xml: string, tag: string): string | null {
  const m = new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`).exec(xml);
  return m ? m[1] : null;
}

/**
 * Pascal VOC: one XML per image; boxes are 1-based inclusive, so [xmin-1, ymin-1, xmax, ymax] here.
 * Objects of the same class in one image form one query (the pointing game hits any of them).
 */
export function loadVoc(dir: string): EvalDataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) fail(`VOC folder ${dir} does not exist`, 'usage');
  const xmls = readdirSync(dir).filter((f) => f.endsWith('.xml')).sort();
  if (xmls.length === 0) fail(`VOC folder ${dir} holds no .xml annotation files`, 'usage');
  const labels = new Set<string>();
  const images = xmls.map((x) => {
    const xml = readFileSync(join(dir, x), 'utf8');
    const jpg = join(dir, x.replace(/\.xml$/, '.jpg'));
    const named = xmlText(xml, 'filename');
    const file = existsSync(jpg) ? jpg : named ? join(dir, named) : jpg;
    const width = Number(xmlText(xml, 'width'));
    const height = Number(xmlText(xml, 'height'));
    const byLabel = new Map<string, Box[]>();
    for (const obj of xml.split('<object>').slice(1)) {
      const name = xmlText(obj, 'name');
      const b = ['xmin', 'ymin', 'xmax', 'ymax'].map((k) => Number(xmlText(obj, k)));
      if (!name) fail(`${join(dir, x)}: an <object> has no <name>`, 'usage');
      const box = checkBox([b[0] - 1, b[1] - 1, b[2], b[3]], join(dir, x));
      labels.add(name);
      byLabel.set(name, [...(byLabel.get(name) ?? []), box]);
    }
    return {
      id: relative(dir, file), file, width, height,
      objects: [...byLabel].map(([label, boxes]) => ({ id: label, label, prompt: classPrompt(label), boxes })),
    };
  });
  return { name: `voc:${dir}`, images, prompts: [...labels].sort().map(classPrompt) };
}

/**
 * COCO instances JSON ({images, annotations: [{image_id, category_id, bbox: [x, y, w, h]}], categories}), or the
 * simple form {images: [{file, width, height, objects: [{label, bbox_xyxy}]}]}; images beside the JSON.
 */
export function loadCoco(jsonPath: string): EvalDataset {
  const root = dirname(jsonPath);
  const j = readJson(jsonPath, 'COCO annotations') as Record<string, unknown>;
  const labels = new Set<string>();
  let images: EvalImage[];
  if (Array.isArray(j.annotations) && Array.isArray(j.categories) && Array.isArray(j.images)) {
    const cats = new Map((j.categories as { id: number; name: string }[]).map((c) => [c.id, c.name]));
    const per = new Map<number, Map<string, Box[]>>();
    for (const a of j.annotations as { image_id: number; category_id: number; bbox: number[] }[]) {
      const label = cats.get(a.category_id);
      if (!label) fail(`${jsonPath}: annotation names category ${a.category_id}, which is not in "categories"`, 'usage');
      const [x, y, w, h] = a.bbox;
      const m = per.get(a.image_id) ?? new Map<string, Box[]>();
      m.set(label, [...(m.get(label) ?? []), checkBox([x, y, x + w, y + h], jsonPath)]);
      per.set(a.image_id, m);
      labels.add(label);
    }
    images = (j.images as { id: number; file_name: string; width: number; height: number }[]).map((im) => ({
      id: im.file_name, file: join(root, im.file_name), width: im.width, height: im.height,
      objects: [...(per.get(im.id) ?? new Map<string, Box[]>())].map(([label, boxes]) => ({ id: label, label, prompt: classPrompt(label), boxes })),
    }));
  } else if (Array.isArray(j.images)) {
    images = (j.images as { file: string; width: number; height: number; objects: { label: string; bbox_xyxy: number[] }[] }[])
      .map((im) => {
        const byLabel = new Map<string, Box[]>();
        for (const o of im.objects ?? []) {
          byLabel.set(o.label, [...(byLabel.get(o.label) ?? []), checkBox(o.bbox_xyxy, `${jsonPath} (${im.file})`)]);
          labels.add(o.label);
        }
        return {
          id: im.file, file: join(root, im.file), width: im.width, height: im.height,
          objects: [...byLabel].map(([label, boxes]) => ({ id: label, label, prompt: classPrompt(label), boxes })),
        };
      });
  } else {
    return fail(`${jsonPath} is neither COCO instances JSON (images, annotations, categories) nor {images: [{file, objects}]}`, 'usage');
  }
  images = images.filter((im) => im.objects.length > 0 && existsSync(im.file));
  return { name: `coco:${jsonPath}`, images, prompts: [...labels].sort().map(classPrompt) };
}
