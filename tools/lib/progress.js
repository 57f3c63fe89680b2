// tools/lib/progress.js: progress on stderr, for people: on a terminal one bar that redraws itself (count, rate,
// ETA and the stage running), elsewhere (a log file, CI) plain lines: "[3/10] photos/cat.jpg" per item and, for
// models slow enough to need them, one line per stage ("  perturbed 16/100"). Messages logged through it never
// tangle with the bar. Nothing here is in src/: the library only reports stages through explain's `progress`.

// explain's stage names, as a person reads them
const STAGE_NAMES = { decompose: 'α, top-P, PCA', perturbed: 'perturbed batch', method: 'method', postprocess: 'upsample' };

export function createProgress(total, { stream = process.stderr, stageLines = false } = {}) {
  const tty = Boolean(stream.isTTY);
  const t0 = performance.now();
  let done = 0;
  let current = '';
  let stage = '';
  let barShown = false;

  const clear = () => { if (barShown) { stream.write('\r\x1b[K'); barShown = false; } };
  const draw = () => {
    if (!tty) return;
    const width = 24;
    const filled = Math.round((done / Math.max(total, 1)) * width);
    const secs = (performance.now() - t0) / 1000;
    const rate = done > 0 ? done / secs : 0;
    const eta = rate > 0 ? `ETA ${Math.ceil((total - done) / rate)} s` : 'ETA …';
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${rate.toFixed(2)}/s ${eta}` +
      `${current ? ` · ${current}` : ''}${stage ? ` · ${stage}` : ''}`;
    const cols = stream.columns || 100;
    stream.write(`\r\x1b[K${line.slice(0, cols - 1)}`);
    barShown = true;
  };

  return {
    /** A message line (kept above the bar on a terminal). */
    log(msg) {
      clear();
      stream.write(`${msg}\n`);
      draw();
    },
    /** Item i (0-based) starts. */
    start(i, name) {
      current = name;
      stage = '';
      if (tty) draw();
      else if (total > 1) stream.write(`[${i + 1}/${total}] ${name}\n`);
    },
    /** explain's progress callback: (stage, done, total). */
    stage(name, k, n) {
      const shown = STAGE_NAMES[name] ?? name;
      stage = n > 1 ? `${shown} ${k}/${n}` : shown;
      if (tty) draw();
      else if (stageLines && (k === 0 || n > 1)) stream.write(`  ${stage}\n`);
    },
    /** Item finished (whether it worked or not). */
    finish() {
      done++;
      stage = '';
      if (tty) draw();
    },
    /** The run is over: the bar is removed. */
    end() {
      clear();
    },
  };
}
