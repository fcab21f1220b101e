import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { BeaconError } from '../../../errors/beaconError.js';

/**
 * `compression=lz64`: the body (or its `data=` field) is lz-string's `compressToBase64`
 * output, as older posthog-js versions send. Decoded with the `lz-string` package.
 *
 * lz-string is an LZW variant: n codes can expand to about n²/2 characters, and the library
 * has no output cap, so a small body could ask for gigabytes. It therefore runs in a worker
 * thread with a heap cap and a deadline: a body that expands past `maxChars`, the heap or the
 * deadline costs at most those, and is refused as BEACON_E_DECOMPRESSED_TOO_LARGE or
 * BEACON_E_BAD_ENCODING. At most MAX_WORKERS run at once. The worker start (some tens of
 * ms) is paid only by this legacy encoding; current clients send gzip.
 */

const LIBRARY = createRequire(import.meta.url).resolve('lz-string');
const DEADLINE_MS = 5_000;
/** Workers decoding at once; more requests wait their turn, so N lz64 bodies never cost N heaps. */
const MAX_WORKERS = 2;

let running = 0;
const waiting: Array<() => void> = [];

async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_WORKERS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const LZString = require(workerData.library);
const text = LZString.decompressFromBase64(workerData.input);
parentPort.postMessage(typeof text === 'string' && text.length <= workerData.maxChars ? { text } : { tooLarge: typeof text === 'string', invalid: typeof text !== 'string' });
`;

export function decompressLz64(input: string, maxChars: number): Promise<string> {
  return inTurn(() => decodeInWorker(input, maxChars));
}

function decodeInWorker(input: string, maxChars: number): Promise<string> {
  // Heap room for the output twice over (UTF-16 and the joined copy), plus the library's own.
  const heapMb = Math.ceil((maxChars * 4) / (1024 * 1024)) + 32;
  return new Promise<string>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { library: LIBRARY, input, maxChars },
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16 },
    });
    let settled = false;
    const finish = (err: Error | undefined, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve(text!);
    };
    const tooLarge = () =>
      new BeaconError(
        'BEACON_E_DECOMPRESSED_TOO_LARGE',
        `the lz64 body decompresses to more than ${maxChars} characters`,
        { limit: maxChars },
      );
    const timer = setTimeout(() => finish(tooLarge()), DEADLINE_MS);
    worker.once('message', (answer: { text?: string; tooLarge?: boolean }) => {
      if (answer.text !== undefined) finish(undefined, answer.text);
      else
        finish(
          answer.tooLarge
            ? tooLarge()
            : new BeaconError(
                'BEACON_E_BAD_ENCODING',
                'the body is not valid lz-string base64 data (compression=lz64)',
              ),
        );
    });
    worker.once('error', (err: Error & { code?: string }) => {
      finish(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? tooLarge()
          : new BeaconError(
              'BEACON_E_BAD_ENCODING',
              `the body is not valid lz-string base64 data (compression=lz64): ${err.message.slice(0, 200)}`,
            ),
      );
    });
    worker.once('exit', () => finish(new BeaconError('BEACON_E_BAD_ENCODING', 'the lz64 body could not be decoded')));
  });
}
