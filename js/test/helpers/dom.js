// A browser-like global environment for the unit tests: a jsdom window whose globals the
// sources use (window, document, Image, requestAnimationFrame, ...), plus what jsdom
// lacks: a fake 2d canvas context, toDataURL, createImageBitmap (it reads the PNG
// header, so undecodable bytes are refused), HTMLImageElement.decode and matchMedia.
//
// Import this module before any module from src/: ES modules run their imports in order.
import { JSDOM, VirtualConsole } from 'jsdom';

/** Errors jsdom reports (e.g. "Not implemented: navigation"), for tests to inspect. */
export const jsdomErrors = /** @type {Error[]} */ ([]);
const virtualConsole = new VirtualConsole();
virtualConsole.on('jsdomError', (/** @type {Error} */ err) => jsdomErrors.push(err));

export const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', {
  url: 'http://localhost/notebooks/test.ipynb',
  pretendToBeVisual: true,  // requestAnimationFrame, document.hidden === false
  virtualConsole,
});
/** The jsdom window (its event classes: win.KeyboardEvent, win.MouseEvent, ...). */
export const win = dom.window;

/**
 * @param {string} name
 * @param {unknown} value
 */
function setGlobal(name, value) {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}

// The DOM the sources see. AbortController must be jsdom's: jsdom refuses a foreign
// AbortSignal in addEventListener options. Blob and URL stay Node's (createImageBitmap
// below reads Node Blobs).
// Node's own Event and EventTarget stay: nothing in src/ names them.
for (const name of [
  'window', 'document', 'HTMLElement', 'HTMLCanvasElement', 'HTMLImageElement', 'Image',
  'AbortController', 'AbortSignal', 'MutationObserver',
]) {
  setGlobal(name, /** @type {any} */ (win)[name]);
}
setGlobal('requestAnimationFrame', win.requestAnimationFrame.bind(win));
setGlobal('cancelAnimationFrame', win.cancelAnimationFrame.bind(win));

/**
 * Set window.devicePixelRatio (jsdom's is a fixed 1).
 * @param {number} value
 */
export function setDevicePixelRatio(value) {
  Object.defineProperty(win, 'devicePixelRatio', { value, configurable: true, writable: true });
}

// ------------------------------------------------------------------ canvas

/**
 * A recording stand-in for CanvasRenderingContext2D: every method call is kept in
 * `calls` as [name, ...args]; property writes simply land on the object.
 */
export class FakeContext2D {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    /** @type {any[][]} */
    this.calls = [];
    this.lineWidth = 1;
    this.strokeStyle = '#000';
    this.lineDashOffset = 0;
  }

  /** @param {string} name */
  callsOf(name) {
    return this.calls.filter((c) => c[0] === name);
  }
}
for (const method of ['clearRect', 'drawImage', 'setTransform', 'strokeRect', 'setLineDash', 'fillRect']) {
  Object.defineProperty(FakeContext2D.prototype, method, {
    value(/** @type {any[]} */ ...args) {
      this.calls.push([method, ...args]);
    },
  });
}

const contexts = new WeakMap();
win.HTMLCanvasElement.prototype.getContext = /** @type {any} */ (
  function getContext(/** @type {string} */ kind) {
    if (kind !== '2d') return null;
    let ctx = contexts.get(this);
    if (!ctx) contexts.set(this, (ctx = new FakeContext2D(this)));
    return ctx;
  });

/**
 * The fake context of a canvas (the one getContext('2d') returns).
 * @param {HTMLCanvasElement} canvas
 * @returns {FakeContext2D}
 */
export function contextOf(canvas) {
  return /** @type {any} */ (canvas.getContext('2d'));
}

/** What toDataURL returns: the canvas' backing-store size, base64 encoded. */
win.HTMLCanvasElement.prototype.toDataURL = function toDataURL() {
  return `data:image/png;base64,${Buffer.from(`canvas ${this.width}x${this.height}`).toString('base64')}`;
};

// ------------------------------------------------------------------ images

/** Every bitmap createImageBitmap made, in order. */
export const bitmaps = /** @type {FakeBitmap[]} */ ([]);

/** @typedef {{width: number, height: number, closed: boolean, close: () => void}} FakeBitmap */

/**
 * createImageBitmap for PNG blobs: checks the signature and reads the size from IHDR.
 * @param {Blob} blob
 * @returns {Promise<FakeBitmap>}
 */
async function createImageBitmap(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || signature.some((b, i) => bytes[i] !== b)) {
    throw new Error('The source image could not be decoded.');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bitmap = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    closed: false,
    close() {
      this.closed = true;
    },
  };
  bitmaps.push(bitmap);
  return bitmap;
}
setGlobal('createImageBitmap', createImageBitmap);

// jsdom loads no images: data:image/png URLs "decode", anything else fails.
Object.defineProperty(win.HTMLImageElement.prototype, 'decode', {
  configurable: true,
  value() {
    return this.src.startsWith('data:image/png;base64,')
      ? Promise.resolve()
      : Promise.reject(new Error('EncodingError'));
  },
});

// ------------------------------------------------------------- matchMedia

/** The MediaQueryLists handed out by matchMedia, newest last. */
export const mediaQueries = /** @type {Array<EventTarget & {media: string, matches: boolean}>} */ ([]);
win.matchMedia = /** @type {any} */ ((/** @type {string} */ media) => {
  const query = Object.assign(new win.EventTarget(), { media, matches: true });
  mediaQueries.push(query);
  return query;
});

// ---------------------------------------------------------------- waiting

const realSetTimeout = globalThis.setTimeout;

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/**
 * Wait until `predicate()` is truthy (polling), or fail after `timeout` ms.
 * @param {() => unknown} predicate
 * @param {string} [what]  for the failure message
 * @param {number} [timeout]
 */
export async function waitFor(predicate, what = 'condition', timeout = 3000) {
  const end = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A fresh host element in the document (and remove the previous ones). */
export function freshHost() {
  document.body.replaceChildren();
  const host = document.createElement('div');
  document.body.appendChild(host);
  return host;
}
