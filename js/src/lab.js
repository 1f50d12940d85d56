// nbagg: the JupyterLab 4 / Notebook 7 adapter, a plugin that both front ends load.
//
// Mime renderers get no kernel, so the plugin gives every notebook and console panel
// its own FigureSessions, bound to that panel's kernel, and adds a renderer factory for
// MIME_TYPE to that panel's rendermime. The adapter says where comms come from (the
// panel's kernel connection), how an output is read and written back (its output model),
// when the kernel comes and goes (the session context's signals) and when an output is
// gone (its renderer is disposed). Everything else is the core: session.js and figure_view.js.
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';
import { MIME_TYPE } from './constants.js';
import { figureSpec } from './spec.js';
import { FigureSessions } from './session.js';

/**
 * @typedef {import('@jupyterlab/apputils').ISessionContext} ISessionContext
 * @typedef {import('@jupyterlab/services').Kernel.IKernelConnection} IKernelConnection
 * @typedef {import('@jupyterlab/rendermime').IRenderMimeRegistry} IRenderMimeRegistry
 * @typedef {import('@jupyterlab/rendermime-interfaces').IRenderMime.IMimeModel} IMimeModel
 * @typedef {import('./session.js').FigureSession} FigureSession
 */

/** Before the standard image renderers (rank 90): the live view wins over image/png. */
const RENDERER_RANK = 0;

/** What the views say when the kernel goes, by kernel status. */
const LOST_BY_STATUS = /** @type {Record<string, string>} */ ({
  restarting: 'the kernel is restarting',
  autorestarting: 'the kernel is restarting',
  dead: 'the kernel died',
  terminating: 'the kernel was shut down',
});

/**
 * JupyterLab 4.0's websocket protocol decoder adds an empty buffer to every message;
 * nbagg never sends an empty one, so trailing empty buffers are dropped.
 * @param {Array<ArrayBuffer|ArrayBufferView>} buffers
 */
function withoutTrailingEmpty(buffers) {
  let n = buffers.length;
  while (n > 0 && buffers[n - 1].byteLength === 0) n -= 1;
  return n === buffers.length ? buffers : buffers.slice(0, n);
}

/**
 * One panel's kernel, as the core sees it.
 * @param {ISessionContext} context
 * @returns {import('./session.js').KernelLink}
 */
function kernelLink(context) {
  const kernel = () => {
    const k = context.session && context.session.kernel;
    return k && !k.isDisposed && k.connectionStatus === 'connected' && k.handleComms ? k : null;
  };
  return {
    hasKernel: () => kernel() !== null,
    openComm(target, data, handlers) {
      const k = kernel();
      if (!k) return null;
      const comm = k.createComm(target);
      comm.onMsg = (msg) => handlers.onMessage(msg.content.data, withoutTrailingEmpty(/** @type {any} */ (msg.buffers) || []));
      comm.onClose = () => handlers.onClose();
      comm.open(/** @type {any} */ (data));
      return {
        send: (msg, buffers) => {
          if (!comm.isDisposed) comm.send(/** @type {any} */ (msg), undefined, buffers);
        },
        close: () => {
          if (!comm.isDisposed) comm.close();
        },
      };
    },
  };
}

/**
 * The kernel's lifecycle, told to the panel's sessions.
 * @param {ISessionContext} context
 * @param {FigureSessions} sessions
 */
function followKernel(context, sessions) {
  context.statusChanged.connect((_, status) => {
    const lost = LOST_BY_STATUS[status];
    if (lost) sessions.kernelLost(lost, false);
    else if (status === 'idle' || status === 'busy') sessions.kernelReady();
  });
  context.connectionStatusChanged.connect((_, status) => {
    if (status === 'connected') sessions.kernelReady();
    else if (status === 'disconnected') sessions.kernelLost('lost the connection to the kernel', true);
  });
  context.kernelChanged.connect((_, change) => {
    if (change.oldValue) sessions.kernelLost('the kernel was changed', false);
    if (change.newValue) sessions.kernelReady();
  });
}

/**
 * An output model as the core's OutputLink. In a notebook, writing replaces the output
 * in its cell's output list: the cell model syncs that to the notebook's shared model at
 * once, so a write made while a save starts is in the saved file (JupyterLab 4.0 does not
 * sync a change of an output's own data). The output area then calls renderModel with
 * the new model and the same figure, which keeps the live view (FigureRenderer).
 * @param {IMimeModel} model
 * @param {any} notebook  the panel's Notebook widget, or null (a console)
 * @returns {import('./session.js').OutputLink}
 */
function outputLink(model, notebook) {
  return {
    read: () => ({ data: { ...model.data }, metadata: { ...model.metadata } }),
    write: ({ data, metadata }) => {
      const place = notebook ? locateOutput(notebook, model) : null;
      if (place) place.outputs.set(place.index, { .../** @type {any} */ (model).toJSON(), data, metadata });
      else model.setData({ data, metadata });
    },
  };
}

/**
 * The output list and index holding `model`, or null.
 * @param {any} notebook
 * @param {IMimeModel} model
 * @returns {{outputs: any, index: number}|null}
 */
function locateOutput(notebook, model) {
  for (const cell of notebook.widgets) {
    const outputs = cell.model.type === 'code' ? cell.model.outputs : null;
    if (!outputs) continue;
    for (let i = 0; i < outputs.length; i++) if (outputs.get(i) === model) return { outputs, index: i };
  }
  return null;
}

/** Renders MIME_TYPE outputs of one panel as live views. */
class FigureRenderer extends Widget {
  /**
   * @param {FigureSessions} sessions  the panel's
   * @param {any} notebook  the panel's Notebook widget, or null (a console)
   */
  constructor(sessions, notebook) {
    super();
    this.addClass('nbagg-output');
    this._sessions = sessions;
    this._notebook = notebook;
    /** @type {FigureSession|null} */
    this._session = null;
  }

  /**
   * Called for a new output and again when its model changes (our own write-back, an
   * update_display_data): the same figure keeps its view and session.
   * @param {IMimeModel} model
   */
  async renderModel(model) {
    const data = model.data[MIME_TYPE];
    const spec = figureSpec(data);
    const current = this._session;
    if (current && !current.disposed && typeof spec !== 'string' && spec.figureId === current.figureId) {
      current.outputChanged(outputLink(model, this._notebook));
      return;
    }
    if (current) current.dispose({ removed: false });
    this.node.replaceChildren();
    this._session = this._sessions.mount(this.node, data, outputLink(model, this._notebook), { trusted: model.trusted });
  }

  dispose() {
    if (this.isDisposed) return;
    // A renderer disposed while its panel stays means the output went away.
    if (this._session) this._session.dispose({ removed: !this._sessions.closing });
    this._session = null;
    super.dispose();
  }
}

/**
 * Live figures for one panel: its sessions, its renderer, its kernel, its saves.
 * @param {{sessionContext: ISessionContext, disposed: import('@lumino/signaling').ISignal<any, void>}} panel
 * @param {IRenderMimeRegistry} rendermime  the panel's own
 * @param {import('@jupyterlab/docregistry').DocumentRegistry.IContext<any>|null} context  for saving
 * @param {any} notebook  its Notebook widget, or null (a console)
 */
function attach(panel, rendermime, context, notebook) {
  const sessions = new FigureSessions(kernelLink(panel.sessionContext));
  rendermime.addFactory(
    { safe: true, mimeTypes: [MIME_TYPE], createRenderer: () => new FigureRenderer(sessions, notebook) },
    RENDERER_RANK,
  );
  followKernel(panel.sessionContext, sessions);
  if (context) {
    context.saveState.connect((_, state) => {
      if (state !== 'started') return;
      try {
        sessions.storeFramesBeforeSave();
      } catch (err) {
        console.warn('nbagg: cannot store the figures in the saved notebook', err);
      }
    });
  }
  live.add(sessions);
  // Closing the panel: close the comms (the kernel keeps the figures for a reopened
  // notebook). The session context says so while its kernel connection still works,
  // before the document manager disposes it; the panel's own signal is the fallback.
  const close = () => {
    live.delete(sessions);
    sessions.disposeAll();
  };
  panel.sessionContext.disposed.connect(close);
  panel.disposed.connect(close);
}

/** The sessions of every open panel. */
const live = new Set();

// Leaving the page: close the comms so the kernel forgets these views.
window.addEventListener('pagehide', () => {
  for (const sessions of live) sessions.disposeAll();
});

/** @type {import('@jupyterlab/application').JupyterFrontEndPlugin<void>} */
const plugin = {
  id: 'nbagg:plugin',
  description: 'Live matplotlib figures (%matplotlib notebook) in notebooks and consoles.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IConsoleTracker],
  activate(_app, /** @type {any} */ notebooks, /** @type {any} */ consoles) {
    /** @param {any} panel */
    const onNotebook = (panel) => attach(panel, panel.content.rendermime, panel.context, panel.content);
    /** @param {any} panel */
    const onConsole = (panel) => attach(panel, panel.console.rendermime, null, null);
    notebooks.forEach(onNotebook);
    notebooks.widgetAdded.connect((/** @type {any} */ _, /** @type {any} */ panel) => onNotebook(panel));
    if (consoles) {
      consoles.forEach(onConsole);
      consoles.widgetAdded.connect((/** @type {any} */ _, /** @type {any} */ panel) => onConsole(panel));
    }
  },
};

export default plugin;
