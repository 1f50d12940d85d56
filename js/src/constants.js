// Constants shared with the kernel. Their one source is nbagg/constants.json, which the
// kernel's nbagg/protocol.py reads too; nothing here may restate a value from it.
import shared from '../../nbagg/constants.json' with { type: 'json' };

export const PROTOCOL_VERSION = shared.protocolVersion;
export const MIME_TYPE = shared.mimeType;
export const COMM_TARGET = shared.commTarget;
/** Smallest and largest figure side, in CSS px (the kernel clamps resizes the same way). */
export const MIN_SIZE = shared.minSize;
export const MAX_SIZE = shared.maxSize;
/** Most physical pixels of one frame. */
export const MAX_PIXELS = shared.maxPixels;
export const MIN_DPR = shared.minDpr;
export const MAX_DPR = shared.maxDpr;
/** Longest stored figure state (base64 characters) the kernel accepts in a restore. */
export const MAX_STATE_CHARS = shared.maxStateChars;
/** @type {string[]} */
export const TOOLBAR_ACTIONS = shared.toolbarActions;
/** @type {string[]} */
export const DOWNLOAD_FORMATS = shared.downloadFormats;

/**
 * A device pixel ratio the kernel accepts.
 * @param {unknown} dpr
 * @returns {number}
 */
export function clampDpr(dpr) {
  const value = typeof dpr === 'number' && Number.isFinite(dpr) && dpr > 0 ? dpr : 1;
  return Math.min(MAX_DPR, Math.max(MIN_DPR, value));
}

/**
 * A figure size in CSS px within the kernel's limits, so that nothing larger is ever
 * allocated for it (a canvas of `width * dpr` x `height * dpr` stays under MAX_PIXELS).
 * @param {number} width
 * @param {number} height
 * @param {number} dpr
 * @returns {{width: number, height: number}}
 */
export function clampSize(width, height, dpr) {
  let w = Math.min(MAX_SIZE, Math.max(MIN_SIZE, width));
  let h = Math.min(MAX_SIZE, Math.max(MIN_SIZE, height));
  const scale = Math.sqrt(MAX_PIXELS / (w * h * dpr * dpr));
  if (scale < 1) {
    w = Math.max(MIN_SIZE, Math.floor(w * scale));
    h = Math.max(MIN_SIZE, Math.floor(h * scale));
  }
  return { width: w, height: h };
}
