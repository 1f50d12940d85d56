// nbagg: what a figure output holds, read and written as pure functions.
//
// An output's MIME_TYPE data comes from a notebook file that anybody may have written:
// every field is checked and every size clamped before the view allocates anything.
import { MAX_STATE_CHARS, MIME_TYPE, PROTOCOL_VERSION, clampSize } from './constants.js';

/** Longest figure id accepted from an output (the kernel's are far shorter). */
const MAX_FIGURE_ID = 64;
/** Longest note (why a figure stores no state) shown from an output. */
const MAX_NOTE = 400;

/**
 * @typedef {{figureId: string, width: number, height: number, state: object|null,
 *   view: object|null, stateNote: string|null}} FigureSpec
 * @typedef {{data: Record<string, any>, metadata: Record<string, any>}} Bundle
 */

/**
 * Parse and check an output's MIME_TYPE data.
 * @param {unknown} data
 * @returns {FigureSpec|string}  the spec, or what is wrong with the data
 */
export function figureSpec(data) {
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return 'the figure data is not valid JSON';
    }
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'the figure data is missing';
  const { figure_id: figureId, width, height, protocol, state, view, state_note: note } =
    /** @type {Record<string, unknown>} */ (data);
  if (protocol !== undefined && protocol !== PROTOCOL_VERSION) {
    const shown = typeof protocol === 'number' && Number.isFinite(protocol) ? String(protocol) : 'an unknown version';
    return `this output uses protocol ${shown}, the installed nbagg extension speaks ` +
      `${PROTOCOL_VERSION}: reinstall nbagg or re-run the cell`;
  }
  if (typeof figureId !== 'string' || figureId === '' || figureId.length > MAX_FIGURE_ID) {
    return 'the figure data has no valid figure_id';
  }
  if (!isPositive(width) || !isPositive(height)) return 'the figure data has no valid width and height';
  const size = clampSize(width, height, 1);
  return {
    figureId,
    width: size.width,
    height: size.height,
    state: usableState(state) ? /** @type {object} */ (state) : null,
    view: usableState(state) && isObject(view) ? view : null,
    stateNote: usableState(state) ? null : stateNote(state, note),
  };
}

/**
 * A state the kernel could accept: an object whose payload fits the kernel's limit (a
 * larger one would not even reach the kernel: the websocket drops it).
 * @param {unknown} state
 */
function usableState(state) {
  if (!isObject(state)) return false;
  const payload = /** @type {Record<string, unknown>} */ (state).payload;
  return typeof payload !== 'string' || payload.length <= MAX_STATE_CHARS;
}

/**
 * @param {unknown} state
 * @param {unknown} note
 * @returns {string|null}
 */
function stateNote(state, note) {
  if (isObject(state)) return 'its stored state is larger than any nbagg kernel accepts.';
  return typeof note === 'string' && note ? note.slice(0, MAX_NOTE) : null;
}

/** @param {unknown} v @returns {v is object} */
function isObject(v) {
  return Boolean(v) && typeof v === 'object' && !Array.isArray(v);
}

/** @param {unknown} v @returns {v is number} */
function isPositive(v) {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

/**
 * A copy of the bundle's MIME_TYPE data as an object (an output may hold it as JSON text,
 * which figureSpec accepts; spreading that text would write its characters back).
 * @param {Bundle} bundle
 * @returns {Record<string, any>}
 */
function specObject(bundle) {
  let raw = bundle.data[MIME_TYPE];
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      raw = null;
    }
  }
  return raw && typeof raw === 'object' && !Array.isArray(raw) ? { ...raw } : {};
}

/**
 * The bundle with the figure's new signed state, which replaces its view too; or, for
 * a null state, no state and the note saying why (see docs/protocol.md).
 * @param {Bundle} bundle
 * @param {object|null} state
 * @param {string|null} note
 * @returns {Bundle}
 */
export function withState(bundle, state, note = null) {
  const spec = specObject(bundle);
  delete spec.state;
  delete spec.view;
  delete spec.state_note;
  if (state) spec.state = state;
  else if (note) spec.state_note = note.slice(0, MAX_NOTE);
  return { data: { ...bundle.data, [MIME_TYPE]: spec }, metadata: { ...bundle.metadata } };
}

/**
 * The bundle with a signed view (limits and size after navigation) for its state.
 * @param {Bundle} bundle
 * @param {object} view
 * @returns {Bundle}
 */
export function withView(bundle, view) {
  const spec = specObject(bundle);
  if (!isObject(spec.state)) return bundle;  // a view amends a state: nothing to amend
  spec.view = view;
  return { data: { ...bundle.data, [MIME_TYPE]: spec }, metadata: { ...bundle.metadata } };
}

/**
 * The bundle with a frame from the screen as its image/png (base64, CSS size).
 * @param {Bundle} bundle
 * @param {{png: string, width: number, height: number}} shot
 * @returns {Bundle}
 */
export function withFrame(bundle, shot) {
  const size = { width: shot.width, height: shot.height };
  return {
    data: { ...bundle.data, 'image/png': shot.png, [MIME_TYPE]: { ...specObject(bundle), ...size } },
    metadata: { ...bundle.metadata, 'image/png': size },
  };
}
