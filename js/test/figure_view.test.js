// FigureView against a fake transport: what it sends, what it draws, what it refuses.
import { bitmaps, contextOf, freshHost, mediaQueries, setDevicePixelRatio, sleep, waitFor, win } from './helpers/dom.js';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PIXELS, TOOLBAR_ACTIONS } from '../src/constants.js';
import { FigureView, TOOLS } from '../src/figure_view.js';
import { fakeTransport, frameMessage } from './helpers/fakes.js';

/** @type {FigureView[]} */
let views = [];

/**
 * @param {ConstructorParameters<typeof FigureView>[2]} [options]
 * @param {ReturnType<typeof fakeTransport>|null} [transport]
 */
function makeView(options = { figureId: 'f1', width: 640, height: 480 }, transport = fakeTransport()) {
  const host = freshHost();
  const view = new FigureView(host, transport, options);
  views.push(view);
  return { view, host, transport: /** @type {ReturnType<typeof fakeTransport>} */ (transport) };
}

/** @param {FigureView} view @param {string} selector @returns {HTMLElement} */
function part(view, selector) {
  const node = view.element.querySelector(selector);
  assert.ok(node instanceof win.HTMLElement, `no ${selector}`);
  return node;
}

/** @param {FigureView} view @returns {HTMLCanvasElement} */
const canvasOf = (view) => /** @type {HTMLCanvasElement} */ (part(view, 'canvas.nbagg-canvas'));
/** @param {FigureView} view @param {string} action @returns {HTMLButtonElement} */
const button = (view, action) => /** @type {HTMLButtonElement} */ (part(view, `button[data-action="${action}"]`));

/** Everything queued in the view (frames, closing, placeholders) has been applied. */
async function drained(/** @type {FigureView} */ view) {
  await view._queue;
  await sleep(0);
  await view._queue;
}

/**
 * Draw one full frame and wait for it to be on the canvas.
 * @param {FigureView} view
 * @param {ReturnType<typeof fakeTransport>} transport
 */
async function goLive(view, transport, seq = 1, width = 1280, height = 960, dpr = 2) {
  const frames = Number(view.element.dataset.nbaggFrames);
  view.handleMessage(...frameMessage({ seq, width, height, dpr }));
  await waitFor(() => Number(view.element.dataset.nbaggFrames) === frames + 1, 'the frame');
  transport.sent.length = 0;
}

/**
 * @param {EventTarget} target
 * @param {string} type
 * @param {KeyboardEventInit} init
 */
function key(target, type, init) {
  const event = new win.KeyboardEvent(type, { bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

beforeEach(() => setDevicePixelRatio(1));
afterEach(() => {
  for (const view of views) view.dispose();
  views = [];
});

describe('building', () => {
  test('a toolbar of the TOOLS, a focusable canvas of the clamped size, state connecting', () => {
    const { view } = makeView({ figureId: 'fig-7', width: 500, height: 400 });
    assert.equal(view.state, 'connecting');
    assert.equal(view.element.dataset.nbaggState, 'connecting');
    assert.equal(view.element.dataset.figureId, 'fig-7');
    const actions = [...view.element.querySelectorAll('button.nbagg-button')].map((b) => /** @type {HTMLElement} */ (b).dataset.action);
    assert.deepEqual(actions, TOOLS.map((t) => t.action));
    const canvas = canvasOf(view);
    assert.equal(canvas.tabIndex, 0);
    assert.equal(canvas.style.width, '500px');
    assert.deepEqual([canvas.width, canvas.height], [500, 400]);
    // Back and forward wait for the kernel's history.
    assert.equal(button(view, 'back').disabled, true);
    assert.equal(button(view, 'home').disabled, false);
  });

  test('sizes from the file are clamped; bad ones fall back to 640x480', () => {
    assert.equal(canvasOf(makeView({ width: 1e9, height: 1e9 }).view).style.width, '4000px');
    const bad = makeView({ width: NaN, height: -5 }).view;
    assert.deepEqual([canvasOf(bad).style.width, canvasOf(bad).style.height], ['640px', '480px']);
  });

  test('the initial backing store stays within MAX_PIXELS however large the device pixel ratio', () => {
    setDevicePixelRatio(10);  // browser zoom 500% on a 2x screen
    const { view } = makeView({ width: 4000, height: 4000 });
    const canvas = canvasOf(view);
    assert.ok(canvas.width * canvas.height <= MAX_PIXELS, `${canvas.width}x${canvas.height}`);
    const overlay = /** @type {HTMLCanvasElement} */ (part(view, 'canvas.nbagg-rubberband'));
    assert.ok(overlay.width * overlay.height <= MAX_PIXELS, `overlay ${overlay.width}x${overlay.height}`);
  });
});

describe('frames', () => {
  test('a full frame resizes the canvas, draws each PNG at its rect and is acknowledged', async () => {
    const { view, transport } = makeView();
    const ctx = contextOf(canvasOf(view));
    const made = bitmaps.length;
    view.handleMessage(...frameMessage({ seq: 1, width: 1280, height: 960, dpr: 2 }));
    await waitFor(() => transport.sent.length > 0, 'the ack');
    assert.deepEqual(transport.sent, [{ type: 'ack', seq: 1 }]);
    const canvas = canvasOf(view);
    assert.deepEqual([canvas.width, canvas.height], [1280, 960]);
    assert.deepEqual([canvas.style.width, canvas.style.height], ['640px', '480px']);
    assert.deepEqual(ctx.callsOf('clearRect'), [['clearRect', 0, 0, 1280, 960]]);
    const bitmap = bitmaps[made];
    assert.deepEqual([bitmap.width, bitmap.height], [1280, 960]);
    assert.deepEqual(ctx.callsOf('drawImage'), [['drawImage', bitmap, 0, 0]]);
    assert.equal(bitmap.closed, true, 'the decoded bitmap is released');
    assert.equal(view.state, 'live');
    assert.equal(view.element.dataset.nbaggFrames, '1');
  });

  test('partial frames draw their rects in order; ack only when asked', async () => {
    const { view, transport } = makeView();
    await goLive(view, transport);
    const ctx = contextOf(canvasOf(view));
    ctx.calls.length = 0;
    const made = bitmaps.length;
    view.handleMessage(...frameMessage({
      seq: 2, width: 1280, height: 960, dpr: 2, full: false, ack: false, rects: [[10, 20, 30, 40], [100, 0, 8, 8]],
    }));
    view.handleMessage(...frameMessage({ seq: 3, width: 1280, height: 960, dpr: 2, full: false, rects: [[1, 2, 3, 4]] }));
    await waitFor(() => transport.sent.length > 0, 'the ack');
    assert.deepEqual(transport.sent, [{ type: 'ack', seq: 3 }]);
    assert.deepEqual(ctx.calls.map((c) => c.slice(0, 1).concat(c.slice(c[0] === 'drawImage' ? 2 : 1))), [
      ['clearRect', 10, 20, 30, 40], ['drawImage', 10, 20],
      ['clearRect', 100, 0, 8, 8], ['drawImage', 100, 0],
      ['clearRect', 1, 2, 3, 4], ['drawImage', 1, 2],
    ]);
    assert.deepEqual(ctx.callsOf('drawImage').map((c) => c[1]), bitmaps.slice(made));
    assert.equal(view.element.dataset.nbaggFrames, '3');
  });

  /**
   * A frame that must not be drawn: the canvas keeps its pixels, the error says why, the
   * view acknowledges it (so the kernel does not stall) and asks once for a full frame.
   * @param {Record<string, any>} msg
   * @param {any[]} buffers
   * @param {RegExp} why
   */
  async function refused(msg, buffers, why) {
    const { view, transport } = makeView();
    await goLive(view, transport);
    const canvas = canvasOf(view);
    const ctx = contextOf(canvas);
    ctx.calls.length = 0;
    const made = bitmaps.length;
    view.handleMessage(msg, buffers);
    await waitFor(() => transport.ofType('refresh').length > 0, 'the refresh');
    assert.deepEqual(transport.sent, [...(Number.isInteger(msg.seq) ? [{ type: 'ack', seq: msg.seq }] : []), { type: 'refresh' }]);
    assert.deepEqual(ctx.calls, [], 'nothing drawn');
    assert.deepEqual([canvas.width, canvas.height], [1280, 960], 'canvas kept');
    assert.equal(view.element.dataset.nbaggFrames, '1');
    const error = part(view, '.nbagg-error');
    assert.equal(error.hidden, false);
    assert.match(String(error.textContent), why);
    return { view, transport, made };
  }

  test('a frame over MAX_PIXELS is refused before anything is decoded', async () => {
    const [msg, buffers] = frameMessage({ seq: 2, width: 4001, height: 4000, rects: [[0, 0, 8, 8]] });
    const { made } = await refused(msg, buffers, /frame 2 not drawn: frame of 4001x4000 is over the pixel limit/);
    assert.equal(bitmaps.length, made, 'no PNG was decoded');
  });

  test('bad frames are refused: undecodable PNG, rect/buffer mismatch, bad fields, wrong size', async () => {
    const [good] = frameMessage({ seq: 2, width: 1280, height: 960, rects: [[0, 0, 8, 8]] });
    await refused(good, [new Uint8Array([1, 2, 3])], /cannot decode PNG/);
    await refused(good, [], /1 rects but 0 buffers/);
    await refused({ ...good, rects: [[0, 0, 'x', 8]] }, frameMessage({ seq: 2, width: 8, height: 8 })[1], /bad rect/);
    await refused({ ...good, dpr: 0 }, frameMessage({ seq: 2, width: 8, height: 8 })[1], /bad dpr/);
    await refused({ ...good, width: 1.5 }, frameMessage({ seq: 2, width: 8, height: 8 })[1], /bad frame size/);
    await refused({ ...good, seq: undefined }, frameMessage({ seq: 2, width: 8, height: 8 })[1], /missing seq/);
    const [partial, buffers] = frameMessage({ seq: 2, width: 640, height: 480, full: false, rects: [[0, 0, 8, 8]] });
    await refused(partial, buffers, /partial frame of 640x480 on a 1280x960 canvas/);
  });

  test('one refresh until a full frame arrives', async () => {
    const { view, transport } = makeView();
    await goLive(view, transport);
    const [bad] = frameMessage({ seq: 2, width: 1280, height: 960, rects: [[0, 0, 8, 8]] });
    view.handleMessage(bad, []);
    view.handleMessage({ ...bad, seq: 3 }, []);
    await waitFor(() => transport.ofType('ack').length === 2, 'two acks');
    assert.equal(transport.ofType('refresh').length, 1);
    await goLive(view, transport, 4);
    view.handleMessage({ ...bad, seq: 5 }, []);
    await waitFor(() => transport.ofType('refresh').length === 1, 'a new refresh');
  });
});

describe('kernel messages are text, never markup', () => {
  const html = '<img src=x onerror="globalThis.pwned=1"><b>bold</b>';

  test('title, status and error lines', () => {
    const { view } = makeView();
    view.handleMessage({ type: 'title', text: html });
    view.handleMessage({ type: 'message', text: html });
    view.handleMessage({ type: 'error', code: 'bad_message', message: html });
    for (const selector of ['.nbagg-title', '.nbagg-status', '.nbagg-error']) {
      const node = part(view, selector);
      assert.equal(node.textContent, html, selector);
      assert.equal(node.children.length, 0, `${selector} has no elements`);
    }
    assert.equal(view.element.querySelector('img, b'), null);
    view.handleMessage({ type: 'message', text: 42 });
    assert.equal(part(view, '.nbagg-status').textContent, '42');
    assert.equal(view.state, 'connecting', 'a bad_message error changes nothing else');
  });

  test('cursor keywords only', () => {
    const { view } = makeView();
    const canvas = canvasOf(view);
    view.handleMessage({ type: 'cursor', cursor: 'crosshair' });
    assert.equal(canvas.style.cursor, 'crosshair');
    view.handleMessage({ type: 'cursor', cursor: 'url(https://example.com/x.cur), auto' });
    assert.equal(canvas.style.cursor, 'default');
    view.handleMessage({ type: 'cursor', cursor: 7 });
    assert.equal(canvas.style.cursor, 'default');
  });

  test('mode and history drive the toolbar', () => {
    const { view } = makeView();
    view.handleMessage({ type: 'mode', mode: 'pan' });
    assert.equal(button(view, 'pan').getAttribute('aria-pressed'), 'true');
    assert.ok(button(view, 'pan').classList.contains('nbagg-active'));
    assert.equal(button(view, 'zoom').getAttribute('aria-pressed'), 'false');
    view.handleMessage({ type: 'history', back: true, forward: 0 });
    assert.equal(button(view, 'back').disabled, false);
    assert.equal(button(view, 'forward').disabled, true);
  });

  test('unknown types and non-objects are ignored', (t) => {
    const debug = t.mock.method(console, 'debug', () => {});
    const { view, transport } = makeView();
    view.handleMessage({ type: 'eval', code: 'x' });
    view.handleMessage(/** @type {any} */ (null));
    view.handleMessage(/** @type {any} */ ('frame'));
    assert.deepEqual(transport.sent, []);
    assert.equal(debug.mock.callCount(), 1);
    assert.equal(view.state, 'connecting');
  });
});

describe('toolbar', () => {
  test('each button sends its own message; toolbar actions are only the shared ones', () => {
    const { view, transport } = makeView();
    view.handleMessage({ type: 'history', back: true, forward: true });
    for (const tool of TOOLS) button(view, tool.action).click();
    const select = /** @type {HTMLSelectElement} */ (part(view, 'select.nbagg-download-format'));
    select.value = 'svg';
    button(view, 'download').click();
    assert.deepEqual(transport.sent, [
      { type: 'toolbar', action: 'home' },
      { type: 'toolbar', action: 'back' },
      { type: 'toolbar', action: 'forward' },
      { type: 'toolbar', action: 'pan' },
      { type: 'toolbar', action: 'zoom' },
      { type: 'download', format: 'png' },
      { type: 'close' },
      { type: 'download', format: 'svg' },
    ]);
    for (const msg of transport.ofType('toolbar')) assert.ok(TOOLBAR_ACTIONS.includes(msg.action));
  });

  test('the page cannot change what a button sends', () => {
    const { view, transport } = makeView();
    const home = button(view, 'home');
    home.dataset.action = 'savefig';
    home.click();
    assert.deepEqual(transport.sent, [{ type: 'toolbar', action: 'home' }]);
  });

  test('disabled buttons send nothing: back/forward without history, everything when disconnected', () => {
    const { view, transport } = makeView();
    button(view, 'back').click();
    button(view, 'forward').click();
    assert.deepEqual(transport.sent, []);
    view.setDisconnected('not connected to a kernel');
    for (const tool of TOOLS) button(view, tool.action).click();
    assert.deepEqual(transport.sent, []);
    assert.equal(part(view, '.nbagg-note').textContent, 'not connected to a kernel');
  });
});

describe('connection', () => {
  test('setTransport closes the old one, sends nothing itself, and the view talks on the new one', () => {
    const { view, transport: first } = makeView();
    view.setDisconnected('lost the connection to the kernel');
    const second = fakeTransport();
    view.setTransport(second);
    assert.equal(first.closed, 1);
    // The `connect` message travels in the comm's open (session.js), not over the transport.
    assert.deepEqual(second.sent, []);
    assert.equal(view.state, 'connecting');
    assert.equal(part(view, '.nbagg-note').hidden, true);
    view.handleMessage({ type: 'ping' });
    assert.deepEqual(second.sent, [{ type: 'pong' }]);
    assert.deepEqual(first.sent, []);
  });

  test('a transport closed before any message: the kernel does not know the figure', async () => {
    let unavailable = 0;
    const { view, transport } = makeView({ figureId: 'f', onUnavailable: () => { unavailable += 1; } });
    view.transportClosed();
    await drained(view);
    assert.equal(view.state, 'disconnected');
    assert.match(String(part(view, '.nbagg-note').textContent), /not available in this kernel/);
    assert.equal(unavailable, 1);
    view.handleMessage({ type: 'ping' });
    assert.deepEqual(transport.sent, [], 'nothing is sent on a closed transport');
    assert.equal(transport.closed, 0, 'the kernel closed it: the view does not close it again');
  });

  test('a live transport closed: disconnected, pixels kept', async () => {
    const { view, transport } = makeView();
    await goLive(view, transport);
    view.transportClosed();
    await drained(view);
    assert.equal(view.state, 'disconnected');
    assert.equal(part(view, '.nbagg-note').textContent, 'disconnected from the kernel');
    assert.equal(canvasOf(view).width, 1280);
  });

  test('unknown_figure and bad_state errors disconnect; offerAction adds a button to the note', () => {
    let unavailable = 0;
    const { view } = makeView({ onUnavailable: () => { unavailable += 1; } });
    view.handleMessage({ type: 'error', code: 'unknown_figure', message: 'no figure f1' });
    assert.equal(view.state, 'disconnected');
    assert.equal(unavailable, 1);
    let restored = 0;
    view.offerAction('Restore <figure>', () => { restored += 1; });
    const action = /** @type {HTMLButtonElement} */ (part(view, '.nbagg-note button.nbagg-action'));
    assert.equal(action.textContent, 'Restore <figure>');
    action.click();
    assert.equal(restored, 1);

    const other = makeView().view;
    other.handleMessage({ type: 'error', code: 'bad_state', message: 'signature mismatch' });
    assert.equal(other.state, 'disconnected');
    assert.equal(part(other, '.nbagg-note').textContent, 'cannot restore: signature mismatch');
    other.setTransport(fakeTransport());
    other.offerAction('Restore figure', () => {});
    assert.equal(other.element.querySelector('.nbagg-action'), null, 'no action while connected');
  });

  test('dispose closes the transport once and silences the view', () => {
    const { view, transport } = makeView();
    const canvas = canvasOf(view);
    canvas.focus();
    view.dispose();
    view.dispose();
    assert.equal(transport.closed, 1);
    view.handleMessage({ type: 'ping' });
    const event = key(canvas, 'keydown', { key: 'a' });
    button(view, 'home').click();
    assert.deepEqual(transport.sent, []);
    assert.equal(event.defaultPrevented, false, 'its key listeners are gone');
    assert.ok(view.element.isConnected, 'the DOM stays');
  });

  test('notifyOutputRemoved tells a connected kernel only', () => {
    const { view, transport } = makeView();
    view.notifyOutputRemoved();
    assert.deepEqual(transport.sent, [{ type: 'output_removed' }]);
    view.setDisconnected('gone');
    view.notifyOutputRemoved();
    assert.equal(transport.sent.length, 1);
  });

  test('a device pixel ratio change is sent, clamped', () => {
    const { transport } = makeView();
    const query = mediaQueries[mediaQueries.length - 1];
    assert.equal(query.media, '(resolution: 1dppx)');
    setDevicePixelRatio(12);
    query.dispatchEvent(new win.Event('change'));
    assert.deepEqual(transport.sent, [{ type: 'dpr', dpr: 4 }]);
    assert.equal(mediaQueries[mediaQueries.length - 1].media, '(resolution: 12dppx)', 'watching the new ratio');
  });
});

describe('closed', () => {
  test('the last frame stays as a static image; later frames are not drawn', async () => {
    const { view, transport } = makeView();
    view.handleMessage({ type: 'title', text: 'Figure 1' });
    view.handleMessage(...frameMessage({ seq: 1, width: 1280, height: 960, dpr: 2 }));
    view.handleMessage({ type: 'closed' });  // applied after the frame before it
    await waitFor(() => view.state === 'closed', 'closed');
    const img = /** @type {HTMLImageElement} */ (part(view, 'img.nbagg-static'));
    assert.equal(img.src, `data:image/png;base64,${Buffer.from('canvas 1280x960').toString('base64')}`);
    assert.equal(img.alt, 'Figure 1');
    assert.deepEqual([img.style.width, img.style.height], ['640px', '480px']);
    assert.equal(view.element.querySelector('canvas'), null);
    assert.equal(part(view, '.nbagg-toolbar').hidden, true);
    assert.equal(view.element.dataset.nbaggState, 'closed');

    transport.sent.length = 0;
    view.handleMessage(...frameMessage({ seq: 2, width: 1280, height: 960, dpr: 2 }));
    await drained(view);
    assert.deepEqual(transport.sent, [], 'no ack for a frame that is not drawn');
    assert.equal(view.element.dataset.nbaggFrames, '1');
    view.setTransport(fakeTransport());
    view.setDisconnected('x');
    assert.equal(view.state, 'closed', 'closed for good');
  });
});

describe('keyboard', () => {
  test('keys on the focused canvas go to the kernel and not to the page', () => {
    const { view, transport } = makeView();
    const canvas = canvasOf(view);
    canvas.focus();
    const seen = /** @type {string[]} */ ([]);
    const onDocument = (/** @type {Event} */ e) => seen.push(`${e.type}:${/** @type {KeyboardEvent} */ (e).key}`);
    document.addEventListener('keydown', onDocument, true);
    document.addEventListener('keyup', onDocument);
    try {
      const down = key(canvas, 'keydown', { key: 'a' });
      const up = key(canvas, 'keyup', { key: 'A', shiftKey: true, ctrlKey: true });
      assert.deepEqual(transport.sent, [
        { type: 'key', kind: 'press', key: 'a', modifiers: [] },
        { type: 'key', kind: 'release', key: 'A', modifiers: ['ctrl', 'shift'] },
      ]);
      assert.equal(down.defaultPrevented, true);
      assert.equal(up.defaultPrevented, true);
      assert.deepEqual(seen, [], 'the notebook saw none of them');
    } finally {
      document.removeEventListener('keydown', onDocument, true);
      document.removeEventListener('keyup', onDocument);
    }
  });

  test('Ctrl-S and Cmd-S stay the page\'s; so do Tab and keys elsewhere', () => {
    const { view, transport } = makeView();
    const canvas = canvasOf(view);
    const elsewhere = document.createElement('input');
    document.body.appendChild(elsewhere);
    /** @type {string[]} */
    const seen = [];
    const onDocument = (/** @type {Event} */ e) => seen.push(/** @type {KeyboardEvent} */ (e).key);
    document.addEventListener('keydown', onDocument);
    try {
      const events = [
        key(canvas, 'keydown', { key: 's', ctrlKey: true }),
        key(canvas, 'keydown', { key: 'S', metaKey: true, shiftKey: true }),
        key(canvas, 'keydown', { key: 'Tab' }),
        key(elsewhere, 'keydown', { key: 'a' }),
      ];
      assert.deepEqual(transport.sent, []);
      assert.deepEqual(seen, ['s', 'S', 'Tab', 'a']);
      assert.deepEqual(events.map((e) => e.defaultPrevented), [false, false, false, false]);
    } finally {
      document.removeEventListener('keydown', onDocument);
    }
  });

  test('Escape gives the keyboard back to the notebook', () => {
    const notebook = document.createElement('div');
    notebook.tabIndex = -1;
    document.body.replaceChildren(notebook);
    const host = document.createElement('div');
    notebook.appendChild(host);
    const transport = fakeTransport();
    const view = new FigureView(host, transport, {});
    views.push(view);
    const canvas = canvasOf(view);
    canvas.focus();
    assert.equal(document.activeElement, canvas);
    key(canvas, 'keydown', { key: 'Escape' });
    assert.equal(document.activeElement, notebook);
    assert.deepEqual(transport.sent, []);
  });

  test('a disconnected view leaves keys to the page', () => {
    const { view, transport } = makeView();
    view.setDisconnected('not connected to a kernel');
    const event = key(canvasOf(view), 'keydown', { key: 'a' });
    assert.equal(event.defaultPrevented, false);
    assert.deepEqual(transport.sent, []);
  });
});

describe('pointer', () => {
  test('presses and double clicks, in CSS px with modifiers', () => {
    const { view, transport } = makeView();
    const canvas = canvasOf(view);
    const init = { bubbles: true, cancelable: true, clientX: 10.456, clientY: 20, button: 0, buttons: 1 };
    canvas.dispatchEvent(new win.MouseEvent('mousedown', { ...init, detail: 1, ctrlKey: true, metaKey: true }));
    canvas.dispatchEvent(new win.MouseEvent('mousedown', { ...init, detail: 2 }));
    assert.deepEqual(transport.sent, [
      { type: 'mouse', kind: 'press', x: 10.46, y: 20, button: 0, buttons: 1, modifiers: ['ctrl', 'meta'] },
      { type: 'mouse', kind: 'dblclick', x: 10.46, y: 20, button: 0, buttons: 1, modifiers: [] },
    ]);
    view.setDisconnected('x');
    canvas.dispatchEvent(new win.MouseEvent('mousedown', { ...init, detail: 1 }));
    assert.equal(transport.sent.length, 2);
  });

  test('wheel steps are coalesced to one scroll per display frame; capture_scroll stops the page scrolling', async () => {
    const { view, transport } = makeView();
    const canvas = canvasOf(view);
    const wheel = () => {
      const e = new win.WheelEvent('wheel', { bubbles: true, cancelable: true, deltaY: -100, deltaMode: 0, clientX: 5, clientY: 6 });
      canvas.dispatchEvent(e);
      return e;
    };
    const first = wheel();
    wheel();
    assert.deepEqual(transport.sent, [], 'held for the display frame');
    await waitFor(() => transport.sent.length > 0, 'the scroll');
    assert.deepEqual(transport.sent, [{ type: 'scroll', x: 5, y: 6, step: 2, modifiers: [] }]);
    assert.equal(first.defaultPrevented, false);
    view.handleMessage({ type: 'capture_scroll', value: true });
    assert.equal(wheel().defaultPrevented, true);
  });
});

describe('downloads and placeholders', () => {
  test('a download is saved from its buffer under the kernel\'s name', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    /** @type {Blob[]} */
    const blobs = [];
    t.mock.method(URL, 'createObjectURL', (/** @type {Blob} */ blob) => {
      blobs.push(blob);
      return 'blob:http://localhost/1';
    });
    const revoke = t.mock.method(URL, 'revokeObjectURL', () => {});
    /** @type {{href: string, download: string}[]} */
    const clicks = [];
    t.mock.method(win.HTMLAnchorElement.prototype, 'click', /** @this {HTMLAnchorElement} */ function () {
      clicks.push({ href: this.href, download: this.download });
    });
    const { view } = makeView();
    view.handleMessage({ type: 'download', format: 'svg', mime: 'image/svg+xml', filename: 'fig.svg' }, [new Uint8Array([60, 115])]);
    assert.deepEqual(clicks, [{ href: 'blob:http://localhost/1', download: 'fig.svg' }]);
    assert.equal(blobs[0].type, 'image/svg+xml');
    assert.equal(blobs[0].size, 2);
    assert.equal(revoke.mock.callCount(), 0);
    t.mock.timers.tick(10000);
    assert.deepEqual(revoke.mock.calls.map((c) => c.arguments[0]), ['blob:http://localhost/1']);

    view.handleMessage({ type: 'download', format: 'pdf' }, []);
    assert.equal(clicks.length, 1);
    assert.match(String(part(view, '.nbagg-error').textContent), /without data/);
  });

  test('the saved image is shown until the first frame, never over one', async () => {
    const { view, transport } = makeView();
    const ctx = contextOf(canvasOf(view));
    view.setPlaceholder('data:image/png;base64,iVBORw0KGgo=');
    await drained(view);
    const drawn = ctx.callsOf('drawImage');
    assert.equal(drawn.length, 1);
    assert.ok(drawn[0][1] instanceof win.HTMLImageElement);
    assert.deepEqual(drawn[0].slice(2), [0, 0, 640, 480]);

    await goLive(view, transport);
    ctx.calls.length = 0;
    view.setPlaceholder('data:image/png;base64,iVBORw0KGgo=');
    await drained(view);
    assert.deepEqual(ctx.callsOf('drawImage'), []);
  });
});
