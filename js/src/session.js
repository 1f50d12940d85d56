// nbagg: the per-output session logic every front end shares.
//
// A FigureSessions registry belongs to one kernel connection (the classic Notebook page,
// or one JupyterLab notebook or console panel). It renders figure outputs as FigureViews
// and connects each to the kernel with one comm. Adapters (classic.js, lab.js) only say
// where comms come from (a KernelLink), how an output's data is read and written back
// (an OutputLink), when the kernel comes and goes (kernelLost / kernelReady) and when an
// output is gone (FigureSession.dispose). The protocol is docs/protocol.md.
import { COMM_TARGET, MIME_TYPE, PROTOCOL_VERSION, clampDpr } from './constants.js';
import { FigureView } from './figure_view.js';
import { figureSpec, withFrame, withState, withView } from './spec.js';

/** A session reconnects on its own at most this often (see reconnectSoon). */
const RECONNECT_INTERVAL_MS = 5000;
const RECONNECT_DELAY_MS = 1000;

/**
 * @typedef {object} Comm  one comm to the kernel, as the host opened it
 * @property {(data: object, buffers?: ArrayBuffer[]) => void} send
 * @property {() => void} close
 *
 * @typedef {object} CommHandlers
 * @property {(data: any, buffers: Array<ArrayBuffer|ArrayBufferView>) => void} onMessage
 * @property {() => void} onClose  the kernel closed the comm
 *
 * @typedef {object} KernelLink  where comms come from (one per kernel connection)
 * @property {(target: string, data: object, handlers: CommHandlers) => (Comm|null)} openComm
 *   a comm opened with `data`, or null when no kernel is connected
 * @property {() => boolean} hasKernel  a kernel is connected now
 *
 * @typedef {{data: Record<string, any>, metadata: Record<string, any>}} Bundle
 *
 * @typedef {object} OutputLink  the notebook output a view renders
 * @property {() => (Bundle|null)} read  its data and metadata as the notebook holds them
 * @property {(bundle: Bundle) => void} write  replace them (the saved file gets these)
 */

/** One rendered figure output: its view, the comm behind it and its output. */
export class FigureSession {
  /**
   * @param {FigureSessions} sessions
   * @param {FigureView} view
   * @param {{figureId: string, state: object|null, view: object|null, stateNote: string|null,
   *   trusted: boolean}} spec
   * @param {OutputLink} output
   */
  constructor(sessions, view, spec, output) {
    this.sessions = sessions;
    this.view = view;
    this.figureId = spec.figureId;
    /** Signed figure state for restoring it in a new kernel (or null). */
    this.state = spec.state;
    /** Signed limits and size since that state (navigation), or null. */
    this.figureView = spec.view;
    /** Why the figure stores no state (shown instead of Restore), or null. */
    this.stateNote = spec.stateNote;
    /** Restore is offered only in outputs the front end trusts (the user's own). */
    this.trusted = spec.trusted;
    this.output = output;
    this.restoreRefused = false;
    /** @type {Comm|null} */
    this.comm = null;
    /** @type {Comm|null} dropped when the websocket went away; closed on reconnect */
    this.staleComm = null;
    /** No kernel behind the view: connect when one comes (see FigureSessions.kernelReady). */
    this.waitingForKernel = false;
    this.lastReconnect = -Infinity;
    this.disposed = false;
  }

  /**
   * Open a comm for the view if the kernel is there; otherwise say so. With `restore`,
   * the connect message carries the stored state so that a kernel which does not know
   * the figure rebuilds it (after verifying its signature; see nbagg/state.py).
   */
  connect(restore = false) {
    if (this.disposed) return;
    this.closeStale();
    /** @type {Record<string, any>} */
    const hello = {
      type: 'connect',
      protocol: PROTOCOL_VERSION,
      figure_id: this.figureId,
      dpr: clampDpr(window.devicePixelRatio),
    };
    if (restore && this.state) {
      hello.state = this.state;
      if (this.figureView) hello.view = this.figureView;
    }
    /** @type {Comm|null} */
    let comm = null;
    let answered = false;
    /** Set when the view let go of the comm before the kernel answered (see below). */
    let closeOnAnswer = false;
    comm = this.sessions.kernel.openComm(COMM_TARGET, hello, {
      // Callbacks from a comm this session has since dropped are ignored.
      onMessage: (data, buffers) => {
        const first = !answered;
        answered = true;
        if (first && closeOnAnswer && comm) this.closeUnanswered(comm, data || {});
        else if (this.comm === comm && comm) this.onMessage(data || {}, buffers || []);
      },
      onClose: () => {
        if (this.comm !== comm || !comm) return;
        this.comm = null;
        const wasLive = this.view.state === 'live';
        this.view.transportClosed();
        // The kernel dropped a live view without closing the figure (it had stopped
        // hearing from it, e.g. after the computer slept): come back with a new view.
        if (wasLive) this.reconnectSoon();
      },
    });
    if (!comm) {
      this.waitingForKernel = true;
      this.view.setDisconnected('not connected to a kernel');
      return;
    }
    this.waitingForKernel = false;
    this.comm = comm;
    const opened = comm;
    // Every message on this comm is numbered from 1, so that the kernel can put them
    // back in order: a kernel with subshells may handle a comm's messages on two
    // threads (docs/protocol.md, "Order").
    let sent = 0;
    this.view.setTransport({
      send: (msg, buffers) => {
        sent += 1;
        opened.send({ ...msg, n: sent }, buffers);
      },
      close: () => {
        if (this.comm !== opened) return;  // already dropped (see abandon)
        this.comm = null;
        // Not answered yet: the kernel may be busy (a running cell) and about to answer
        // with an error and a close of its own; closing now would cross that close.
        if (answered) opened.close();
        else closeOnAnswer = true;
      },
    });
  }

  /**
   * The kernel answered a comm this session had already let go of. An error (unknown
   * figure) comes with the kernel's own close; anything else means a view the kernel
   * now feeds (and has heard output_removed from, if the output went): close it.
   * @param {Comm} comm
   * @param {Record<string, any>} first  the kernel's first message
   */
  closeUnanswered(comm, first) {
    if (first.type === 'error') return;
    try {
      comm.close();
    } catch (err) {
      console.debug('nbagg: cannot close a comm', err);
    }
  }

  /**
   * @param {Record<string, any>} data
   * @param {Array<ArrayBuffer|ArrayBufferView>} buffers
   */
  onMessage(data, buffers) {
    if (data.type === 'state') {
      const note = typeof data.note === 'string' ? data.note : null;
      this.sessions.storeState(this.figureId, data.state || null, note);
      return;
    }
    if (data.type === 'view') {
      if (data.view && typeof data.view === 'object') this.sessions.storeView(this.figureId, data.view);
      return;
    }
    if (data.type === 'error' && data.code === 'bad_state') this.restoreRefused = true;
    this.view.handleMessage(data, buffers);
  }

  /**
   * The kernel connection went away: drop the comm without sending anything. After a
   * restart or a death the kernel process is new and never knew it; after a lost
   * websocket (`sameKernelMayReturn`) the same kernel may come back, and is told on
   * reconnect. Hosts keep a dropped comm registered, so late messages from the old
   * kernel land in its callbacks, which ignore them.
   * @param {string} text
   * @param {boolean} sameKernelMayReturn
   */
  abandon(text, sameKernelMayReturn) {
    const comm = this.comm;
    this.comm = null;
    if (comm && sameKernelMayReturn) this.staleComm = comm;
    this.waitingForKernel = true;
    this.view.setDisconnected(text);
  }

  /** Same kernel behind a new websocket: let it forget the old view (best effort). */
  closeStale() {
    const stale = this.staleComm;
    this.staleComm = null;
    if (!stale) return;
    try {
      stale.close();
    } catch (err) {
      console.debug('nbagg: cannot close a stale comm', err);
    }
  }

  /** Reconnect once, a moment from now, if the kernel is still there (not too often). */
  reconnectSoon() {
    const now = Date.now();
    if (now - this.lastReconnect < RECONNECT_INTERVAL_MS) return;
    this.lastReconnect = now;
    setTimeout(() => {
      if (!this.disposed && this.comm === null && this.view.state === 'disconnected' && this.sessions.kernel.hasKernel()) {
        this.connect();
      }
    }, RECONNECT_DELAY_MS);
  }

  /**
   * Until the first live frame (or for good, without a kernel that knows the figure)
   * show the output's image/png instead of an empty canvas. The kernel updates that
   * image while a running cell draws (plt.pause) and no view can connect yet.
   */
  showSavedImage() {
    const bundle = this.output.read();
    const png = bundle && bundle.data['image/png'];
    if (typeof png === 'string' && png) this.view.setPlaceholder(`data:image/png;base64,${png.replace(/\s+/g, '')}`);
  }

  /**
   * The host re-rendered this output with new data for the same figure (an
   * update_display_data, or our own write-back): keep the view, follow the new output.
   * @param {OutputLink} output
   */
  outputChanged(output) {
    this.output = output;
    const bundle = output.read();
    const spec = bundle && figureSpec(bundle.data[MIME_TYPE]);
    if (spec && typeof spec !== 'string' && spec.figureId === this.figureId) {
      this.state = spec.state;
      this.figureView = spec.view;
      this.stateNote = spec.stateNote;
    }
    this.showSavedImage();
  }

  /** The kernel does not know the figure: offer to rebuild it from the stored state. */
  offerRestore() {
    if (!this.trusted || this.restoreRefused || !this.sessions.kernel.hasKernel()) return;
    if (this.state) this.view.offerAction('Restore figure', () => this.connect(true));
    else if (this.stateNote) this.view.explain(`Restore is not possible: ${this.stateNote}`);
  }

  /**
   * Change this session's output data (the notebook model only: nothing re-renders).
   * @param {(bundle: Bundle) => (Bundle|null)} change  the new bundle, or null to keep it
   */
  rewriteOutput(change) {
    const bundle = this.output.read();
    if (!bundle || !figureSpecMatches(bundle, this.figureId)) return;
    const updated = change(bundle);
    if (updated) this.output.write(updated);
  }

  /**
   * The output is gone. With `removed` (its cell was re-run, cleared or deleted, rather
   * than the page or panel closing) and no other view of the figure left on the page,
   * the kernel is told, and closes the figure nobody can see.
   * @param {{removed: boolean}} how
   */
  dispose({ removed }) {
    if (this.disposed) return;
    this.disposed = true;
    this.sessions.forget(this);
    if (removed && !this.sessions.shows(this.figureId)) this.view.notifyOutputRemoved();
    this.view.dispose();  // closes the comm through the transport
    this.comm = null;
    this.closeStale();
  }
}

/**
 * @param {Bundle} bundle
 * @param {string} figureId
 */
function figureSpecMatches(bundle, figureId) {
  const spec = figureSpec(bundle.data && bundle.data[MIME_TYPE]);
  return typeof spec !== 'string' && spec.figureId === figureId;
}

/** Every figure session of one kernel connection. */
export class FigureSessions {
  /** @param {KernelLink} kernel */
  constructor(kernel) {
    this.kernel = kernel;
    /** @type {Set<FigureSession>} */
    this.sessions = new Set();
    /** The panel or page is closing: disposed outputs are not "removed" (see dispose). */
    this.closing = false;
  }

  /**
   * Render a figure output into `host` and connect it. Bad data shows a message instead.
   * @param {HTMLElement} host  the output's element
   * @param {unknown} data  the output's MIME_TYPE data
   * @param {OutputLink} output
   * @param {{trusted: boolean, onKeyboardTarget?: (el: HTMLElement) => void}} options
   * @returns {FigureSession|null}
   */
  mount(host, data, output, options) {
    const spec = figureSpec(data);
    if (typeof spec === 'string') {
      showProblem(host, spec);
      return null;
    }
    /** @type {FigureSession|null} */
    let session = null;
    const view = new FigureView(host, null, {
      figureId: spec.figureId,
      width: spec.width,
      height: spec.height,
      captureScroll: false,
      onUnavailable: () => session && session.offerRestore(),
    });
    session = new FigureSession(this, view, { ...spec, trusted: options.trusted }, output);
    this.sessions.add(session);
    try {
      if (options.onKeyboardTarget) options.onKeyboardTarget(view.element);
      session.connect();
    } catch (err) {
      session.dispose({ removed: false });
      throw err;
    }
    // Read a moment later: the classic Notebook records an output only after rendering it.
    Promise.resolve().then(() => session && session.showSavedImage())
      .catch((err) => console.warn('nbagg: no saved image for the figure', err));
    return session;
  }

  /** @param {FigureSession} session */
  forget(session) {
    this.sessions.delete(session);
  }

  /**
   * Another live session shows this figure.
   * @param {string} figureId
   */
  shows(figureId) {
    for (const s of this.sessions) if (s.figureId === figureId) return true;
    return false;
  }

  /**
   * The kernel went away (restart, death, shutdown, lost websocket).
   * @param {string} text  what the views say
   * @param {boolean} sameKernelMayReturn  only the connection was lost
   */
  kernelLost(text, sameKernelMayReturn) {
    for (const s of this.sessions) if (s.view.state !== 'closed') s.abandon(text, sameKernelMayReturn);
  }

  /** A kernel connection is there (again): connect every view that waits for one. */
  kernelReady() {
    for (const s of Array.from(this.sessions)) {
      if (!s.waitingForKernel || s.comm !== null || s.view.state !== 'disconnected') continue;
      try {
        s.connect();
      } catch (err) {
        console.warn('nbagg: cannot reconnect a figure', err);
      }
    }
  }

  /**
   * The kernel sent a fresh signed state for a figure (after it changed): keep it in
   * every output of that figure, so a saved notebook can restore the figure's latest
   * state in a new kernel. null: not stored, and `note` says why.
   * @param {string} figureId
   * @param {object|null} state
   * @param {string|null} note
   */
  storeState(figureId, state, note) {
    for (const s of this.sessions) {
      if (s.figureId !== figureId) continue;
      s.state = state;
      s.figureView = null;
      s.stateNote = state ? null : note;
      s.rewriteOutput((bundle) => withState(bundle, state, note));
    }
  }

  /**
   * The figure was navigated (panned, zoomed, resized): keep its signed view beside the
   * state, so a restore brings back what the user last looked at.
   * @param {string} figureId
   * @param {object} view
   */
  storeView(figureId, view) {
    for (const s of this.sessions) {
      if (s.figureId !== figureId || !s.state) continue;
      s.figureView = view;
      s.rewriteOutput((bundle) => withView(bundle, view));
    }
  }

  /**
   * Before the notebook is saved: write the frame on screen into each figure output's
   * image/png, so the saved file, nbviewer, GitHub and front ends without this extension
   * show what the user last saw.
   */
  storeFramesBeforeSave() {
    /** @type {Map<string, {png: string, width: number, height: number}>} */
    const shots = new Map();
    for (const s of this.sessions) {
      if (shots.has(s.figureId)) continue;
      const shot = s.view.snapshot();
      if (shot) shots.set(s.figureId, shot);
    }
    for (const s of this.sessions) {
      const shot = shots.get(s.figureId);
      if (shot) s.rewriteOutput((bundle) => withFrame(bundle, shot));
    }
  }

  /** The page or panel goes away: close every comm; the kernel keeps the figures. */
  disposeAll() {
    this.closing = true;
    for (const s of Array.from(this.sessions)) s.dispose({ removed: false });
  }
}

/**
 * @param {HTMLElement} host
 * @param {string} text
 */
export function showProblem(host, text) {
  const div = document.createElement('div');
  div.className = 'nbagg-render-error';
  div.textContent = `nbagg: ${text}`;
  host.replaceChildren(div);
}
