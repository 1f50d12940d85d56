// spec.js: an output's figure data is checked before anything is allocated for it, and
// the bundles written back are new objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PIXELS, MAX_SIZE, MAX_STATE_CHARS, MIME_TYPE, MIN_SIZE, PROTOCOL_VERSION } from '../src/constants.js';
import { figureSpec, withFrame, withState, withView } from '../src/spec.js';
import { STATE, figureBundle } from './helpers/fakes.js';

/** @param {unknown} data @returns {string} */
function problem(data) {
  const result = figureSpec(data);
  assert.equal(typeof result, 'string', `accepted ${JSON.stringify(data)}`);
  return /** @type {string} */ (result);
}

/** @param {unknown} data */
function accepted(data) {
  const result = figureSpec(data);
  assert.notEqual(typeof result, 'string', `refused: ${result}`);
  return /** @type {import('../src/spec.js').FigureSpec} */ (result);
}

/** @param {any} value @returns {any} */
function deepFreeze(value) {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

test('figureSpec accepts what show() publishes', () => {
  assert.deepEqual(accepted({ figure_id: 'f1', width: 640, height: 480, protocol: PROTOCOL_VERSION }),
    { figureId: 'f1', width: 640, height: 480, state: null, view: null, stateNote: null });
  assert.deepEqual(accepted({ figure_id: 'f1', width: 640, height: 480, protocol: 1, state: STATE }).state, STATE);
  // Without a protocol field (written by hand) and as JSON text (some tools store it so).
  assert.equal(accepted({ figure_id: 'f2', width: 100, height: 100 }).figureId, 'f2');
  assert.deepEqual(accepted(JSON.stringify({ figure_id: 'f3', width: 320.5, height: 200, protocol: 1 })),
    { figureId: 'f3', width: 320.5, height: 200, state: null, view: null, stateNote: null });
});

test('figureSpec refuses data that is not a figure object', () => {
  for (const data of [undefined, null, 0, 42, true, '', 'not json', '"a string"', '[1]', 'null', [], [1, 2], () => 1]) {
    assert.match(problem(data), /missing|not valid JSON/);
  }
});

test('figureSpec refuses other protocol versions, naming only numbers', () => {
  assert.match(problem({ figure_id: 'f', width: 1, height: 1, protocol: 2 }), /protocol 2, .* speaks 1/);
  assert.match(problem({ figure_id: 'f', width: 1, height: 1, protocol: 0 }), /protocol 0/);
  for (const protocol of ['1', null, NaN, Infinity, 1.5, { v: 1 }, [1], '<img src=x onerror=alert(1)>']) {
    const text = problem({ figure_id: 'f', width: 1, height: 1, protocol });
    assert.match(text, /protocol (an unknown version|1\.5)/);
    assert.ok(!text.includes('<'), 'a string from the file is never echoed');
  }
});

test('figureSpec refuses a missing or bad figure id', () => {
  for (const figure_id of [undefined, null, '', 7, ['f'], { id: 'f' }, 'x'.repeat(65)]) {
    assert.match(problem({ figure_id, width: 640, height: 480, protocol: 1 }), /figure_id/);
  }
  assert.equal(accepted({ figure_id: 'x'.repeat(64), width: 640, height: 480 }).figureId.length, 64);
});

test('figureSpec keeps HTML in strings as inert text and names none of it', () => {
  const id = '<img src=x onerror="alert(1)">';
  assert.equal(accepted({ figure_id: id, width: 640, height: 480 }).figureId, id);
  const text = problem({ figure_id: '<b>', width: '<script>', height: 10 });
  assert.equal(text, 'the figure data has no valid width and height');
});

test('figureSpec refuses sizes that are not positive finite numbers', () => {
  for (const [width, height] of [[0, 480], [640, 0], [-640, 480], [NaN, 480], [640, Infinity],
    ['640', 480], [640, null], [undefined, 480], [true, 480], [[640], 480], [{}, 480]]) {
    assert.match(problem({ figure_id: 'f', width, height }), /width and height/, `${width}x${height}`);
  }
});

test('figureSpec clamps absurd sizes before the view allocates them', () => {
  assert.deepEqual(accepted({ figure_id: 'f', width: 1e300, height: 1e300 }),
    { figureId: 'f', width: MAX_SIZE, height: MAX_SIZE, state: null, view: null, stateNote: null });
  assert.deepEqual(accepted({ figure_id: 'f', width: 1e-9, height: 3 }),
    { figureId: 'f', width: MIN_SIZE, height: MIN_SIZE, state: null, view: null, stateNote: null });
  const tall = accepted({ figure_id: 'f', width: 10, height: 1e9 });
  assert.deepEqual([tall.width, tall.height], [MIN_SIZE, MAX_SIZE]);
  for (const spec of [accepted({ figure_id: 'f', width: 4000, height: 4000 }), tall]) {
    assert.ok(spec.width * spec.height <= MAX_PIXELS);
  }
});

test('figureSpec keeps a state object only', () => {
  for (const state of [null, 'state', 42, true, ['v', 'p', 'h']]) {
    assert.equal(accepted({ figure_id: 'f', width: 640, height: 480, state }).state, null);
  }
});

test('withState stores or removes the state and leaves its input alone', () => {
  const bundle = deepFreeze(figureBundle('f1'));
  const before = structuredClone(bundle);
  const stored = withState(bundle, STATE);
  assert.deepEqual(stored.data[MIME_TYPE], { ...before.data[MIME_TYPE], state: STATE });
  assert.equal(stored.data['image/png'], before.data['image/png']);
  assert.deepEqual(stored.metadata, before.metadata);
  assert.notEqual(stored.metadata, bundle.metadata);
  assert.deepEqual(bundle, before);

  const frozen = deepFreeze(stored);
  const removed = withState(frozen, null);
  assert.ok(!('state' in removed.data[MIME_TYPE]));
  assert.deepEqual(removed.data[MIME_TYPE], before.data[MIME_TYPE]);
  assert.equal(/** @type {any} */ (frozen.data[MIME_TYPE]).state, STATE);
  assert.equal(typeof figureSpec(removed.data[MIME_TYPE]), 'object');
});

test('figureSpec reads a view only beside a state, and a note only without one, cut short', () => {
  const view = { base: 'ab', axes: [[0, 1, 0, 1]], size: [1, 1], hmac: 'cd' };
  const base = { figure_id: 'f', width: 640, height: 480 };
  assert.deepEqual(accepted({ ...base, state: STATE, view }).view, view);
  assert.equal(accepted({ ...base, view }).view, null);
  assert.equal(accepted({ ...base, state: STATE, view: 'x' }).view, null);
  assert.equal(accepted({ ...base, state_note: 'too big' }).stateNote, 'too big');
  assert.equal(accepted({ ...base, state: STATE, state_note: 'too big' }).stateNote, null);
  assert.equal(accepted({ ...base, state_note: 'x'.repeat(100000) }).stateNote?.length, 400);
  for (const note of [42, {}, ['a'], '']) assert.equal(accepted({ ...base, state_note: note }).stateNote, null);
});

test('figureSpec drops a state larger than any kernel accepts, and says so', () => {
  const base = { figure_id: 'f', width: 640, height: 480 };
  const huge = { ...STATE, payload: 'A'.repeat(MAX_STATE_CHARS + 4) };
  const spec = accepted({ ...base, state: huge, view: { base: 'ab' } });
  assert.deepEqual([spec.state, spec.view], [null, null]);
  assert.match(String(spec.stateNote), /larger than any nbagg kernel accepts/);
  assert.deepEqual(accepted({ ...base, state: { ...STATE, payload: 'A'.repeat(MAX_STATE_CHARS) } }).stateNote, null);
});

test('withState replaces state, view and note together; withView needs a state', () => {
  const view = { base: 'ab', axes: [], size: [1, 1], hmac: 'cd' };
  const bundle = deepFreeze(withView(figureBundle('f1', { state: STATE }), view));
  assert.deepEqual(bundle.data[MIME_TYPE].view, view);
  const noted = withState(bundle, null, 'too big');
  assert.deepEqual([noted.data[MIME_TYPE].state_note, 'state' in noted.data[MIME_TYPE], 'view' in noted.data[MIME_TYPE]],
    ['too big', false, false]);
  const again = withState(noted, STATE, null);
  assert.deepEqual([again.data[MIME_TYPE].state, 'state_note' in again.data[MIME_TYPE]], [STATE, false]);
  const plain = deepFreeze(figureBundle('f2'));
  assert.equal(withView(plain, view), plain);
});

test('withState keeps a figure stored as JSON text a figure', () => {
  const bundle = figureBundle('f1');
  const text = JSON.stringify(bundle.data[MIME_TYPE]);
  const stored = withState({ ...bundle, data: { ...bundle.data, [MIME_TYPE]: text } }, STATE);
  const spec = figureSpec(stored.data[MIME_TYPE]);
  assert.notEqual(typeof spec, 'string', String(spec));
  assert.equal(/** @type {any} */ (spec).figureId, 'f1');
  assert.deepEqual(/** @type {any} */ (spec).state, STATE);
});

test('withFrame writes the screen into image/png, the metadata and the figure size', () => {
  const bundle = deepFreeze(figureBundle('f1', { state: STATE }));
  const before = structuredClone(bundle);
  const shot = deepFreeze({ png: 'Zm9v', width: 500, height: 300 });
  const next = withFrame(bundle, shot);
  assert.equal(next.data['image/png'], 'Zm9v');
  assert.deepEqual(next.metadata['image/png'], { width: 500, height: 300 });
  assert.deepEqual(next.data[MIME_TYPE], { ...before.data[MIME_TYPE], width: 500, height: 300 });
  assert.deepEqual(next.data[MIME_TYPE].state, STATE);
  assert.equal(next.data['text/plain'], before.data['text/plain']);
  assert.deepEqual(bundle, before);
  // The metadata of other mime types stays.
  const withMeta = withFrame({ data: bundle.data, metadata: { 'text/plain': { a: 1 } } }, shot);
  assert.deepEqual(withMeta.metadata, { 'text/plain': { a: 1 }, 'image/png': { width: 500, height: 300 } });
});

test('withFrame keeps a figure stored as JSON text a figure', () => {
  const bundle = figureBundle('f1');
  const text = JSON.stringify(bundle.data[MIME_TYPE]);
  const next = withFrame({ ...bundle, data: { ...bundle.data, [MIME_TYPE]: text } }, { png: 'Zm9v', width: 500, height: 300 });
  const spec = figureSpec(next.data[MIME_TYPE]);
  assert.notEqual(typeof spec, 'string', String(spec));
  assert.deepEqual(spec, { figureId: 'f1', width: 500, height: 300, state: null, view: null, stateNote: null });
});
