// report/report.ts: report.html — one self-contained page that walks through one run the way the paper does:
// the input and what the model saw, the scores (step 1), per text the gradients (2), α and the top-P channels
// (3), the PCA spectrum (4), every OSSM beside its mask, perturbed image, score, gain and weight, sorted by
// weight (5–6), the final map over the image (7), the methods compared, and the run's options and timings.
// Each step names the source file that computes it. Pictures are PNG data URIs, plots inline SVG (report/svg.ts).

import { applyJet } from '../image/colormap.js';
import { encodePng, type RgbImage } from '../image/decode.js';
import { resizeBicubic } from '../image/resize.js';
import type { Explanation } from '../cam/explain.js';
import type { TextExplanation } from '../cam/template.js';
import type { ClipConfig } from '../clip/config.js';
import { applyDiverging, divergingStops, jetOfRange, jetStops } from './colors.js';
import { weightOrder } from './components.js';
import { escapeHtml, figure, page, pngImg, section } from './html.js';
import { cropBoxInImage, mapToImage, overlayInImage } from './imagemap.js';
import { normalizedToImage, shrink, tensorToImage } from './raster.js';
import { colorBar, fmt, hbars, sortedBars, spectrum } from './svg.js';

/** Longest side of the pictures embedded in the page (a 4000 px photo is shown, not embedded, at full size). */
export const DISPLAY_MAX = 480;
// Small pictures are enlarged on screen (pixelated) to at least this long side.
const SHOW_MIN = 320;
// The side of the OSSM panels' three small pictures on screen.
const PANEL = 112;

/** What the report is made from: the run's explanation (made with `trace`), the methods to compare, the input. */
export interface ReportInput {
  /** The image as the user named it. */
  imageName: string;
  /** The decoded input (H, W, 3). */
  image: RgbImage;
  /** The main method's explanation, made with the `trace` option. */
  main: Explanation;
  /** Other methods on the same texts (--compare), possibly none. */
  compare: Explanation[];
  model: { name: string; config: ClipConfig; logitScale: number; dtype: string; backend: string };
  /** ms per stage of the whole run (decode, load, …). */
  timingsMs: Record<string, number>;
  /** Every warning of the run (shown at the top). */
  warnings: string[];
  /** Per text, the files written beside the report (relative paths), shown as links. */
  files?: Record<string, string>[];
  version: string;
}

// The input resized to fit DISPLAY_MAX (itself when it fits), and its on-screen size.
function displayFrame(img: RgbImage): { img: RgbImage; showW: number; showH: number } {
  const long = Math.max(img.width, img.height);
  const k = long > DISPLAY_MAX ? DISPLAY_MAX / long : 1;
  const W = Math.max(1, Math.round(img.width * k)), H = Math.max(1, Math.round(img.height * k));
  const shown = k === 1 ? img : resizeBicubic(img, H, W);
  const s = Math.max(W, H) < SHOW_MIN ? SHOW_MIN / Math.max(W, H) : 1;
  return { img: shown, showW: W * s, showH: H * s };
}

function png(img: RgbImage): Uint8Array {
  return encodePng(img.data, img.height, img.width);
}

// The input with the crop box drawn over it (an SVG rectangle over the <img>).
function inputWithBox(input: ReportInput, disp: ReturnType<typeof displayFrame>): string {
  const { image, main } = input;
  const box = cropBoxInImage(image.height, image.width, main.S);
  const kx = disp.showW / image.width, ky = disp.showH / image.height;
  const rect = `<svg width="${disp.showW}" height="${disp.showH}" style="position:absolute;left:1px;top:1px" aria-hidden="true">` +
    `<rect x="${(box.x0 * kx).toFixed(1)}" y="${(box.y0 * ky).toFixed(1)}" width="${((box.x1 - box.x0) * kx).toFixed(1)}" ` +
    `height="${((box.y1 - box.y0) * ky).toFixed(1)}" fill="none" stroke="#ffeb3b" stroke-width="3" stroke-dasharray="8 4"/></svg>`;
  return `<div style="position:relative;display:inline-block">${pngImg(png(disp.img), `input ${input.imageName}`, disp.showW, disp.showH)}${rect}</div>`;
}

// The crop with the layer's patch grid drawn over it.
function cropWithGrid(main: Explanation): string {
  const S = main.S, show = Math.max(S, 256);
  const { h, w } = main.grid;
  let lines = '';
  for (let i = 1; i < h; i++) lines += `<line x1="0" x2="${show}" y1="${((i * show) / h).toFixed(1)}" y2="${((i * show) / h).toFixed(1)}"/>`;
  for (let j = 1; j < w; j++) lines += `<line y1="0" y2="${show}" x1="${((j * show) / w).toFixed(1)}" x2="${((j * show) / w).toFixed(1)}"/>`;
  const svgGrid = `<svg width="${show}" height="${show}" style="position:absolute;left:1px;top:1px" aria-hidden="true">` +
    `<g stroke="#fff" stroke-opacity=".55" stroke-width="1">${lines}</g></svg>`;
  return `<div style="position:relative;display:inline-block">${pngImg(png(tensorToImage(main.rgb.data, S)), 'the preprocessed crop', show, show)}${svgGrid}</div>`;
}

// The final map of one text over the image (its frame, shaded margins) at display size.
function mapOverImage(input: ReportInput, disp: ReturnType<typeof displayFrame>, r: TextExplanation, alt: string, scale = 1): string {
  const fm = mapToImage(r.map.data, input.main.S, input.image.height, input.image.width, disp.img.height, disp.img.width);
  return pngImg(png(overlayInImage(disp.img, fm)), alt, disp.showW * scale, disp.showH * scale);
}

function table(head: string[], rows: string[][]): string {
  return `<table>${head.length ? `<tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr>` : ''}` +
    rows.map((r) => `<tr>${r.map((c) => `<td${/^[-−+0-9.e%]+$/.test(c) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('') + '</table>';
}

// Step 1: per text its score and cosine, and CLIP's softmax over all texts of the run: exp(logit_scale)·cos.
function scoresSection(input: ReportInput): string {
  const { main, model } = input;
  const scale = Math.exp(model.logitScale);
  const logits = main.results.map((r) => scale * r.cosine);
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const sum = e.reduce((a, b) => a + b, 0);
  const probs = e.map((v) => v / sum);
  const rows = main.results.map((r, k) => [escapeHtml(r.text), r.scoreKind, fmt(r.score, 5), fmt(r.cosine, 5), `${(probs[k] * 100).toFixed(1)}%`]);
  const bars = hbars(main.results.map((r, k) => ({ label: r.text, value: probs[k], text: `${(probs[k] * 100).toFixed(1)}%` })),
    `softmax over the ${main.results.length} text${main.results.length > 1 ? 's' : ''} (logit scale ${fmt(scale, 4)})`);
  const note = main.results.length === 1 ? '<p>With one text the softmax is 1: give several <code>--text</code> to see how CLIP ranks them.</p>' : '';
  return section('Step 1', 'Score each text',
    `CLIP embeds the image and each text; the score S is their ${escapeHtml(main.results[0].scoreKind)} (what DecomCAM explains), and the softmax of exp(logit_scale)·cosine over the texts is CLIP's zero-shot probability.`,
    'src/clip/score.ts, src/cam/template.ts (scoreText)',
    table(['text', 'score kind', 'score S', 'cosine', 'softmax'], rows) + bars + note, 'step1');
}

// Step 2: the gradient map, mean |dS/dA| over channels at each grid position.
function gradientSection(input: ReportInput, r: TextExplanation): string {
  const { h, w, C } = input.main.grid;
  const g = r.trace?.grads?.data;
  if (!g) return '';
  const mag = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.abs(g[p * C + c]);
    mag[p] = s / C;
  }
  const { image, min, max } = jetOfRange(mag, h, w);
  const body = max === 0
    ? `<p>All zero: ${escapeHtml(input.main.method)} reads no gradients, or this layer does not feed the score.</p>`
    : `<div class="row">${figure(pngImg(png(image), 'mean |gradient| per position', 224, 224), `mean |dS/dA| over ${C} channels (${h}×${w} grid)`)}` +
      `${colorBar(jetStops(), fmt(min), fmt(max), 'mean |dS/dA|')}</div>`;
  return section('Step 2', 'Gradients at the target layer',
    `The backward pass gives dS/dA, how each of the ${h}×${w} positions' ${C} channels would move the score; here mean |dS/dA| per position.`,
    'src/cam/template.ts (gradientsOf), src/clip/vision.ts (visionBackward)', body);
}

// Step 3: α sorted with the top-P channels marked (DecomCAM), or a baseline's channel weights.
function alphaSection(input: ReportInput, r: TextExplanation, decom: boolean): string {
  const alpha = decom ? r.trace?.alpha?.data : r.channelWeights?.data;
  if (!alpha) return '';
  const sorted = Float64Array.from(alpha).sort().reverse();
  const C = alpha.length;
  if (!decom) {
    return section('Step 3', 'Channel weights', `${escapeHtml(input.main.method)} weighs each of the ${C} channels; the map is Σ_c weight_c·A_c.`,
      `src/cam/${input.main.method}.ts`, sortedBars(sorted, 0, { title: 'channel weights, sorted', yLabel: 'weight', markLabel: '' }));
  }
  const K = r.trace?.top?.data.length ?? C;
  const P = Number(input.main.options.P);
  const mark = K < C ? `top-P: ${K} of ${C} kept` : `P = ${P} ≥ C: all ${C} kept`;
  return section('Step 3', 'Channel weights α and the top-P channels',
    `α_c is the mean gradient of channel c over positions; DecomCAM keeps the ${K} channels with the largest signed α and forms X = A[:, top]·α[top] (${input.main.grid.h * input.main.grid.w}×${K}).`,
    'src/cam/decomcam.ts (topChannels, weightedActivations)',
    sortedBars(sorted, K, { title: `α of ${C} channels, sorted (orange: kept)`, yLabel: 'α', markLabel: mark }));
}

// Step 4: the singular-value spectrum.
function spectrumSection(r: TextExplanation, Q: number): string {
  const sv = r.trace?.singularValues?.data, ratio = r.trace?.explainedVarianceRatio?.data;
  if (!sv || !ratio) return '';
  return section('Step 4', `PCA of X → ${Q} orthogonal sub-saliency maps (OSSMs)`,
    'The principal components of X split the weighted activations into orthogonal spatial patterns; OSSM_q is column q of U·Σ on the grid.',
    'src/cam/decomcam.ts (ossmsByPca), src/linalg/pca.ts', spectrum(sv, ratio));
}

// Steps 5–6: every component, sorted by weight, with its OSSM, mask, perturbed image and numbers.
function componentsSection(input: ReportInput, r: TextExplanation, k: number): string {
  const { main } = input;
  const S = main.S;
  const { h, w } = main.grid;
  const ossm = r.ossm?.data, masks = r.masks?.data, weights = r.weights?.data, s = r.perturbedScores?.data;
  const batch = r.trace?.batch?.data;
  if (!ossm || !masks || !weights || !s || !batch) return '';
  const s0 = r.trace?.s0 ? r.trace.s0.data[0] : null;
  const blur = r.trace?.blur?.data;
  const perturbNormalized = main.options.perturb === 'normalized';
  let baseline = '';
  if (blur) {
    const im = perturbNormalized ? normalizedToImage(blur, S) : tensorToImage(blur, S);
    baseline = figure(pngImg(png(im), 'the blurred image', PANEL, PANEL),
      `the blurred image (σ ${fmt(Number(main.options.sigma))} px)${s0 !== null ? `: baseline score s₀ = ${fmt(s0, 5)}` : ' (no baseline: gains are the scores)'}`);
  }
  const panels = weightOrder(weights).map((q) => {
    const one = ossm.subarray(q * h * w, (q + 1) * h * w);
    let maxAbs = 0;
    for (const v of one) maxAbs = Math.max(maxAbs, Math.abs(v));
    const signed = pngImg(png(applyDiverging(one, h, w, maxAbs)), `OSSM ${q} (signed)`, PANEL, PANEL);
    // shown at PANEL px: a 224 px crop is embedded at half size (a quarter of the bytes and the encoding time)
    const factor = Math.floor(S / PANEL);
    const mask = pngImg(png(shrink(applyJet(masks.subarray(q * S * S, (q + 1) * S * S), S, S), factor)), `mask ${q}`, PANEL, PANEL);
    const pert = pngImg(png(shrink(normalizedToImage(batch, S, q * 3 * S * S), factor)), `perturbed image ${q}`, PANEL, PANEL);
    const gain = s[q] - (s0 ?? 0);
    const zero = weights[q] === 0;
    return `<div class="ossm${zero ? ' zero' : ''}" data-text="${k}" data-q="${q}" data-weight="${Number(weights[q].toPrecision(6))}">` +
      `<div><span class="badge">#${q}</span> weight <b class="weight">${weights[q].toFixed(3)}</b>${zero ? ' — <i>weight 0: not in the map</i>' : ''}</div>` +
      `<div class="imgs">${signed}${mask}${pert}</div>` +
      `<div class="nums">±${fmt(maxAbs)} · score s = ${fmt(s[q], 5)} · gain r = ${gain >= 0 ? '+' : ''}${fmt(gain, 3)}</div></div>`;
  }).join('');
  const legend = `<div class="row">${colorBar(divergingStops(), '−max|OSSM_q|', '+max|OSSM_q|', 'OSSM_q (signed, before ReLU; white = 0)')}` +
    `${colorBar(jetStops(), '0', '1', 'mask m_q (upsampled ReLU, min-max)')}</div>`;
  return section('Steps 5–6', 'Masks, perturbed images and their scores',
    `Each OSSM's positive part, upsampled to ${S}×${S} and min-max normalised, is a mask m_q; the image it keeps, max(x·m_q, blur·(1−m_q)), is scored again. ` +
    'Its gain over the blurred image decides its weight. Panels are sorted by weight; left to right: the signed OSSM, its mask, the perturbed image.',
    'src/cam/decomcam.ts (upsampledMasks, perturbedBatch, componentWeights)',
    `<div class="row">${baseline}</div>${legend}<div class="ossms">${panels}</div>`);
}

// Step 7 (or the method's map): the final map over the image, the model's view, the colour bar.
function finalSection(input: ReportInput, disp: ReturnType<typeof displayFrame>, r: TextExplanation, decom: boolean): string {
  const S = input.main.S;
  const crop = tensorToImage(input.main.rgb.data, S);
  const cropMap = overlayInImage(crop, mapToImage(r.map.data, S, S, S));
  const showCrop = Math.max(S, 224);
  const nz = r.weights ? Array.from(r.weights.data).filter((v) => v > 0).length : 0;
  const zero = r.map.data.every((v) => v === 0) ? ' — <b>all zero</b>: this map shows nothing (see the warnings)' : '';
  return section(decom ? 'Step 7' : 'Map', 'The final map',
    decom ? `map = min-max(ReLU(Σ_q w_q·M_q)) over the ${nz} components of non-zero weight, in the crop's frame, carried back to the image (hatched: never seen by the model).`
      : `${escapeHtml(input.main.method)}'s map in the crop's frame, carried back to the image (hatched: never seen by the model).`,
    decom ? 'src/cam/decomcam.ts (integrate), src/report/imagemap.ts' : `src/cam/${input.main.method}.ts, src/cam/template.ts (postprocess), src/report/imagemap.ts`,
    `<div class="row">${figure(mapOverImage(input, disp, r, `final map over ${input.imageName}`), `over the image (${input.image.width}×${input.image.height})${zero}`)}` +
    figure(pngImg(png(cropMap), 'the model\'s view', showCrop, showCrop), `the model's view (${S}×${S} crop)`) +
    `${colorBar(jetStops(), '0', '1', 'saliency (JET)')}</div>`);
}

function compareSection(input: ReportInput, disp: ReturnType<typeof displayFrame>, k: number): string {
  if (input.compare.length === 0) return '';
  const all = [input.main, ...input.compare];
  const figs = all.map((ex) => {
    const r = ex.results[k];
    const zero = r.map.data.every((v) => v === 0);
    return figure(mapOverImage(input, disp, r, `${ex.method} map`, 0.6), `<b>${escapeHtml(ex.method)}</b>${zero ? ' — <i>all-zero map</i>' : ''}`);
  }).join('');
  return section('Compare', 'The methods side by side',
    'Each method\'s final map on the same colour scale (each min-max normalised to [0, 1]); those that read gradients share this run\'s one forward and backward.',
    `src/cam/explain.ts (explainMethods), ${all.map((e) => `src/cam/${e.method}.ts`).join(', ')}`,
    `<div class="row">${figs}</div>${colorBar(jetStops(), '0', '1', 'saliency (JET)')}`);
}

function runSection(input: ReportInput): string {
  const { main, model } = input;
  const v = model.config.vision;
  const opts = Object.entries(main.options).map(([k, val]) => [escapeHtml(k), escapeHtml(String(val))]);
  if (opts.length === 0) opts.push([`${escapeHtml(main.method)} has none`, '']);
  const info = [
    ['model', escapeHtml(model.name)], ['vision tower', `${v.layers} layers, width ${v.width}, patch ${v.patchSize}, input ${v.imageSize}×${v.imageSize}`],
    ['method', escapeHtml(main.method)], ['preset', escapeHtml(main.preset ?? '—')], ['layer', escapeHtml(main.layer)],
    ['grid', `${main.grid.h}×${main.grid.w}, ${main.grid.C} channels`], ['dtype', escapeHtml(model.dtype)], ['backend', escapeHtml(model.backend)],
    ['decomcam', escapeHtml(input.version)],
  ];
  // the run's stages, then each text's own (backward and the method's steps)
  const timing = Object.entries(input.timingsMs).filter(([, ms]) => Number.isFinite(ms));
  main.results.forEach((r, k) => {
    for (const [stage, ms] of Object.entries(r.timings)) timing.push([`text ${k}: ${stage}`, ms]);
  });
  const bars = hbars(timing.map(([k, ms]) => ({ label: k, value: ms, text: `${ms.toFixed(1)} ms` })), 'per-stage timings (ms)');
  return section('Run', 'Options, model, backend and timings', 'What produced this page, to reproduce it.', 'tools/explain.js',
    `<div class="row">${table([], info)}${table(['option', 'value'], opts)}</div>${bars}`);
}

/** The page. */
export function renderReport(input: ReportInput): string {
  const { main } = input;
  const decom = main.results[0]?.ossm !== null && main.results[0]?.ossm !== undefined;
  const disp = displayFrame(input.image);
  const S = main.S;
  const warn = input.warnings.length
    ? `<div class="warn"><b>Warnings</b><ul>${input.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>` : '';
  const head = `<h1>${escapeHtml(main.method === 'decomcam' ? 'DecomCAM' : main.method)}: where CLIP sees ${main.results.map((r) => `“${escapeHtml(r.text)}”`).join(', ')}</h1>` +
    `<p>${escapeHtml(input.imageName)} (${input.image.width}×${input.image.height}) · ${escapeHtml(input.model.name)} · layer <code>${escapeHtml(main.layer)}</code></p>${warn}`;
  const inputSec = section('Input', 'What the model sees',
    `CLIP resizes the short side to ${S} and cuts the centre ${S}×${S} (dashed box); the target layer <code>${escapeHtml(main.layer)}</code> sees it as a ${main.grid.h}×${main.grid.w} grid of positions with ${main.grid.C} channels each.`,
    'src/image/preprocess.ts, src/image/geometry.ts (clipCrop)',
    `<div class="row">${figure(inputWithBox(input, disp), `the input, ${input.image.width}×${input.image.height}`)}` +
    `${figure(cropWithGrid(main), `the preprocessed crop, ${S}×${S}, with the ${main.grid.h}×${main.grid.w} patch grid`)}</div>`, 'input');
  const perText = main.results.map((r, k) => {
    const files = input.files?.[k];
    const links = files ? `<p>files: ${Object.values(files).map((f) => `<a href="${escapeHtml(f)}">${escapeHtml(f)}</a>`).join(' · ')}</p>` : '';
    const tw = r.warnings.length ? `<div class="warn">${r.warnings.map((x) => escapeHtml(x)).join('<br>')}</div>` : '';
    return `<h2 class="text-title" id="text-${k}">Text ${k}: “${escapeHtml(r.text)}” — score ${fmt(r.score, 5)}</h2>${links}${tw}` +
      gradientSection(input, r) + alphaSection(input, r, decom) + (decom ? spectrumSection(r, Number(main.options.Q)) + componentsSection(input, r, k) : '') +
      finalSection(input, disp, r, decom) + compareSection(input, disp, k);
  }).join('');
  return page(`${main.method} report: ${input.imageName}`, head + inputSec + scoresSection(input) + perText + runSection(input));
}
