// nbagg: the browser side of one live figure view.
//
// Host-neutral: this module knows the canvas, the toolbar, input and frames, and talks
// to the kernel only through the `transport` it is given. It never touches a notebook
// front end (no `Jupyter`, no JupyterLab); session.js connects it, the adapters
// (classic.js, lab.js) host it. The wire protocol is docs/protocol.md.
import { DOWNLOAD_FORMATS, MAX_PIXELS, MIN_SIZE, TOOLBAR_ACTIONS, clampDpr, clampSize } from './constants.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Interval between `resize` messages while the handle is dragged. */
const RESIZE_INTERVAL_MS = 150;
/** How long an error stays in the error line. */
const ERROR_VISIBLE_MS = 8000;
/** Wheel events further apart than this start a new gesture (see #onWheel). */
const WHEEL_GESTURE_GAP_MS = 200;
// A pointer move this long after the last one sent starts a burst and is sent at once.
const MOVE_BURST_GAP_MS = 50;
// Longest wait for a display frame before painting anyway (see _paintSlot).
const PAINT_SLOT_TIMEOUT_MS = 100;
/** Wheel delta that counts as one step, per WheelEvent.deltaMode (pixel, line, page). */
const WHEEL_UNIT = [100, 3, 1];
/** MouseEvent.button -> the bit it sets in MouseEvent.buttons. */
const BUTTON_BITS = [1, 4, 2, 8, 16];

/**
 * @typedef {{send: (msg: object, buffers?: ArrayBuffer[]) => void, close: () => void}} Transport
 * @typedef {{type: 'scroll', x: number, y: number, step: number, modifiers: string[]}} ScrollMessage
 * @typedef {{pointerId: number, startX: number, startY: number, startWidth: number,
 *   startHeight: number, scale: number, width: number, height: number, moved: boolean,
 *   lastSentAt: number, sent: {width: number, height: number}|null,
 *   timer: ReturnType<typeof setTimeout>|0}} Drag
 * @typedef {{bitmaps: ImageBitmap[], error?: undefined}|{error: string, bitmaps?: undefined}} Decoded
 */

/**
 * Toolbar buttons, left to right. `icon` is SVG path data on a 16x16 grid, stroked.
 * `group` starts a new visual group.
 */
const TOOLS = [
  { action: 'home', label: 'Home', title: 'Reset original view', group: 'nav',
    icon: 'M2 8.5 8 3l6 5.5M4 7v6.5h3v-3.5h2v3.5h3V7' },
  { action: 'back', label: 'Back', title: 'Back to previous view', group: 'nav',
    icon: 'M13.5 8h-11M6.5 4 2.5 8l4 4' },
  { action: 'forward', label: 'Forward', title: 'Forward to next view', group: 'nav',
    icon: 'M2.5 8h11M9.5 4l4 4-4 4' },
  { action: 'pan', label: 'Pan', title: 'Pan axes with left mouse, zoom with right', group: 'mode',
    icon: 'M8 1.5v13M1.5 8h13M6 3.5l2-2 2 2M6 12.5l2 2 2-2M3.5 6l-2 2 2 2M12.5 6l2 2-2 2' },
  { action: 'zoom', label: 'Zoom', title: 'Zoom to rectangle', group: 'mode',
    icon: 'M10.5 6.5a4 4 0 1 1-8 0 4 4 0 0 1 8 0ZM9.5 9.5 14 14' },
  { action: 'download', label: 'Download', title: 'Download the figure in the chosen format', group: 'file',
    icon: 'M8 2v8.5M4.5 7 8 10.5 11.5 7M2.5 13.5h11' },
  { action: 'close', label: 'Close', title: 'Close the figure (it stays as a static image)', group: 'close',
    icon: 'M3.5 3.5l9 9M12.5 3.5l-9 9' },
];

const UNKNOWN_FIGURE_NOTE = 'figure not available in this kernel: re-run the cell';

/**
 * Matplotlib modifier names for an input event, in a fixed order.
 * @param {MouseEvent|KeyboardEvent} e
 * @returns {string[]}
 */
function modifiersOf(e) {
  const mods = [];
  if (e.ctrlKey) mods.push('ctrl');
  if (e.shiftKey) mods.push('shift');
  if (e.altKey) mods.push('alt');
  if (e.metaKey) mods.push('meta');
  return mods;
}

/** @param {number} v */
function round2(v) {
  return Math.round(v * 100) / 100;
}

/** @param {unknown} v @returns {v is number} */
function isFiniteNumber(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

/** @param {any} v @returns {v is number} */
function isPositiveInt(v) {
  return Number.isInteger(v) && v > 0;
}

/**
 * Create an element with a class name.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

/** @param {string} pathData */
function svgIcon(pathData) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', pathData);
  svg.appendChild(path);
  return svg;
}

/**
 * Why a frame message cannot be drawn, or null if it can.
 * @param {Record<string, any>} msg
 * @param {unknown[]} buffers
 * @returns {string|null}
 */
function frameProblem(msg, buffers) {
  if (!Number.isInteger(msg.seq)) return 'missing seq';
  if (!isPositiveInt(msg.width) || !isPositiveInt(msg.height)) return 'bad frame size';
  if (msg.width * msg.height > MAX_PIXELS) return `frame of ${msg.width}x${msg.height} is over the pixel limit`;
  if (!isFiniteNumber(msg.dpr) || msg.dpr <= 0) return 'bad dpr';
  if (!Array.isArray(msg.rects)) return 'missing rects';
  if (msg.rects.length !== buffers.length) {
    return `${msg.rects.length} rects but ${buffers.length} buffers`;
  }
  for (const rect of msg.rects) {
    if (!Array.isArray(rect) || rect.length !== 4 || !rect.every(isFiniteNumber)) return 'bad rect';
  }
  return null;
}

/**
 * Decode PNG buffers; never rejects.
 * @param {Array<ArrayBuffer|ArrayBufferView>} buffers
 * @returns {Promise<Decoded>}
 */
async function decodeAll(buffers) {
  const results = await Promise.allSettled(
    buffers.map((buf) => createImageBitmap(new Blob([buf], { type: 'image/png' })))
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    for (const r of results) if (r.status === 'fulfilled') r.value.close();
    const reason = failed.reason;
    return { error: `cannot decode PNG (${(reason && reason.message) || reason})` };
  }
  return { bitmaps: results.map((r) => /** @type {PromiseFulfilledResult<ImageBitmap>} */ (r).value) };
}

/**
 * One view of one figure.
 *
 * States (`root.dataset.nbaggState`): `connecting` until the first frame is drawn,
 * `live`, `disconnected` (no kernel, or the kernel does not know the figure: the last
 * pixels stay, input is off) and `closed` (the figure was closed: a static image).
 */
/** The toolbar's buttons (exported for the tests that check them against the kernel's). */
export { TOOLS };

export class FigureView {
  // Elements, created by _build (called from the constructor).
  /** @type {HTMLDivElement} */ _root;
  /** @type {HTMLDivElement} */ _toolbar;
  /** @type {HTMLSpanElement} */ _title;
  /** @type {Record<string, HTMLButtonElement>} */ _buttons;
  /** @type {HTMLSelectElement} */ _formatSelect;
  /** @type {HTMLDivElement} */ _wrap;
  /** @type {HTMLCanvasElement} */ _canvas;
  /** @type {CanvasRenderingContext2D} */ _ctx;
  /** @type {HTMLCanvasElement} */ _overlay;
  /** @type {HTMLDivElement} */ _handle;
  /** @type {HTMLDivElement} */ _note;
  /** @type {HTMLDivElement} */ _status;
  /** @type {HTMLDivElement} */ _error;

  /**
   * @param {HTMLElement} element  container; the view appends its root `div.nbagg-figure` to it
   * @param {Transport|null} transport
   *   channel to the kernel (one comm); may be null and attached later with setTransport
   * @param {{figureId?: string, width?: number, height?: number, captureScroll?: boolean,
   *   onUnavailable?: () => void}} [options]
   *   width/height: initial CSS size; captureScroll: let the wheel over the figure not scroll the page
   */
  constructor(element, transport, options = {}) {
    this._transport = transport || null;
    this._transportClosed = !transport;
    this._transportGeneration = 0;
    this._captureScroll = Boolean(options.captureScroll);
    /** Called when the kernel turns out not to know the figure (see offerAction). */
    this._onUnavailable = typeof options.onUnavailable === 'function' ? options.onUnavailable : null;
    this._abort = new AbortController();
    this._disposed = false;
    this._state = 'connecting';
    this._frames = 0;
    this._paintedThisFrame = false;  // a frame was painted since the last display frame
    this._queue = Promise.resolve();  // frames and closing are applied in arrival order
    this._refreshPending = false;
    this._history = { back: false, forward: false };
    this._raf = 0;
    this._lastFlush = -Infinity;  // performance.now() of the last input sent
    /** @type {Record<string, any>|null} */
    this._pendingMove = null;
    /** @type {ScrollMessage|null} */
    this._pendingScroll = null;
    this._wheel = { lastTime: -Infinity, remainder: 0 };
    this._pressedButton = 0;
    /** @type {Drag|null} */
    this._drag = null;  // resize-handle drag
    /** @type {{x0: number, y0: number, x1: number, y1: number}|null} */
    this._rubberband = null;
    /** @type {ReturnType<typeof setTimeout>|0} */
    this._errorTimer = 0;
    // Sizes come from the notebook file: clamped before anything is allocated for them.
    this._cssSize = clampSize(
      isFiniteNumber(options.width) && options.width > 0 ? options.width : 640,
      isFiniteNumber(options.height) && options.height > 0 ? options.height : 480,
      clampDpr(window.devicePixelRatio),
    );
    /** @type {{width: number, height: number}|null} */
    this._frameCssSize = null;  // CSS size of the last full frame

    this._build(element, options);
    this._listen();
    this._setCssSize(this._cssSize.width, this._cssSize.height);
    const dpr = clampDpr(window.devicePixelRatio);  // the ratio _cssSize was clamped for
    this._canvas.width = Math.max(1, Math.round(this._cssSize.width * dpr));
    this._canvas.height = Math.max(1, Math.round(this._cssSize.height * dpr));
    this._setState('connecting');
  }

  /** The root element, `div.nbagg-figure`. @returns {HTMLDivElement} */
  get element() {
    return this._root;
  }

  /** Current state: connecting | live | closed | disconnected. @returns {string} */
  get state() {
    return this._state;
  }

  // ----------------------------------------------------------------- DOM

  /**
   * @param {HTMLElement} element
   * @param {{figureId?: string}} options
   */
  _build(element, options) {
    const root = el('div', 'nbagg-figure');
    root.dataset.nbaggFrames = '0';
    if (options.figureId !== undefined) root.dataset.figureId = String(options.figureId);

    const toolbar = el('div', 'nbagg-toolbar');
    toolbar.setAttribute('role', 'toolbar');
    toolbar.setAttribute('aria-label', 'Figure toolbar');
    const title = el('span', 'nbagg-title');
    toolbar.appendChild(title);
    this._buttons = {};
    /** @type {HTMLDivElement} */
    let group = /** @type {any} */ (null);  // set by the first tool (every tool has a group)
    let groupName = '';
    for (const tool of TOOLS) {
      if (tool.group !== groupName) {
        group = el('div', 'nbagg-group');
        toolbar.appendChild(group);
        groupName = tool.group;
      }
      const button = el('button', 'nbagg-button');
      button.type = 'button';
      button.dataset.action = tool.action;
      button.title = tool.title;
      button.setAttribute('aria-label', tool.label);
      button.appendChild(svgIcon(tool.icon));
      if (tool.action === 'pan' || tool.action === 'zoom') button.setAttribute('aria-pressed', 'false');
      if (tool.action === 'download') {
        const select = el('select', 'nbagg-download-format');
        select.title = 'Download format';
        select.setAttribute('aria-label', 'Download format');
        for (const format of DOWNLOAD_FORMATS) {
          const option = el('option');
          option.value = format;
          option.textContent = format.toUpperCase();
          select.appendChild(option);
        }
        group.appendChild(select);
        this._formatSelect = select;
      }
      group.appendChild(button);
      this._buttons[tool.action] = button;
    }

    const wrap = el('div', 'nbagg-canvas-wrap');
    const canvas = el('canvas', 'nbagg-canvas');
    canvas.tabIndex = 0;
    canvas.setAttribute('aria-label', 'Interactive figure');
    const overlay = el('canvas', 'nbagg-rubberband');
    overlay.setAttribute('aria-hidden', 'true');
    const handle = el('div', 'nbagg-resize-handle');
    handle.title = 'Drag to resize the figure';
    wrap.append(canvas, overlay, handle);

    const note = el('div', 'nbagg-note');
    note.hidden = true;
    const status = el('div', 'nbagg-status');
    status.setAttribute('aria-live', 'off');
    const error = el('div', 'nbagg-error');
    error.setAttribute('role', 'alert');
    error.hidden = true;

    root.append(toolbar, wrap, note, status, error);
    element.appendChild(root);

    this._root = root;
    this._toolbar = toolbar;
    this._title = title;
    this._wrap = wrap;
    this._canvas = canvas;
    this._ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    this._overlay = overlay;
    this._handle = handle;
    this._note = note;
    this._status = status;
    this._error = error;
    this._syncToolbar();
  }

  /** @param {string} state */
  _setState(state) {
    this._state = state;
    this._root.dataset.nbaggState = state;
    this._syncToolbar();
  }

  _connected() {
    return this._state === 'connecting' || this._state === 'live';
  }

  _syncToolbar() {
    const off = !this._connected();
    for (const [action, button] of Object.entries(this._buttons)) {
      let disabled = off;
      if (action === 'back') disabled = off || !this._history.back;
      if (action === 'forward') disabled = off || !this._history.forward;
      button.disabled = disabled;
    }
    this._formatSelect.disabled = off;
  }

  /**
   * Set the canvas' CSS size (the backing store is set by full frames).
   * @param {number} width
   * @param {number} height
   */
  _setCssSize(width, height) {
    this._cssSize = { width, height };
    for (const node of [this._canvas, this._overlay]) {
      node.style.width = `${width}px`;
      node.style.height = `${height}px`;
    }
    const dpr = clampDpr(window.devicePixelRatio);
    this._overlay.width = Math.max(1, Math.round(width * dpr));
    this._overlay.height = Math.max(1, Math.round(height * dpr));
    this._drawRubberband();
  }

  // ------------------------------------------------------------ messages

  /**
   * Handle one message from the kernel.
   * @param {Record<string, any>} msg  parsed JSON message with a `type`
   * @param {Array<ArrayBuffer|ArrayBufferView>} [buffers]  binary buffers of the message
   */
  handleMessage(msg, buffers = []) {
    if (this._disposed || !msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'frame': this._onFrame(msg, buffers || []); break;
      case 'title': this._title.textContent = String(msg.text ?? ''); break;
      case 'message': this._status.textContent = String(msg.text ?? ''); break;
      case 'cursor': this._onCursor(msg); break;
      case 'rubberband': this._onRubberband(msg); break;
      case 'mode': this._onMode(msg); break;
      case 'history': this._onHistory(msg); break;
      case 'download': this._onDownload(msg, buffers || []); break;
      case 'error': this._onError(msg); break;
      case 'closed':
        // The kernel closes the comm right after this: closing it here too would race
        // with that close (JupyterLab logs an error for a close of a comm it dropped).
        this._transportClosed = true;
        this._enqueue(() => this._showClosed());
        break;
      case 'capture_scroll': this._captureScroll = Boolean(msg.value); break;
      case 'ping': this._send({ type: 'pong' }); break;
      case 'fullscreen': this._toggleFullscreen(); break;
      default: console.debug('nbagg: ignoring message of type', msg.type);
    }
  }

  /**
   * Run `step` after everything queued before it; the queue never rejects.
   * @param {() => (void|Promise<void>)} step
   */
  _enqueue(step) {
    this._queue = this._queue.then(step).catch((err) => {
      console.error('nbagg: internal error', err);
    });
    return this._queue;
  }

  /**
   * @param {Record<string, any>} msg
   * @param {Array<ArrayBuffer|ArrayBufferView>} buffers
   */
  _onFrame(msg, buffers) {
    const problem = frameProblem(msg, buffers);
    // Decoding starts now, in parallel with earlier frames; drawing waits its turn.
    /** @type {Promise<Decoded>} */
    const decoded = problem ? Promise.resolve({ error: problem }) : decodeAll(buffers);
    this._enqueue(async () => {
      const result = await decoded;
      await this._paintSlot();
      if (this._disposed || this._state === 'closed') {
        if (result.bitmaps) for (const bitmap of result.bitmaps) bitmap.close();
        return;
      }
      /** @type {string|null|undefined} */
      let failure = result.error;
      if (!failure && result.bitmaps) {
        try {
          failure = this._paint(msg, result.bitmaps);
        } catch (err) {
          failure = `cannot draw (${(err && /** @type {Error} */ (err).message) || err})`;
        } finally {
          for (const bitmap of result.bitmaps) bitmap.close();
        }
      }
      if (failure) {
        this._showError(`nbagg: frame ${msg.seq} not drawn: ${failure}`);
        if (Number.isInteger(msg.seq)) this._send({ type: 'ack', seq: msg.seq });
        if (!this._refreshPending) {
          this._refreshPending = true;
          this._send({ type: 'refresh' });
        }
        return;
      }
      if (msg.full) this._refreshPending = false;
      this._frames += 1;
      this._root.dataset.nbaggFrames = String(this._frames);
      if (this._state === 'connecting') this._setState('live');
      // Acknowledgements are cumulative: the kernel asks for one every few frames.
      if (msg.ack !== false) this._send({ type: 'ack', seq: msg.seq });
    });
  }

  /**
   * Resolve when a frame may be painted: at once if nothing was painted in this display
   * frame, else at the next one. Frames arriving faster than the screen refreshes would
   * never be seen; holding them back (and their acks) slows the kernel to what the
   * screen shows. Hidden pages get no animation frames, so they paint at once.
   * @returns {Promise<void>}
   */
  _paintSlot() {
    if (!this._paintedThisFrame || document.hidden) return Promise.resolve();
    return new Promise((resolve) => {
      requestAnimationFrame(() => resolve());
      // A page hidden while waiting gets no animation frame: do not stall its queue.
      setTimeout(resolve, PAINT_SLOT_TIMEOUT_MS);
    });
  }

  _markPainted() {
    if (this._paintedThisFrame) return;
    this._paintedThisFrame = true;
    requestAnimationFrame(() => { this._paintedThisFrame = false; });
  }

  /**
   * Draw decoded rects; returns a problem string or null.
   * @param {Record<string, any>} msg
   * @param {ImageBitmap[]} bitmaps
   * @returns {string|null}
   */
  _paint(msg, bitmaps) {
    this._markPainted();
    const canvas = this._canvas;
    if (msg.full) {
      if (canvas.width !== msg.width) canvas.width = msg.width;
      if (canvas.height !== msg.height) canvas.height = msg.height;
      this._frameCssSize = { width: msg.width / msg.dpr, height: msg.height / msg.dpr };
      // While the user drags the resize handle the CSS size follows the pointer.
      if (!this._drag) this._setCssSize(this._frameCssSize.width, this._frameCssSize.height);
    } else if (canvas.width !== msg.width || canvas.height !== msg.height) {
      return `partial frame of ${msg.width}x${msg.height} on a ${canvas.width}x${canvas.height} canvas`;
    }
    const ctx = this._ctx;
    msg.rects.forEach((/** @type {number[]} */ [x, y, w, h], /** @type {number} */ i) => {
      ctx.clearRect(x, y, w, h);
      ctx.drawImage(bitmaps[i], x, y);
    });
    return null;
  }

  /** @param {Record<string, any>} msg */
  _onCursor(msg) {
    // Keyword cursors only: a `url(...)` value would make the page fetch something.
    const cursor = typeof msg.cursor === 'string' && /^[a-z-]+$/.test(msg.cursor) ? msg.cursor : 'default';
    this._canvas.style.cursor = cursor;
  }

  /** @param {Record<string, any>} msg */
  _onRubberband(msg) {
    if (msg.clear || ![msg.x0, msg.y0, msg.x1, msg.y1].every(isFiniteNumber)) {
      this._rubberband = null;
    } else {
      this._rubberband = { x0: msg.x0, y0: msg.y0, x1: msg.x1, y1: msg.y1 };
    }
    this._drawRubberband();
  }

  _drawRubberband() {
    const overlay = this._overlay;
    const ctx = /** @type {CanvasRenderingContext2D} */ (overlay.getContext('2d'));
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const rect = this._rubberband;
    if (!rect) return;
    const scale = overlay.width / this._cssSize.width;
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    const x = Math.round(Math.min(rect.x0, rect.x1)) + 0.5;
    const y = Math.round(Math.min(rect.y0, rect.y1)) + 0.5;
    const w = Math.round(Math.abs(rect.x1 - rect.x0));
    const h = Math.round(Math.abs(rect.y1 - rect.y0));
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 4]);
    // Black dashes with white gaps: visible on any background.
    ctx.strokeStyle = '#fff';
    ctx.lineDashOffset = 4;
    ctx.strokeRect(x, y, w, h);
    ctx.strokeStyle = '#000';
    ctx.lineDashOffset = 0;
    ctx.strokeRect(x, y, w, h);
  }

  /** @param {Record<string, any>} msg */
  _onMode(msg) {
    for (const action of ['pan', 'zoom']) {
      const active = msg.mode === action;
      this._buttons[action].classList.toggle('nbagg-active', active);
      this._buttons[action].setAttribute('aria-pressed', String(active));
    }
  }

  /** @param {Record<string, any>} msg */
  _onHistory(msg) {
    this._history = { back: Boolean(msg.back), forward: Boolean(msg.forward) };
    this._syncToolbar();
  }

  /**
   * @param {Record<string, any>} msg
   * @param {Array<ArrayBuffer|ArrayBufferView>} buffers
   */
  _onDownload(msg, buffers) {
    if (!buffers.length) {
      this._showError('nbagg: download arrived without data');
      return;
    }
    const mime = typeof msg.mime === 'string' ? msg.mime : 'application/octet-stream';
    const filename = typeof msg.filename === 'string' && msg.filename
      ? msg.filename : `figure.${typeof msg.format === 'string' ? msg.format : 'bin'}`;
    const url = URL.createObjectURL(new Blob([buffers[0]], { type: mime }));
    const link = document.createElement('a');
    link.href = url;
    link.download = filename;
    link.click();  // a detached link: the click does not bubble into the page
    // The download has started by now; keep the URL a little in case the browser is slow.
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  /** @param {Record<string, any>} msg */
  _onError(msg) {
    const text = String(msg.message ?? msg.code ?? 'unknown error');
    console.warn(`nbagg: kernel error (${msg.code}${msg.request ? `, request ${msg.request}` : ''}): ${text}`);
    this._showError(text);
    if (msg.code === 'unknown_figure') {
      this._unavailable();
    } else if (msg.code === 'bad_state') {
      this.setDisconnected(`cannot restore: ${text}`);
    } else if (msg.request === 'resize' && this._frameCssSize && !this._drag) {
      // The resize was refused: undo the stretched preview.
      this._setCssSize(this._frameCssSize.width, this._frameCssSize.height);
    }
  }

  /** The kernel does not know this figure: say so, and let the host offer a way back. */
  _unavailable() {
    this.setDisconnected(UNKNOWN_FIGURE_NOTE);
    if (this._onUnavailable) this._onUnavailable();
  }

  /**
   * Put a button in the not-connected note (for instance "Restore figure"). It goes
   * away with the note when the view connects again.
   * @param {string} label
   * @param {function(): void} action
   */
  offerAction(label, action) {
    if (this._disposed || this._state !== 'disconnected') return;
    const button = el('button', 'nbagg-action');
    button.type = 'button';
    button.textContent = label;
    button.addEventListener('click', () => action(), { signal: this._abort.signal });
    this._note.append(' ', button);
  }

  /**
   * Add a sentence to the not-connected note (for instance why there is no restore).
   * @param {string} text
   */
  explain(text) {
    if (this._disposed || this._state !== 'disconnected') return;
    const span = el('span', 'nbagg-explain');
    span.textContent = String(text);
    const sentenceEnded = /[.!?]\s*$/.test(this._note.textContent || '');
    this._note.append(sentenceEnded ? ' ' : '. ', span);
  }

  /** @param {string} text */
  _showError(text) {
    clearTimeout(this._errorTimer);
    this._error.textContent = text;
    this._error.hidden = false;
    this._errorTimer = setTimeout(() => {
      this._error.textContent = '';
      this._error.hidden = true;
    }, ERROR_VISIBLE_MS);
  }

  _showClosed() {
    if (this._disposed || this._state === 'closed') return;
    this._endResizeDrag(false);
    this._cancelPendingInput();
    let src = '';
    try {
      src = this._canvas.toDataURL('image/png');
    } catch (err) {
      console.warn('nbagg: cannot keep the last frame', err);
    }
    const img = el('img', 'nbagg-static');
    img.alt = this._title.textContent || 'figure';
    img.src = src;
    img.style.width = this._canvas.style.width;
    img.style.height = this._canvas.style.height;
    this._wrap.replaceWith(img);
    this._toolbar.hidden = true;
    this._status.textContent = '';
    this._note.hidden = true;
    this._setState('closed');
  }

  // ------------------------------------------------------ connection state

  /**
   * Show that there is no kernel behind this view (not connected, or the kernel does not
   * know the figure). The last pixels stay; the toolbar is muted and input is off.
   * @param {string} text  short note shown under the figure
   */
  setDisconnected(text) {
    if (this._disposed || this._state === 'closed') return;
    this._endResizeDrag(false);
    this._cancelPendingInput();
    this._rubberband = null;
    this._drawRubberband();
    this._canvas.style.cursor = '';
    this._status.textContent = '';
    this._onMode({ mode: '' });  // the kernel's mode no longer applies; sent again on reconnect
    this._note.textContent = String(text);
    this._note.hidden = false;
    this._setState('disconnected');
  }

  /**
   * Attach a new transport (for instance a new comm after the kernel connection came
   * back). The view goes back to `connecting` and keeps its pixels until a frame comes.
   * @param {Transport} transport
   */
  setTransport(transport) {
    if (this._disposed || this._state === 'closed') return;
    if (this._transport && !this._transportClosed) this._closeTransport();
    this._transport = transport;
    this._transportClosed = false;
    this._transportGeneration += 1;
    this._refreshPending = false;
    this._note.hidden = true;
    this._note.textContent = '';
    this._setState('connecting');
  }

  /** The kernel closed the transport (comm). */
  transportClosed() {
    if (this._transportClosed) return;
    this._transportClosed = true;
    const generation = this._transportGeneration;
    // Queued so that a `closed` message sent just before is applied first.
    this._enqueue(() => {
      if (this._disposed || generation !== this._transportGeneration) return;
      // Closed before any answer: the kernel does not know the figure (a fresh kernel
      // without nbagg imported has no comm target and closes the comm at once).
      if (this._state === 'connecting') this._unavailable();
      else if (this._state === 'live') this.setDisconnected('disconnected from the kernel');
    });
  }

  /**
   * Show a still image (e.g. the PNG saved with the notebook) until the first live frame.
   * @param {string} url  image URL (a data: URL in practice)
   */
  setPlaceholder(url) {
    const img = new Image();
    img.src = url;
    const ready = img.decode().then(() => img, () => null);
    this._enqueue(async () => {
      const image = await ready;
      if (!image || this._disposed || this._frames > 0 || this._state === 'closed') return;
      const dpr = clampDpr(window.devicePixelRatio);
      this._canvas.width = Math.max(1, Math.round(this._cssSize.width * dpr));
      this._canvas.height = Math.max(1, Math.round(this._cssSize.height * dpr));
      this._ctx.drawImage(image, 0, 0, this._canvas.width, this._canvas.height);
    });
  }

  /** @param {Record<string, any>} msg */
  _send(msg) {
    if (this._disposed || this._transportClosed || !this._connected()) return;
    try {
      /** @type {Transport} */ (this._transport).send(msg, []);
    } catch (err) {
      console.warn('nbagg: cannot send to the kernel', err);
    }
  }

  _closeTransport() {
    this._transportClosed = true;
    try {
      /** @type {Transport} */ (this._transport).close();
    } catch (err) {
      console.warn('nbagg: cannot close the connection', err);
    }
  }

  /** Remove every listener, stop timers and close the transport. The DOM stays. */
  dispose() {
    if (this._disposed) return;
    this._endResizeDrag(false);
    this._cancelPendingInput();
    this._disposed = true;
    this._abort.abort();
    clearTimeout(this._errorTimer);
    if (this._transport && !this._transportClosed) this._closeTransport();
  }

  // --------------------------------------------------------------- input

  _listen() {
    const opts = { signal: this._abort.signal };
    const canvas = this._canvas;
    /**
     * @param {EventTarget} target
     * @param {string} type
     * @param {(e: any) => void} handler
     * @param {AddEventListenerOptions} [extra]
     */
    const on = (target, type, handler, extra) =>
      target.addEventListener(type, handler, Object.assign({}, opts, extra));

    for (const [action, button] of Object.entries(this._buttons)) {
      on(button, 'click', () => this._onToolbar(action));
    }

    on(canvas, 'pointerdown', (e) => this._onPointerDown(e));
    on(canvas, 'pointermove', (e) => this._onPointerMove(e));
    on(canvas, 'pointerup', (e) => this._onPointerUp(e));
    on(canvas, 'pointercancel', (e) => this._onPointerUp(e, this._pressedButton));
    on(canvas, 'pointerenter', (e) => this._sendMouse('enter', e));
    on(canvas, 'pointerleave', (e) => this._sendMouse('leave', e));
    // Mouse presses are sent from `mousedown`, whose `detail` counts clicks: the second
    // press of a double click goes out as `dblclick`, as desktop matplotlib reports it
    // (press, release, press with dblclick=True, release). Pen and touch use pointerdown.
    on(canvas, 'mousedown', (e) => this._onMouseDown(e));
    on(canvas, 'contextmenu', (e) => e.preventDefault());
    // Not passive: the kernel may switch capture-scroll on later (canvas.capture_scroll).
    on(canvas, 'wheel', (e) => this._onWheel(e), { passive: false });
    // Keys are taken at the window in the capture phase, before any front end sees them:
    // Notebook 7 handles its shortcuts in the capture phase at the document, where a
    // listener on the canvas would come too late to keep them from firing.
    /** @param {KeyboardEvent} e @param {string} kind */
    const onKey = (e, kind) => {
      if (e.target === canvas) this._onKey(e, kind);
    };
    on(window, 'keydown', (e) => onKey(e, 'press'), { capture: true });
    on(window, 'keyup', (e) => onKey(e, 'release'), { capture: true });

    const handle = this._handle;
    on(handle, 'pointerdown', (e) => this._onHandleDown(e));
    on(handle, 'pointermove', (e) => this._onHandleMove(e));
    on(handle, 'pointerup', () => this._endResizeDrag(true));
    on(handle, 'lostpointercapture', () => this._endResizeDrag(true));

    this._watchDpr();
  }

  /**
   * The pixels on screen as a PNG, for the saved notebook: `{png, width, height}` with
   * base64 data and the CSS size, or null before the first frame.
   * @returns {{png: string, width: number, height: number}|null}
   */
  snapshot() {
    if (this._frames === 0 || !this._frameCssSize) return null;
    const url = this._canvas.toDataURL('image/png');
    const comma = url.indexOf(',');
    return {
      png: url.slice(comma + 1),
      width: Math.round(this._frameCssSize.width),
      height: Math.round(this._frameCssSize.height),
    };
  }

  /** Key 'f' in the kernel: full screen for this figure, or back. */
  _toggleFullscreen() {
    const root = this._root;
    if (document.fullscreenElement === root) {
      document.exitFullscreen().catch(() => {});
    } else if (root.requestFullscreen) {
      root.requestFullscreen().catch((err) => this._showError(`full screen refused: ${err.message}`));
    }
  }

  /**
   * The output holding this view was removed (cell re-run, output cleared, cell
   * deleted) and no other output on the page shows the figure: tell the kernel, which
   * closes a figure nobody can see. A page reload does not call this.
   */
  notifyOutputRemoved() {
    if (this._connected()) this._send({ type: 'output_removed' });
  }

  /** @param {string} action */
  _onToolbar(action) {
    if (action === 'download') {
      this._send({ type: 'download', format: this._formatSelect.value });
    } else if (action === 'close') {
      this._send({ type: 'close' });
    } else if (TOOLBAR_ACTIONS.includes(action)) {
      this._send({ type: 'toolbar', action });
    }
  }

  /**
   * Pointer position in CSS px relative to the canvas' top-left corner.
   * @param {MouseEvent} e
   */
  _position(e) {
    const canvas = this._canvas;
    const r = canvas.getBoundingClientRect();
    // clientWidth / r.width undoes CSS transforms and zoom between the page and the canvas.
    const sx = r.width > 0 ? canvas.clientWidth / r.width : 1;
    const sy = r.height > 0 ? canvas.clientHeight / r.height : 1;
    return { x: round2((e.clientX - r.left) * sx), y: round2((e.clientY - r.top) * sy) };
  }

  /** @param {string} kind @param {MouseEvent} e @param {number} [button] */
  _mouseMessage(kind, e, button) {
    const { x, y } = this._position(e);
    return {
      type: 'mouse',
      kind,
      x,
      y,
      // Pointer events report -1 for "no button changed" (moves, enter, leave); the
      // protocol wants MouseEvent.button, which is 0 there.
      button: button ?? Math.max(0, e.button),
      buttons: e.buttons,
      modifiers: modifiersOf(e),
    };
  }

  /** @param {string} kind @param {MouseEvent} e @param {number} [button] */
  _sendMouse(kind, e, button) {
    if (!this._connected()) return;
    this._flushInput();
    this._send(this._mouseMessage(kind, e, button));
  }

  /** @param {PointerEvent} e */
  _onPointerDown(e) {
    this._canvas.focus({ preventScroll: true });
    if (!this._connected()) return;
    try {
      this._canvas.setPointerCapture(e.pointerId);  // the release arrives even outside
    } catch (err) {
      // The pointer is already gone; nothing to capture.
    }
    this._pressedButton = Math.max(0, e.button);
    if (e.pointerType !== 'mouse') this._sendMouse('press', e);
  }

  /** @param {MouseEvent} e */
  _onMouseDown(e) {
    // No middle-click autoscroll. (Cancelling pointerdown instead would suppress this
    // mousedown, and with it the press.)
    if (e.button === 1) e.preventDefault();
    if (!this._connected()) return;
    this._sendMouse(e.detail === 2 ? 'dblclick' : 'press', e);
  }

  /** @param {PointerEvent} e */
  _onPointerMove(e) {
    if (!this._connected()) return;
    if (e.button >= 0) {
      // A second button pressed or released during a drag arrives as a pointermove.
      const bit = BUTTON_BITS[e.button] || 0;
      this._sendMouse(e.buttons & bit ? 'press' : 'release', e);
      return;
    }
    this._pendingMove = this._mouseMessage('move', e);
    // The first move of a burst goes out at once (a pan drag starts responding a
    // display frame sooner); the rest are coalesced to one per display frame.
    if (this._raf === 0 && e.timeStamp - this._lastFlush > MOVE_BURST_GAP_MS) this._flushInput();
    else this._scheduleFlush();
  }

  /** @param {PointerEvent} e @param {number} [button] */
  _onPointerUp(e, button) {
    if (!this._connected()) return;
    this._sendMouse('release', e, button);
  }

  /**
   * Wheel input, as whole steps. One wheel notch is one step in every browser; a
   * trackpad's stream of small deltas is summed, so that it scrolls proportionally
   * instead of one step per event, but the first event of a gesture always counts.
   * @param {WheelEvent} e
   */
  _onWheel(e) {
    if (this._captureScroll) e.preventDefault();
    if (!this._connected()) return;
    const mode = e.deltaMode;
    if (!e.deltaY) return;
    let steps = -e.deltaY / (WHEEL_UNIT[mode] || WHEEL_UNIT[0]);
    const wheel = this._wheel;
    if (e.timeStamp - wheel.lastTime > WHEEL_GESTURE_GAP_MS) {
      wheel.remainder = 0;
      if (Math.abs(steps) < 1) steps = Math.sign(steps);
    }
    wheel.lastTime = e.timeStamp;
    wheel.remainder += steps;
    // The epsilon keeps ten deltas of 0.3 from summing to 2.9999999 steps.
    const whole = Math.trunc(wheel.remainder + Math.sign(wheel.remainder) * 1e-9);
    wheel.remainder -= whole;
    const { x, y } = this._position(e);
    const previous = this._pendingScroll ? this._pendingScroll.step : 0;
    this._pendingScroll = { type: 'scroll', x, y, step: previous + whole, modifiers: modifiersOf(e) };
    this._scheduleFlush();
  }

  _scheduleFlush() {
    if (this._raf === 0) {
      this._raf = requestAnimationFrame(() => {
        this._raf = 0;
        this._flushInput();
      });
    }
  }

  /** Send the coalesced move and scroll now (before any message that must follow them). */
  _flushInput() {
    const move = this._pendingMove;
    const scroll = this._pendingScroll;
    this._pendingMove = null;
    this._pendingScroll = null;
    this._lastFlush = performance.now();
    if (move) this._send(move);
    if (scroll && scroll.step !== 0) this._send(scroll);
  }

  _cancelPendingInput() {
    if (this._raf) cancelAnimationFrame(this._raf);
    this._raf = 0;
    this._pendingMove = null;
    this._pendingScroll = null;
  }

  /** @param {KeyboardEvent} e @param {string} kind */
  _onKey(e, kind) {
    if (e.key === 'Tab' || e.isComposing) return;
    if (e.key === 'Escape') {
      if (kind === 'press') this._releaseKeyboard();
      return;
    }
    // Ctrl-S / Cmd-S stays the front end's "save notebook".
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') return;
    if (!this._connected()) return;
    // Keep the notebook's shortcuts and the page's scrolling out of the figure's keys.
    e.preventDefault();
    e.stopPropagation();
    this._flushInput();
    this._send({ type: 'key', kind, key: e.key, modifiers: modifiersOf(e) });
  }

  /**
   * Give the keyboard back to the page: to the nearest focusable element around the
   * figure (the notebook, whose shortcuts then work again), or to nothing.
   */
  _releaseKeyboard() {
    const home = this._root.parentElement && this._root.parentElement.closest('[tabindex]');
    if (home instanceof HTMLElement) home.focus({ preventScroll: true });
    else this._canvas.blur();
  }

  // -------------------------------------------------------------- resize

  /** @param {PointerEvent} e */
  _onHandleDown(e) {
    if (e.button !== 0 || !this._connected()) return;
    e.preventDefault();
    e.stopPropagation();
    try {
      this._handle.setPointerCapture(e.pointerId);
    } catch (err) {
      return;
    }
    const r = this._canvas.getBoundingClientRect();
    this._drag = {
      pointerId: e.pointerId,
      startX: e.clientX,
      startY: e.clientY,
      startWidth: this._cssSize.width,
      startHeight: this._cssSize.height,
      scale: r.width > 0 ? this._canvas.clientWidth / r.width : 1,
      width: Math.round(this._cssSize.width),
      height: Math.round(this._cssSize.height),
      moved: false,
      lastSentAt: -Infinity,
      sent: null,
      timer: 0,
    };
  }

  /** @param {PointerEvent} e */
  _onHandleMove(e) {
    const drag = this._drag;
    if (!drag || e.pointerId !== drag.pointerId) return;
    drag.width = Math.max(MIN_SIZE, Math.round(drag.startWidth + (e.clientX - drag.startX) * drag.scale));
    drag.height = Math.max(MIN_SIZE, Math.round(drag.startHeight + (e.clientY - drag.startY) * drag.scale));
    drag.moved = true;
    this._setCssSize(drag.width, drag.height);  // preview: the old pixels stretch
    const wait = drag.lastSentAt + RESIZE_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this._sendResize();
    } else if (!drag.timer) {
      drag.timer = setTimeout(() => {
        drag.timer = 0;
        if (this._drag === drag) this._sendResize();
      }, wait);
    }
  }

  _sendResize() {
    const drag = /** @type {Drag} */ (this._drag);
    drag.lastSentAt = performance.now();
    if (drag.sent && drag.sent.width === drag.width && drag.sent.height === drag.height) return;
    drag.sent = { width: drag.width, height: drag.height };
    this._send({ type: 'resize', width: drag.width, height: drag.height });
  }

  /**
   * Finish a resize drag; with `send`, make sure the final size went to the kernel.
   * @param {boolean} send
   */
  _endResizeDrag(send) {
    const drag = this._drag;
    if (!drag) return;
    clearTimeout(drag.timer);
    drag.timer = 0;
    if (send && drag.moved) this._sendResize();
    this._drag = null;
  }

  // ----------------------------------------------------------------- dpr

  /** Tell the kernel when the device pixel ratio changes (zoom, another screen). */
  _watchDpr() {
    if (typeof window.matchMedia !== 'function' || this._disposed) return;
    const dpr = window.devicePixelRatio || 1;
    const query = window.matchMedia(`(resolution: ${dpr}dppx)`);
    query.addEventListener('change', () => {
      this._send({ type: 'dpr', dpr: clampDpr(window.devicePixelRatio) });
      this._setCssSize(this._cssSize.width, this._cssSize.height);  // re-fit the overlay
      this._watchDpr();
    }, { once: true, signal: this._abort.signal });
  }
}

