// test/datasets.test.js: the eval datasets read their annotation files exactly — VOC's 1-based inclusive boxes
// become [xmin-1, ymin-1, xmax, ymax], COCO's [x, y, w, h] become [x, y, x+w, y+h], objects of one class in one
// image form one query. Uses ../shared/data/images (skips where absent).
import test from 'tape';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadVoc, loadCoco } from '../dist/eval/datasets.js';
import { sharedOrSkip } from './helpers/compare.js';

test('datasets: VOC XML folder', (t) => {
  const dir = sharedOrSkip(t, 'images/voc');
  if (!dir) return t.end();
  const ds = loadVoc(dir);
  t.equal(ds.images.length, 4, 'four annotated images');
  const first = ds.images[0];
  t.ok(first.file.endsWith('VOC2007_000002.jpg') && first.width === 335 && first.height === 500, 'file and size from the XML');
  // VOC2007_000002.xml: one train, xmin 139 ymin 200 xmax 207 ymax 301
  t.deepEqual(first.objects.map((o) => [o.label, o.prompt, o.boxes]), [['train', 'a photo of a train', [[138, 199, 207, 301]]]],
    'VOC box 139,200,207,301 (1-based inclusive) → [138, 199, 207, 301]');
  const xml = readFileSync(join(dir, 'VOC2007_000004.xml'), 'utf8');
  const boxesInXml = (xml.match(/<object>/g) ?? []).length;
  const boxesRead = ds.images[2].objects.reduce((n, o) => n + o.boxes.length, 0);
  t.equal(boxesRead, boxesInXml, `every <object> of VOC2007_000004.xml is read (${boxesInXml}), grouped by class`);
  t.deepEqual(ds.prompts, [...new Set(ds.images.flatMap((im) => im.objects.map((o) => o.prompt)))].sort(), 'prompts: one per class');
  t.end();
});

test('datasets: COCO-style JSON, both forms', (t) => {
  const ann = sharedOrSkip(t, 'images/annotations.json');
  if (!ann) return t.end();
  const simple = loadCoco(ann);
  const src = JSON.parse(readFileSync(ann, 'utf8'));
  const coco = simple.images.find((im) => im.file.endsWith('coco_000000039769.png'));
  const cats = coco.objects.find((o) => o.label === 'cat');
  t.deepEqual(cats.boxes, src.images[0].objects.filter((o) => o.label === 'cat').map((o) => o.bbox_xyxy), 'simple form: bbox_xyxy kept, two cats in one query');

  // The same image in COCO's instances format, written here from the simple form's numbers.
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-coco-'));
  const instances = {
    images: [{ id: 7, file_name: relative(dir, join(ann, '..', 'coco_000000039769.png')), width: 640, height: 480 }],
    categories: [{ id: 17, name: 'cat' }],
    annotations: [{ image_id: 7, category_id: 17, bbox: [17.5, 54.38, 301.25, 415] }],
  };
  writeFileSync(join(dir, 'instances.json'), JSON.stringify(instances));
  const ds = loadCoco(join(dir, 'instances.json'));
  t.deepEqual(ds.images[0]?.objects[0]?.boxes, [[17.5, 54.38, 17.5 + 301.25, 54.38 + 415]], 'instances form: [x, y, w, h] → [x, y, x+w, y+h]');
  t.throws(() => loadCoco(join(dir, 'missing.json')), /does not exist/, 'a missing file is named');
  t.end();
});
