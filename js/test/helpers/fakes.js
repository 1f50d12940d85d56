// Fakes for what the core talks to: a transport (FigureView), a KernelLink and an
// OutputLink (FigureSessions). They record everything; nothing here talks to a kernel.
//
// (`node --test test/` also loads the files in test/helpers/ as test files; they define
// no tests and show up as one passing entry each.)
import { deflateSync } from 'node:zlib';
import { MIME_TYPE, PROTOCOL_VERSION } from '../../src/constants.js';

/** A FigureView transport that records what the view sends. */
export function fakeTransport() {
  return {
    /** @type {Record<string, any>[]} */
    sent: [],
    closed: 0,
    /** @param {object} msg @param {ArrayBuffer[]} [buffers] */
    send(msg, buffers) {
      if (buffers && buffers.length) throw new Error('the browser sends no buffers');
      this.sent.push(structuredClone(msg));
    },
    close() {
      this.closed += 1;
    },
    /** @param {string} type */
    ofType(type) {
      return this.sent.filter((m) => m.type === type);
    },
  };
}

/**
 * @typedef {ReturnType<typeof makeComm>} FakeComm
 * @typedef {ReturnType<typeof fakeKernel>} FakeKernel
 */

/**
 * @param {string} target
 * @param {object} data
 * @param {import('../../src/session.js').CommHandlers} handlers
 */
function makeComm(target, data, handlers) {
  return {
    target,
    /** @type {Record<string, any>} the comm_open data */
    data: structuredClone(data),
    handlers,
    /** @type {Record<string, any>[]} */
    sent: [],
    closed: 0,
    /** @param {object} msg */
    send(msg) {
      this.sent.push(structuredClone(msg));
    },
    close() {
      this.closed += 1;
    },
    /** The kernel sends a message on this comm. @param {object} msg @param {any[]} [buffers] */
    receive(msg, buffers = []) {
      handlers.onMessage(msg, buffers);
    },
    /** The kernel closes this comm. */
    kernelCloses() {
      handlers.onClose();
    },
    /** @param {string} type */
    ofType(type) {
      return this.sent.filter((m) => m.type === type);
    },
  };
}

/** A KernelLink: openComm returns a recording comm while `connected`, else null. */
export function fakeKernel(connected = true) {
  const kernel = {
    connected,
    /** Every comm opened, in order. @type {FakeComm[]} */
    opened: [],
    /** How often openComm was called (also while not connected). */
    attempts: 0,
    hasKernel: () => kernel.connected,
    /**
     * @param {string} target
     * @param {object} data
     * @param {import('../../src/session.js').CommHandlers} handlers
     */
    openComm(target, data, handlers) {
      kernel.attempts += 1;
      if (!kernel.connected) return null;
      const comm = makeComm(target, data, handlers);
      kernel.opened.push(comm);
      return comm;
    },
    last() {
      const comm = kernel.opened[kernel.opened.length - 1];
      if (!comm) throw new Error('no comm was opened');
      return comm;
    },
  };
  return kernel;
}

/** @typedef {import('../../src/session.js').Bundle} Bundle */

/**
 * An OutputLink over one bundle. `read` hands out copies (as JupyterLab's model does);
 * `write` records and replaces.
 * @param {Bundle|null} bundle
 */
export function fakeOutput(bundle) {
  return {
    bundle,
    /** @type {Bundle[]} */
    writes: [],
    read() {
      return this.bundle && structuredClone(this.bundle);
    },
    /** @param {Bundle} next */
    write(next) {
      this.writes.push(structuredClone(next));
      this.bundle = structuredClone(next);
    },
  };
}

/**
 * A figure output's data bundle, as `show()` publishes it.
 * @param {string} figureId
 * @param {{width?: number, height?: number, state?: object, png?: string}} [extra]
 * @returns {Bundle}
 */
export function figureBundle(figureId, extra = {}) {
  const spec = /** @type {Record<string, any>} */ ({
    figure_id: figureId,
    width: extra.width ?? 640,
    height: extra.height ?? 480,
    protocol: PROTOCOL_VERSION,
  });
  if (extra.state) spec.state = extra.state;
  return {
    data: {
      [MIME_TYPE]: spec,
      'image/png': extra.png ?? 'iVBORw0KGgo=',
      'text/plain': `<Figure size ${spec.width}x${spec.height} (nbagg)>`,
    },
    metadata: { 'image/png': { width: spec.width, height: spec.height } },
  };
}

/** A signed state as the kernel stores it (content is opaque to the browser). */
export const STATE = Object.freeze({ version: 1, payload: 'eJwLz8jMS1cozsgvSlUoLU4tUgQAOdkGBA==', hmac: 'ab'.repeat(32) });

/**
 * A `frame` message and its buffers: one PNG per rect, each the rect's size.
 * @param {{seq: number, width: number, height: number, dpr?: number, full?: boolean,
 *   ack?: boolean, rects?: number[][]}} frame
 * @returns {[Record<string, any>, Uint8Array[]]}
 */
export function frameMessage({ seq, width, height, dpr = 1, full = true, ack = true, rects }) {
  const all = rects ?? [[0, 0, width, height]];
  return [
    { type: 'frame', seq, ack, width, height, dpr, full, rects: all },
    all.map(([, , w, h]) => makePng(w, h)),
  ];
}

// ------------------------------------------------------------------- PNG
// Real PNG files, tiny, built by hand (IHDR + one zlib IDAT + IEND).

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** @param {Uint8Array} bytes */
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * @param {string} type
 * @param {Uint8Array} data
 */
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * A valid RGBA PNG of the given size (transparent black).
 * @param {number} width
 * @param {number} height
 * @returns {Uint8Array}
 */
export function makePng(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);  // 8-bit RGBA, deflate, no filter, no interlace
  const raw = Buffer.alloc((width * 4 + 1) * height);  // filter byte 0 per row
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
  return new Uint8Array(png);
}
