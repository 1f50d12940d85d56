// nbagg: classic Notebook adapter. The only file that knows about `Jupyter`.
//
// It renders outputs of MIME_TYPE as a FigureView and connects each view to the kernel
// with one comm (target COMM_TARGET). The protocol is docs/protocol.md.
define([
  'require',
  'base/js/namespace',
  'notebook/js/outputarea',
  './figure_view',
], function (require, Jupyter, outputarea, figureView) {
  'use strict';

  const MIME_TYPE = 'application/vnd.nbagg.figure.v1+json';
  const COMM_TARGET = 'nbagg.figure';
  const PROTOCOL_VERSION = 1;
  const { FigureView } = figureView;

  /** Every mounted figure that has not been disposed yet. */
  const mounts = new Set();
  let detachObserver = null;

  function clampDpr(dpr) {
    return Math.min(4, Math.max(0.5, Number.isFinite(dpr) && dpr > 0 ? dpr : 1));
  }

  function liveKernel() {
    const kernel = Jupyter.notebook && Jupyter.notebook.kernel;
    return kernel && kernel.comm_manager && kernel.is_connected() ? kernel : null;
  }

  /** One rendered figure output: its view and the comm behind it. */
  class Mount {
    constructor(view, figureId, state) {
      this.view = view;
      this.figureId = figureId;
      this.state = state;  // signed figure state from the output, for restoring (or null)
      this.restoreRefused = false;
      this.comm = null;
      this.staleComm = null;  // dropped when the websocket went away; closed on reconnect
      this.attached = false;  // seen in the document at least once (see watchDetach)
    }

    /**
     * Open a comm for the view if the kernel is there; otherwise say so. With `restore`,
     * the connect message carries the stored state so that a kernel which does not know
     * the figure rebuilds it (after verifying its signature; see nbagg/state.py).
     */
    connect(restore = false) {
      const kernel = liveKernel();
      if (!kernel) {
        this.view.setDisconnected('not connected to a kernel');
        return;
      }
      if (this.staleComm) {
        // Same kernel behind a new websocket: let it forget the old view (best effort).
        const stale = this.staleComm;
        this.staleComm = null;
        try {
          stale.close();
        } catch (err) {
          console.debug('nbagg: cannot close a stale comm', err);
        }
      }
      const hello = {
        type: 'connect',
        protocol: PROTOCOL_VERSION,
        figure_id: this.figureId,
        dpr: clampDpr(window.devicePixelRatio),
      };
      if (restore && this.state) hello.state = this.state;
      const comm = kernel.comm_manager.new_comm(COMM_TARGET, hello);
      this.comm = comm;
      // Callbacks from a comm this mount has since dropped are ignored.
      comm.on_msg((msg) => {
        if (this.comm !== comm) return;
        if (this.checkDetached()) return;
        const data = msg.content.data || {};
        if (data.type === 'state') {
          storeState(this.figureId, data.state || null);
          return;
        }
        if (data.type === 'error' && data.code === 'bad_state') this.restoreRefused = true;
        this.view.handleMessage(data, msg.buffers || []);
      });
      comm.on_close(() => {
        if (this.comm !== comm) return;
        this.comm = null;
        const wasLive = this.view.state === 'live';
        this.view.transportClosed();
        // The kernel dropped a live view without closing the figure (it had stopped
        // hearing from it, e.g. after the computer slept): come back with a new view.
        if (wasLive) this.reconnectSoon();
      });
      this.view.setTransport({
        send: (msg, buffers) => comm.send(msg, undefined, undefined, buffers),
        close: () => {
          if (this.comm !== comm) return;  // already dropped (see abandon)
          this.comm = null;
          comm.close();
        },
      });
    }

    /**
     * The kernel connection went away: drop the comm without sending anything. After a
     * restart or a death the kernel process is new and never knew it; after a lost
     * websocket (`keepForClose`) the same kernel may come back, and is told on reconnect.
     * The comm stays registered with the notebook so that late messages from the old
     * kernel (it closes its comms on the way out) land in our callbacks, which ignore
     * them, instead of in "Comm promise not found" errors; that close unregisters it.
     */
    abandon(text, keepForClose) {
      const comm = this.comm;
      this.comm = null;
      this.staleComm = keepForClose ? comm : null;
      this.view.setDisconnected(text);
    }

    /** Reconnect once, a moment from now, if the kernel is still there (at most every 5 s). */
    reconnectSoon() {
      const now = Date.now();
      if (now - (this.lastReconnect || 0) < 5000) return;
      this.lastReconnect = now;
      setTimeout(() => {
        if (mounts.has(this) && this.comm === null && this.view.state === 'disconnected' && liveKernel()) {
          this.connect();
        }
      }, 1000);
    }

    /** The kernel does not know the figure: offer to rebuild it from the stored state. */
    offerRestore() {
      if (!this.state || this.restoreRefused || !liveKernel()) return;
      this.view.offerAction('Restore figure', () => this.connect(true));
    }

    /** Dispose the view if its element left the document; returns true if so. */
    checkDetached() {
      if (this.view.element.isConnected) {
        this.attached = true;
        return false;
      }
      if (!this.attached) return false;  // rendered but not inserted yet
      // An update_display_data re-render inserts the new output before this runs: only a
      // figure shown nowhere else on the page is reported as removed.
      const figureId = this.view.element.dataset.figureId;
      const shownElsewhere = Array.from(document.querySelectorAll('.nbagg-figure'))
        .some((node) => node.dataset.figureId === figureId);
      if (!shownElsewhere) this.view.notifyOutputRemoved();
      this.dispose();
      return true;
    }

    dispose() {
      mounts.delete(this);
      this.view.dispose();  // closes the comm through the transport
      this.comm = null;
      if (this.staleComm) {
        try {
          this.staleComm.close();
        } catch (err) {
          console.debug('nbagg: cannot close a stale comm', err);
        }
        this.staleComm = null;
      }
      if (mounts.size === 0 && detachObserver) {
        detachObserver.disconnect();
        detachObserver = null;
      }
    }
  }

  /**
   * Dispose views whose output left the page.
   *
   * The classic Notebook removes outputs in many ways (clear_output, an update_display_data
   * that replaces the element, deleting or cutting a cell, re-running it) and has no single
   * event for "this output element is gone". A MutationObserver on document.body reports
   * every such removal. Its callback does not look at the mutation records at all; it only
   * reads `isConnected` on the few live figure roots, which is O(1) each, so it stays cheap
   * even while the user types in a cell. Moving a cell detaches and re-inserts it within
   * one task, so the (microtask) callback sees it connected and leaves it alone. A root
   * counts only once it has been seen in the document: outputs are rendered before the
   * notebook inserts them (and inside widgets, possibly much later). The observer exists
   * only while there are live figures. Messages also check, see Mount.connect.
   */
  function watchDetach(mount) {
    mounts.add(mount);
    if (detachObserver) return;
    detachObserver = new MutationObserver(() => {
      for (const m of Array.from(mounts)) m.checkDetached();
    });
    detachObserver.observe(document.body, { childList: true, subtree: true });
  }

  /** Parse and check the output's data; returns the figure spec or a problem string. */
  function figureSpec(data) {
    if (typeof data === 'string') {
      try {
        data = JSON.parse(data);
      } catch (err) {
        return 'the figure data is not valid JSON';
      }
    }
    if (!data || typeof data !== 'object') return 'the figure data is missing';
    const { figure_id: figureId, width, height, protocol } = data;
    if (protocol !== undefined && protocol !== PROTOCOL_VERSION) {
      return `this output uses protocol ${protocol}, the installed nbagg extension speaks ` +
        `${PROTOCOL_VERSION}: reinstall nbagg or re-run the cell`;
    }
    if (typeof figureId !== 'string' || figureId === '') return 'the figure data has no figure_id';
    const positive = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
    if (!positive(width) || !positive(height)) return 'the figure data has no valid width and height';
    const state = data.state && typeof data.state === 'object' ? data.state : null;
    return { figureId, width, height, state };
  }

  /**
   * The kernel sent a fresh signed state for a figure (after it changed): keep it in
   * every output of that figure (the JSON model only, nothing re-renders), so a saved
   * notebook can restore the figure's latest state in a new kernel. null: too big to store.
   */
  function storeState(figureId, state) {
    for (const m of mounts) if (m.figureId === figureId) m.state = state;
    for (const cell of Jupyter.notebook.get_cells()) {
      const outputs = cell.output_area && cell.output_area.outputs;
      if (!Array.isArray(outputs)) continue;
      for (const output of outputs) {
        const data = output && output.data;
        const spec = data && data[MIME_TYPE];
        if (!spec || typeof spec !== 'object' || spec.figure_id !== figureId) continue;
        const updated = Object.assign({}, spec);
        if (state) updated.state = state;
        else delete updated.state;
        data[MIME_TYPE] = updated;
      }
    }
  }

  function showProblem(host, text) {
    const div = document.createElement('div');
    div.className = 'nbagg-render-error';
    div.textContent = `nbagg: ${text}`;
    host.replaceChildren(div);
  }

  /**
   * The PNG saved with this output (the same display_data carries image/png), if any.
   * The OutputArea records an output after rendering it, so call this a little later.
   */
  function savedPng(outputArea, figureId) {
    const outputs = Array.isArray(outputArea.outputs) ? outputArea.outputs : [];
    for (let i = outputs.length - 1; i >= 0; i--) {
      const data = outputs[i] && outputs[i].data;
      const spec = data && data[MIME_TYPE];
      if (spec && spec.figure_id === figureId && typeof data['image/png'] === 'string') {
        return data['image/png'];
      }
    }
    return null;
  }

  function mountFigure(host, data, outputArea) {
    const spec = figureSpec(data);
    if (typeof spec === 'string') {
      showProblem(host, spec);
      return;
    }
    let mount = null;
    const view = new FigureView(host, null, {
      figureId: spec.figureId,
      width: spec.width,
      height: spec.height,
      captureScroll: false,
      onUnavailable: () => mount && mount.offerRestore(),
    });
    mount = new Mount(view, spec.figureId, spec.state);
    try {
      if (Jupyter.keyboard_manager) Jupyter.keyboard_manager.register_events(view.element);
      watchDetach(mount);
      mount.connect();
    } catch (err) {
      mount.dispose();
      throw err;
    }
    // Until the first live frame (or for good, without a kernel that knows the figure)
    // show the image saved with the output instead of an empty canvas.
    Promise.resolve().then(() => {
      const png = savedPng(outputArea, spec.figureId);
      if (png) view.setPlaceholder(`data:image/png;base64,${png.replace(/\s+/g, '')}`);
    }).catch((err) => console.warn('nbagg: no saved image for the figure', err));
  }

  /**
   * The OutputArea renderer for MIME_TYPE: `this` is the OutputArea, `element` the
   * (jQuery) output element. Errors end up as text in the output, never in the notebook.
   */
  function renderFigure(data, metadata, element) {
    let subarea = null;
    try {
      subarea = this.create_output_subarea(metadata, 'nbagg-output', MIME_TYPE);
      element.append(subarea);
      mountFigure(subarea[0], data, this);
    } catch (err) {
      console.error('nbagg: cannot render the figure', err);
      // Without a subarea there is nowhere to write; the OutputArea then falls back to
      // the next MIME type of the output (the image/png).
      if (subarea === null) throw err;
      showProblem(subarea[0], `cannot render the figure (${(err && err.message) || err})`);
    }
    return subarea;
  }

  /** Mounts that lost their kernel get a new comm when a kernel connection comes back. */
  function bindKernelEvents(events) {
    const lost = [
      ['kernel_restarting.Kernel', 'the kernel is restarting', false],
      ['kernel_dead.Kernel', 'the kernel died', false],
      ['kernel_killed.Kernel', 'the kernel was shut down', false],
      ['kernel_disconnected.Kernel', 'lost the connection to the kernel', true],
    ];
    for (const [name, text, sameKernelMayReturn] of lost) {
      events.on(name, () => {
        for (const m of mounts) if (m.comm) m.abandon(text, sameKernelMayReturn);
      });
    }
    events.on('kernel_connected.Kernel', () => {
      for (const m of Array.from(mounts)) {
        if (m.comm !== null || m.view.state !== 'disconnected') continue;
        try {
          m.connect();
        } catch (err) {
          console.warn('nbagg: cannot reconnect a figure', err);
        }
      }
    });
  }

  /**
   * Figures that the notebook rendered before this extension was loaded (the notebook
   * and the extensions load in parallel) show their image/png; render those outputs again
   * so they become live. Trust is kept as it was.
   */
  function rerenderEarlyOutputs() {
    const cells = Jupyter.notebook && Jupyter.notebook.get_cells ? Jupyter.notebook.get_cells() : [];
    for (const cell of cells) {
      const area = cell.output_area;
      if (!area || !Array.isArray(area.outputs)) continue;
      if (!area.outputs.some((o) => o && o.data && o.data[MIME_TYPE] !== undefined)) continue;
      const outputs = area.toJSON();
      const trusted = area.trusted;
      area.clear_output(false, true);
      area.trusted = trusted;
      area.fromJSON(outputs, cell.metadata);
    }
  }

  /**
   * Before the notebook is saved (button, Ctrl-S, autosave): write the frame on screen
   * into each figure output's image/png, so the saved file, nbviewer, GitHub and
   * front ends without this extension show what the user last saw. Only the output's
   * JSON model changes; the live views are not touched (no re-render, no flicker).
   */
  function storeFramesBeforeSave() {
    const shots = new Map();
    for (const m of mounts) {
      if (!m.view.element.isConnected || shots.has(m.figureId)) continue;
      const shot = m.view.snapshot();
      if (shot) shots.set(m.figureId, shot);
    }
    if (shots.size === 0) return;
    for (const cell of Jupyter.notebook.get_cells()) {
      const outputs = cell.output_area && cell.output_area.outputs;
      if (!Array.isArray(outputs)) continue;
      for (const output of outputs) {
        const spec = output && output.data && figureSpec(output.data[MIME_TYPE]);
        const shot = spec && typeof spec === 'object' ? shots.get(spec.figureId) : undefined;
        if (!shot) continue;
        output.data['image/png'] = shot.png;
        const mimeData = output.data[MIME_TYPE];
        if (mimeData && typeof mimeData === 'object') {
          output.data[MIME_TYPE] = Object.assign({}, mimeData, { width: shot.width, height: shot.height });
        }
        output.metadata = Object.assign({}, output.metadata, {
          'image/png': { width: shot.width, height: shot.height },
        });
      }
    }
  }

  function loadCss() {
    if (document.querySelector('link[data-nbagg-css]')) return;
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.type = 'text/css';
    link.href = require.toUrl('./nbagg.css');
    link.dataset.nbaggCss = '';
    document.head.appendChild(link);
  }

  let loaded = false;

  function load_ipython_extension() {
    if (loaded) return;
    loaded = true;
    loadCss();
    const OutputArea = outputarea.OutputArea;
    if (!OutputArea.prototype.mime_types().includes(MIME_TYPE)) {
      OutputArea.prototype.register_mime_type(MIME_TYPE, renderFigure, { safe: true, index: 0 });
    }
    if (Jupyter.notebook && Jupyter.notebook.events) {
      bindKernelEvents(Jupyter.notebook.events);
      Jupyter.notebook.events.on('before_save.Notebook', () => {
        try {
          storeFramesBeforeSave();
        } catch (err) {
          console.warn('nbagg: cannot store the figures in the saved notebook', err);
        }
      });
    }
    // Leaving the page: close the comms so the kernel forgets these views.
    window.addEventListener('pagehide', () => {
      for (const m of Array.from(mounts)) m.dispose();
    });
    try {
      rerenderEarlyOutputs();
    } catch (err) {
      console.warn('nbagg: cannot re-render figures shown before the extension loaded', err);
    }
  }

  return { load_ipython_extension };
});
