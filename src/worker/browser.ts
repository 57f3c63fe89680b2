// worker/browser.ts: worker/node.ts for a browser (the browser bundle puts it in node.ts's place): an Explainer
// whose worker is a module Web Worker running explainer-worker.js beside the bundle, and explainAsync. The worker
// loads the model with loadClip(modelDir), which a browser cannot do from a folder: in a page, load the model
// with loadClipFromFiles and run explain in your own worker (see explorer/worker.js) instead.

import { fail } from '../errors.js';
import type { Explainer } from './explainer.js';
import type { ExplainArgs, ExplainResult, WorkerModelOptions } from './protocol.js';

/** Not in a browser (no model folders): a DecomcamError that says what to use instead. */
export function createExplainer(_modelDir: string, _options: WorkerModelOptions = {}): Promise<Explainer> {
  return Promise.reject(noFolders());
}

/** Not in a browser (no model folders): a DecomcamError that says what to use instead. */
export function explainAsync(_modelDir: string, _image: ExplainArgs[0], _texts: ExplainArgs[1], _options?: ExplainArgs[2],
  _modelOptions: WorkerModelOptions = {}): Promise<ExplainResult> {
  return Promise.reject(noFolders());
}

function noFolders(): Error {
  try {
    return fail('createExplainer/explainAsync load a model folder, which a browser does not have: load the model with ' +
      'loadClipFromFiles inside your own Web Worker and call explain() there (as explorer/worker.js does)', 'usage');
  } catch (e) {
    return e as Error;
  }
}
