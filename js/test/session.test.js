// FigureSessions / FigureSession with a fake KernelLink and fake OutputLinks: when comms
// are opened and with what, what the kernel is told, what is written into the outputs.
import { contextOf, setDevicePixelRatio, sleep, waitFor, win } from './helpers/dom.js';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { COMM_TARGET, MIME_TYPE, PROTOCOL_VERSION } from '../src/constants.js';
import { FigureSessions, showProblem } from '../src/session.js';
import { STATE, fakeKernel, fakeOutput, figureBundle, frameMessage } from './helpers/fakes.js';

/** @typedef {import('./helpers/fakes.js').FakeKernel} FakeKernel */
/** @typedef {import('./helpers/fakes.js').FakeComm} FakeComm */
/** @typedef {import('../src/session.js').FigureSession} FigureSession */

/** @type {FigureSessions[]} */
let registries = [];

/** @param {FakeKernel} kernel */
function registry(kernel) {
  const sessions = new FigureSessions(kernel);
  registries.push(sessions);
  return sessions;
}

function newHost() {
  const host = document.createElement('div');
  document.body.appendChild(host);
  return host;
}

/**
 * Mount a figure output and return its parts.
 * @param {FigureSessions} sessions
 * @param {string} figureId
 * @param {{trusted?: boolean, state?: object, png?: string}} [options]
 */
function mount(sessions, figureId, { trusted = true, state, png } = {}) {
  const host = newHost();
  const output = fakeOutput(figureBundle(figureId, { state, png }));
  const bundle = /** @type {import('../src/session.js').Bundle} */ (output.bundle);
  const session = sessions.mount(host, bundle.data[MIME_TYPE], output, { trusted });
  assert.ok(session, 'mounted');
  return { session, output, host };
}

/** @param {FigureSession} session @returns {FakeComm} */
function commOf(session) {
  assert.ok(session.comm, 'the session has a comm');
  return /** @type {any} */ (session.comm);
}

/** @param {FigureSession} session */
async function drained(session) {
  await session.view._queue;
  await sleep(0);
  await session.view._queue;
}

/**
 * The kernel draws a first frame over the session's comm.
 * @param {FakeComm} comm
 * @param {FigureSession} session
 */
async function goLive(comm, session, seq = 1) {
  comm.receive(...frameMessage({ seq, width: 1280, height: 960, dpr: 2 }));
  await waitFor(() => session.view.state === 'live', 'live');
  comm.sent.length = 0;
}

/** @param {FigureSession} session @param {string} selector */
const find = (session, selector) => session.view.element.querySelector(selector);
/** @param {FigureSession} session */
const note = (session) => String(/** @type {HTMLElement} */ (find(session, '.nbagg-note')).textContent);
/** @param {FigureSession} session */
const restoreButton = (session) => /** @type {HTMLButtonElement|null} */ (find(session, 'button.nbagg-action'));

beforeEach(() => {
  setDevicePixelRatio(1);
  document.body.replaceChildren();
  mock.method(console, 'warn', () => {});  // the view logs the kernel's errors
});
afterEach(() => {
  for (const sessions of registries) sessions.disposeAll();
  registries = [];
  mock.restoreAll();
});

describe('mount', () => {
  test('opens one comm with the connect message and routes the kernel\'s messages to the view', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    /** @type {HTMLElement[]} */
    const keyboardTargets = [];
    const output = fakeOutput(figureBundle('f1', { state: STATE }));
    const session = sessions.mount(newHost(), figureBundle('f1', { state: STATE }).data[MIME_TYPE], output, {
      trusted: true,
      onKeyboardTarget: (el) => keyboardTargets.push(el),
    });
    assert.ok(session);
    assert.equal(kernel.opened.length, 1);
    const comm = kernel.last();
    assert.equal(comm.target, COMM_TARGET);
    // No state: a kernel that knows the figure must not rebuild it (restore is asked for).
    assert.deepEqual(comm.data, { type: 'connect', protocol: PROTOCOL_VERSION, figure_id: 'f1', dpr: 1 });
    assert.deepEqual(keyboardTargets, [session.view.element]);
    assert.equal(session.view.state, 'connecting');
    assert.ok(sessions.shows('f1'));

    comm.receive({ type: 'title', text: 'Figure 1' });
    assert.equal(find(session, '.nbagg-title')?.textContent, 'Figure 1');
    comm.receive({ type: 'ping' });
    assert.deepEqual(comm.sent, [{ type: 'pong', n: 1 }]);
  });

  test('numbers the messages on each comm from 1, so the kernel can keep their order', () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1');
    const first = commOf(session);
    first.receive({ type: 'ping' });
    first.receive({ type: 'ping' });
    assert.deepEqual(first.sent.map((m) => m.n), [1, 2]);
    session.connect();
    const second = commOf(session);
    assert.notEqual(second, first);
    second.receive({ type: 'ping' });
    assert.deepEqual(second.sent, [{ type: 'pong', n: 1 }], 'a new comm starts again at 1');
  });

  test('the connect message carries the clamped device pixel ratio', () => {
    for (const [dpr, sent] of [[2, 2], [1.25, 1.25], [7, 4], [0.1, 0.5], [NaN, 1], [0, 1]]) {
      setDevicePixelRatio(dpr);
      const kernel = fakeKernel();
      mount(registry(kernel), 'f1');
      assert.equal(kernel.last().data.dpr, sent, `devicePixelRatio ${dpr}`);
    }
  });

  test('bad data shows a text message and opens no comm', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const cases = [
      [{ figure_id: '<img src=x onerror="globalThis.pwned=1">', width: '<b>', height: 10 }, /no valid width and height/],
      [{ figure_id: 'f', width: 640, height: 480, protocol: 99 }, /protocol 99/],
      ['<script>alert(1)</script>', /not valid JSON/],
      [null, /missing/],
      [{ width: 640, height: 480 }, /figure_id/],
    ];
    for (const [data, why] of cases) {
      const host = newHost();
      host.innerHTML = '<span>old</span>';
      const output = fakeOutput(null);
      assert.equal(sessions.mount(host, data, output, { trusted: true }), null);
      assert.equal(host.children.length, 1);
      const shown = /** @type {HTMLElement} */ (host.firstElementChild);
      assert.equal(shown.className, 'nbagg-render-error');
      assert.equal(shown.children.length, 0, 'text only');
      assert.match(String(shown.textContent), /^nbagg: /);
      assert.match(String(shown.textContent), /** @type {RegExp} */ (why));
    }
    assert.equal(kernel.attempts, 0);
    assert.equal(sessions.sessions.size, 0);
    assert.equal(document.querySelector('img, script, b'), null);
  });

  test('showProblem writes its text as text', () => {
    const host = newHost();
    host.innerHTML = '<canvas></canvas>';
    showProblem(host, 'cannot render the figure (<img src=x onerror="globalThis.pwned=1">)');
    assert.equal(host.innerHTML.includes('<img'), false);
    assert.equal(host.textContent, 'nbagg: cannot render the figure (<img src=x onerror="globalThis.pwned=1">)');
    assert.equal(host.querySelectorAll('*').length, 1);
  });

  test('the saved image/png is the placeholder until the first frame', async () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1', { png: 'iVBO\nRw0K Ggo=' });
    const canvas = /** @type {HTMLCanvasElement} */ (find(session, 'canvas.nbagg-canvas'));
    await waitFor(() => contextOf(canvas).callsOf('drawImage').length === 1, 'the placeholder');
    const image = contextOf(canvas).callsOf('drawImage')[0][1];
    assert.ok(image instanceof win.HTMLImageElement);
    assert.equal(image.src, 'data:image/png;base64,iVBORw0KGgo=');
  });

  test('without a kernel the view says so and connects when the kernel is ready', () => {
    const kernel = fakeKernel(false);
    const sessions = registry(kernel);
    const { session } = mount(sessions, 'f1');
    assert.equal(kernel.attempts, 1);
    assert.equal(session.view.state, 'disconnected');
    assert.equal(note(session), 'not connected to a kernel');
    assert.equal(session.waitingForKernel, true);
    kernel.connected = true;
    sessions.kernelReady();
    assert.equal(kernel.opened.length, 1);
    assert.equal(session.view.state, 'connecting');
    assert.equal(session.waitingForKernel, false);
  });
});

describe('kernel lost and back', () => {
  /** Four sessions: live, connecting, closed, and one whose figure the kernel does not know. */
  async function fourSessions() {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const live = mount(sessions, 'live').session;
    await goLive(commOf(live), live);
    const connecting = mount(sessions, 'connecting').session;
    const closed = mount(sessions, 'closed').session;
    const closedComm = commOf(closed);
    closedComm.receive({ type: 'closed' });
    closedComm.kernelCloses();
    const unknown = mount(sessions, 'unknown').session;
    commOf(unknown).kernelCloses();  // closed before any message
    await Promise.all([closed, unknown].map(drained));
    assert.equal(closed.view.state, 'closed');
    assert.equal(unknown.view.state, 'disconnected');
    return { kernel, sessions, live, connecting, closed, unknown };
  }

  test('kernelReady alone reconnects nobody that is not waiting', async () => {
    const { kernel, sessions } = await fourSessions();
    const opened = kernel.opened.length;
    sessions.kernelReady();
    assert.equal(kernel.opened.length, opened);
  });

  test('after kernelLost, kernelReady reconnects each waiting session once', async () => {
    const { kernel, sessions, live, connecting, closed, unknown } = await fourSessions();
    const oldLive = commOf(live);
    const oldConnecting = commOf(connecting);
    const opened = kernel.opened.length;
    kernel.connected = false;
    sessions.kernelLost('the kernel is restarting', false);
    for (const s of [live, connecting, unknown]) {
      assert.equal(s.view.state, 'disconnected');
      assert.equal(note(s), 'the kernel is restarting');
      assert.equal(s.comm, null);
    }
    assert.equal(closed.view.state, 'closed');
    // Nothing is said to a kernel that is gone, and a restarted kernel never knew the comms.
    assert.deepEqual([oldLive.sent, oldConnecting.sent], [[], []]);
    assert.deepEqual([oldLive.closed, oldConnecting.closed], [0, 0]);

    kernel.connected = true;
    sessions.kernelReady();
    sessions.kernelReady();
    const fresh = kernel.opened.slice(opened);
    assert.deepEqual(fresh.map((c) => c.data.figure_id).sort(), ['connecting', 'live', 'unknown']);
    for (const comm of fresh) assert.equal(comm.data.type, 'connect');
    assert.equal(live.view.state, 'connecting');

    // Late messages on the old comm are ignored.
    oldLive.receive({ type: 'title', text: 'old kernel' });
    oldLive.kernelCloses();
    assert.notEqual(find(live, '.nbagg-title')?.textContent, 'old kernel');
    assert.equal(commOf(live), fresh.find((c) => c.data.figure_id === 'live'));
    await drained(live);
    assert.equal(live.view.state, 'connecting');
  });

  test('a lost websocket: the same kernel may return, and the stale comm is closed on reconnect', async () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const { session } = mount(sessions, 'f1');
    const old = commOf(session);
    await goLive(old, session);
    kernel.connected = false;
    sessions.kernelLost('lost the connection to the kernel', true);
    assert.equal(old.closed, 0);
    kernel.connected = true;
    sessions.kernelReady();
    assert.equal(old.closed, 1);
    assert.equal(kernel.opened.length, 2);
  });

  test('a live comm the kernel dropped is reopened a moment later, not in a loop', async (t) => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1');
    await goLive(commOf(session), session);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    commOf(session).kernelCloses();
    await drained(session);
    assert.equal(session.view.state, 'disconnected');
    assert.equal(kernel.opened.length, 1);
    t.mock.timers.tick(1000);
    assert.equal(kernel.opened.length, 2);
    // Dropped again at once: no second reconnect within the interval.
    const second = commOf(session);
    second.receive(...frameMessage({ seq: 1, width: 8, height: 8 }));
    t.mock.timers.reset();
    await waitFor(() => session.view.state === 'live', 'live again');
    t.mock.timers.enable({ apis: ['setTimeout'] });
    second.kernelCloses();
    await drained(session);
    t.mock.timers.tick(5000);
    assert.equal(kernel.opened.length, 2);
  });
});

describe('dispose', () => {
  test('removed: the kernel hears output_removed only from the last view of the figure', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const first = mount(sessions, 'f1').session;
    const second = mount(sessions, 'f1').session;
    const other = mount(sessions, 'f2').session;
    const [c1, c2, c3] = [first, second, other].map(commOf);
    for (const c of [c1, c2, c3]) c.receive({ type: 'title', text: 'answered' });

    first.dispose({ removed: true });
    assert.deepEqual(c1.sent, [], 'f1 is still shown by the second output');
    assert.equal(c1.closed, 1);
    assert.ok(sessions.shows('f1'));

    second.dispose({ removed: true });
    assert.deepEqual(c2.sent, [{ type: 'output_removed', n: 1 }]);
    assert.equal(c2.closed, 1);
    assert.ok(!sessions.shows('f1'));
    second.dispose({ removed: true });
    assert.equal(c2.sent.length, 1, 'disposing twice says nothing more');

    other.dispose({ removed: false });
    assert.deepEqual(c3.sent, [], 'a closing page or panel only closes the comm');
    assert.equal(c3.closed, 1);
    assert.equal(sessions.sessions.size, 0);
  });

  test('disposeAll: closing, every comm closed, nothing removed', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const all = [mount(sessions, 'f1').session, mount(sessions, 'f2').session];
    for (const s of all) commOf(s).receive({ type: 'title', text: 'answered' });
    sessions.disposeAll();
    assert.equal(sessions.closing, true);
    assert.equal(sessions.sessions.size, 0);
    for (const s of all) {
      assert.equal(s.disposed, true);
      assert.deepEqual(kernel.opened.map((c) => c.sent), [[], []]);
    }
    assert.deepEqual(kernel.opened.map((c) => c.closed), [1, 1]);
  });
});

describe('a view let go of before the kernel answered', () => {
  test('an error answer comes with the kernel\'s own close: nothing is closed from here', () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1');
    const comm = commOf(session);
    session.dispose({ removed: true });
    assert.equal(comm.closed, 0, 'no close while the connect is unanswered');
    assert.deepEqual(comm.sent, [{ type: 'output_removed', n: 1 }], 'queued behind the connect in the kernel');
    comm.receive({ type: 'error', code: 'unknown_figure', message: 'unknown figure f1' });
    assert.equal(comm.closed, 0);
  });

  test('a live answer: the comm closes (output_removed went out at dispose)', () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1');
    const comm = commOf(session);
    session.dispose({ removed: true });
    comm.receive({ type: 'title', text: 'Figure 1' });
    assert.deepEqual(comm.sent, [{ type: 'output_removed', n: 1 }]);
    assert.equal(comm.closed, 1);
    comm.receive({ type: 'message', text: 'more' });
    assert.equal(comm.closed, 1, 'later messages change nothing');
  });

  test('a page closing: only the close, once answered', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const { session } = mount(sessions, 'f1');
    const comm = commOf(session);
    sessions.disposeAll();
    comm.receive({ type: 'title', text: 'Figure 1' });
    assert.deepEqual(comm.sent, []);
    assert.equal(comm.closed, 1);
  });
});

describe('restore', () => {
  test('a trusted output with state offers Restore, which reconnects with the state', async () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1', { trusted: true, state: STATE });
    commOf(session).receive({ type: 'error', code: 'unknown_figure', message: 'unknown figure f1' });
    const restore = restoreButton(session);
    assert.ok(restore, 'Restore is offered');
    assert.equal(restore.textContent, 'Restore figure');
    restore.click();
    assert.equal(kernel.opened.length, 2);
    assert.deepEqual(kernel.last().data, {
      type: 'connect', protocol: PROTOCOL_VERSION, figure_id: 'f1', dpr: 1, state: STATE,
    });
    assert.equal(session.view.state, 'connecting');
    assert.equal(restoreButton(session), null, 'the note is gone');
  });

  test('also when the comm closes before any message (a fresh kernel without nbagg)', async () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1', { trusted: true, state: STATE });
    commOf(session).kernelCloses();
    await drained(session);
    assert.ok(restoreButton(session));
  });

  test('no Restore for untrusted outputs, outputs without state, or without a kernel', async () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const untrusted = mount(sessions, 'f1', { trusted: false, state: STATE }).session;
    const stateless = mount(sessions, 'f2', { trusted: true }).session;
    for (const s of [untrusted, stateless]) {
      commOf(s).receive({ type: 'error', code: 'unknown_figure', message: 'unknown' });
      assert.equal(s.view.state, 'disconnected');
      assert.equal(restoreButton(s), null);
    }
    const orphan = mount(sessions, 'f3', { trusted: true, state: STATE }).session;
    kernel.connected = false;
    commOf(orphan).receive({ type: 'error', code: 'unknown_figure', message: 'unknown' });
    assert.equal(restoreButton(orphan), null);
  });

  test('a state the kernel refused is not offered again', () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1', { trusted: true, state: STATE });
    commOf(session).receive({ type: 'error', code: 'unknown_figure', message: 'unknown' });
    /** @type {HTMLButtonElement} */ (restoreButton(session)).click();
    kernel.last().receive({ type: 'error', code: 'bad_state', message: 'the state is not signed with your key' });
    assert.equal(session.restoreRefused, true);
    assert.equal(note(session), 'cannot restore: the state is not signed with your key');
    session.offerRestore();
    assert.equal(restoreButton(session), null);
  });

  test('the state the kernel sends later is the one restored', () => {
    const kernel = fakeKernel();
    const { session } = mount(registry(kernel), 'f1', { trusted: true });
    const newer = { ...STATE, payload: 'bmV3ZXI=' };
    commOf(session).receive({ type: 'state', state: newer });
    commOf(session).receive({ type: 'error', code: 'unknown_figure', message: 'unknown' });
    /** @type {HTMLButtonElement} */ (restoreButton(session)).click();
    assert.deepEqual(kernel.last().data.state, newer);
  });
});

describe('views and notes', () => {
  const VIEW = Object.freeze({ base: STATE.hmac, axes: [[0, 1, 2, 3]], size: [6.4, 4.8], hmac: 'cd'.repeat(32) });

  test('a view message is stored beside the state and goes with it on Restore', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const { session, output } = mount(sessions, 'f1', { state: STATE });
    commOf(session).receive({ type: 'view', view: VIEW });
    assert.deepEqual(output.writes.at(-1)?.data[MIME_TYPE].view, VIEW);
    assert.equal(find(session, '.nbagg-error')?.textContent, '', 'not the view\'s business');
    commOf(session).receive({ type: 'error', code: 'unknown_figure', message: 'unknown' });
    /** @type {HTMLButtonElement} */ (restoreButton(session)).click();
    assert.deepEqual(kernel.last().data, {
      type: 'connect', protocol: PROTOCOL_VERSION, figure_id: 'f1', dpr: 1, state: STATE, view: VIEW,
    });
  });

  test('a new state drops the old view; a view without a state is not stored', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const stateless = mount(sessions, 'f0');
    commOf(stateless.session).receive({ type: 'view', view: VIEW });
    assert.deepEqual(stateless.output.writes, []);
    const { session, output } = mount(sessions, 'f1', { state: STATE });
    commOf(session).receive({ type: 'view', view: VIEW });
    const newer = { ...STATE, payload: 'bmV3ZXI=' };
    commOf(session).receive({ type: 'state', state: newer });
    const spec = output.writes.at(-1)?.data[MIME_TYPE];
    assert.deepEqual([spec.state, 'view' in spec], [newer, false]);
    assert.equal(session.figureView, null);
  });

  test('a figure without a state says why instead of offering Restore, in trusted outputs only', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const why = 'its state is larger than the 32 KB limit. To keep larger states, run nbagg.configure(...)';
    const trusted = mount(sessions, 'f1', { state: STATE });
    const untrusted = mount(sessions, 'f1', { trusted: false });
    commOf(trusted.session).receive({ type: 'state', state: null, note: why });
    assert.equal(trusted.output.writes.at(-1)?.data[MIME_TYPE].state_note, why);
    assert.ok(!('state' in (trusted.output.writes.at(-1)?.data[MIME_TYPE] ?? { state: 'missing write' })));
    for (const { session } of [trusted, untrusted]) {
      commOf(session).receive({ type: 'error', code: 'unknown_figure', message: 'unknown' });
      assert.equal(restoreButton(session), null);
    }
    assert.equal(find(trusted.session, '.nbagg-explain')?.textContent, `Restore is not possible: ${why}`);
    assert.equal(find(untrusted.session, '.nbagg-explain'), null);
    assert.match(note(trusted.session), /re-run the cell\. Restore is not possible: /);
  });
});

describe('writing outputs', () => {
  test('storeState writes the state into every output of that figure, and only there', () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const a1 = mount(sessions, 'A');
    const a2 = mount(sessions, 'A');
    const replaced = mount(sessions, 'A');  // its output now holds another figure
    replaced.output.bundle = figureBundle('Z');
    const gone = mount(sessions, 'A');  // its output is gone from the notebook
    gone.output.bundle = null;
    const b = mount(sessions, 'B');

    commOf(a1.session).receive({ type: 'state', state: STATE });
    for (const { output } of [a1, a2]) {
      assert.equal(output.writes.length, 1);
      assert.deepEqual(output.writes[0].data[MIME_TYPE], { ...figureBundle('A').data[MIME_TYPE], state: STATE });
      assert.deepEqual(output.writes[0].metadata, figureBundle('A').metadata);
    }
    assert.deepEqual([replaced.output.writes, gone.output.writes, b.output.writes], [[], [], []]);
    assert.deepEqual([a1, a2, replaced, gone, b].map((x) => x.session.state), [STATE, STATE, STATE, STATE, null]);
    // The state message is the session's business, not the view's.
    assert.equal(find(a1.session, '.nbagg-error')?.textContent, '');

    commOf(a2.session).receive({ type: 'state', state: null });  // too big to store
    assert.ok(!('state' in a1.output.writes[1].data[MIME_TYPE]));
    assert.equal(a1.session.state, null);
  });

  test('storeFramesBeforeSave writes what is on screen into each output of a drawn figure', async () => {
    const kernel = fakeKernel();
    const sessions = registry(kernel);
    const a1 = mount(sessions, 'A', { state: STATE });
    const a2 = mount(sessions, 'A');
    const replaced = mount(sessions, 'A');
    replaced.output.bundle = figureBundle('Z');
    const b = mount(sessions, 'B');  // never drawn
    await goLive(commOf(a1.session), a1.session);

    // A second drawn view of A (still at another size): one snapshot per figure, the
    // first view's, so every output of the figure saves the same picture.
    const late = mount(sessions, 'A');
    commOf(late.session).receive(...frameMessage({ seq: 1, width: 100, height: 100, dpr: 1 }));
    await waitFor(() => late.session.view.state === 'live', 'live');

    sessions.storeFramesBeforeSave();
    const png = Buffer.from('canvas 1280x960').toString('base64');
    assert.equal(late.output.writes[0].data['image/png'], png);
    for (const { output } of [a1, a2]) {
      assert.equal(output.writes.length, 1);
      const written = output.writes[0];
      assert.equal(written.data['image/png'], png);
      assert.deepEqual(written.metadata['image/png'], { width: 640, height: 480 });
      assert.equal(written.data[MIME_TYPE].figure_id, 'A');
      assert.deepEqual([written.data[MIME_TYPE].width, written.data[MIME_TYPE].height], [640, 480]);
    }
    assert.deepEqual(a1.output.writes[0].data[MIME_TYPE].state, STATE, 'the state stays');
    assert.deepEqual([replaced.output.writes, b.output.writes], [[], []]);
  });
});
