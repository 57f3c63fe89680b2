// worker/node-run.ts: the entry file of an Explainer's worker thread on Node (worker_threads): worker/run.ts
// over parentPort. A browser build gives run.ts a Web Worker's self instead.

import { parentPort } from 'node:worker_threads';
import { serve } from './run.js';

const port = parentPort;
if (!port) throw new Error('worker/node-run.js is a worker thread\'s entry file: start it with new Worker()');
serve({
  on: (listener) => port.on('message', listener),
  post: (message, transfer) => port.postMessage(message, transfer),
});
