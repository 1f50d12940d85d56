// nbagg: the classic Notebook (nbclassic) adapter. The only module that knows `Jupyter`.
//
// It says where comms come from (the page's kernel), how outputs are read and written
// back (the OutputArea's JSON), when the kernel comes and goes (the notebook's events)
// and when an output is gone (its element left the page). Everything else is the core:
// session.js and figure_view.js. Built into an AMD nbextension by webpack.classic.cjs.
import Jupyter from 'base/js/namespace';
import outputarea from 'notebook/js/outputarea';
import css from '../style/nbagg.css';
import { MIME_TYPE } from './constants.js';
import { FigureSessions, showProblem } from './session.js';

/** @typedef {import('./session.js').FigureSession} FigureSession */

function liveKernel() {
  const kernel = Jupyter.notebook && Jupyter.notebook.kernel;
  return kernel && kernel.comm_manager && kernel.is_connected() ? kernel : null;
}

/** @type {import('./session.js').KernelLink} */
const kernelLink = {
  hasKernel: () => liveKernel() !== null,
  openComm(target, data, handlers) {
    const kernel = liveKernel();
    if (!kernel) return null;
    const comm = kernel.comm_manager.new_comm(target, data);
    comm.on_msg((/** @type {any} */ msg) => handlers.onMessage(msg.content.data, msg.buffers || []));
    comm.on_close(() => handlers.onClose());
    return {
      send: (msg, buffers) => comm.send(msg, undefined, undefined, buffers),
      close: () => comm.close(),
    };
  },
};

const sessions = new FigureSessions(kernelLink);

/**
 * The output of `outputArea` that shows `figureId` (the OutputArea's JSON, which the
 * notebook saves), as an OutputLink.
 * @param {any} outputArea
 * @param {string} figureId
 * @returns {import('./session.js').OutputLink}
 */
function outputLink(outputArea, figureId) {
  const find = () => {
    const outputs = Array.isArray(outputArea.outputs) ? outputArea.outputs : [];
    for (let i = outputs.length - 1; i >= 0; i--) {
      const data = outputs[i] && outputs[i].data;
      const spec = data && data[MIME_TYPE];
      if (spec && typeof spec === 'object' && spec.figure_id === figureId) return outputs[i];
    }
    return null;
  };
  return {
    read() {
      const output = find();
      return output ? { data: output.data, metadata: output.metadata || {} } : null;
    },
    write({ data, metadata }) {
      const output = find();
      if (!output) return;
      output.data = data;
      output.metadata = metadata;
    },
  };
}

/**
 * Sessions whose output left the page. The classic Notebook removes outputs in many
 * ways (clear_output, an update_display_data that replaces the element, deleting or
 * re-running a cell) and has no event for "this output is gone". A MutationObserver on
 * document.body sees every removal; its callback only reads `isConnected` on the few
 * live figure roots, so it stays cheap while the user types. Moving a cell detaches and
 * re-inserts it within one task, so the (microtask) callback sees it connected. A root
 * counts only once it has been in the document: outputs are rendered before insertion.
 */
const attached = new WeakSet();
/** @type {Set<FigureSession>} */
const watched = new Set();
let observer = /** @type {MutationObserver|null} */ (null);

/** @param {FigureSession} session */
function watchDetach(session) {
  watched.add(session);
  if (observer) return;
  observer = new MutationObserver(() => {
    for (const s of Array.from(watched)) {
      if (s.disposed) watched.delete(s);
      else if (s.view.element.isConnected) attached.add(s);
      else if (attached.has(s)) {
        watched.delete(s);
        s.dispose({ removed: true });
      }
    }
    if (watched.size === 0 && observer) {
      observer.disconnect();
      observer = null;
    }
  });
  observer.observe(document.body, { childList: true, subtree: true });
}

/**
 * The figure's keyboard element: the Notebook's shortcuts are off while it has focus
 * (register_events), all but Ctrl/Cmd-S, which still saves the notebook.
 * @param {HTMLElement} el
 */
function keyboardTarget(el) {
  if (Jupyter.keyboard_manager) Jupyter.keyboard_manager.register_events(el);
  el.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 's') {
      e.preventDefault();
      Jupyter.notebook.save_checkpoint();
    }
  });
}

/**
 * The OutputArea renderer for MIME_TYPE: `this` is the OutputArea, `element` the
 * (jQuery) output element. Errors end up as text in the output, never in the notebook.
 * @this {any}
 * @param {unknown} data
 * @param {object} metadata
 * @param {any} element
 */
function renderFigure(data, metadata, element) {
  let subarea = null;
  try {
    subarea = this.create_output_subarea(metadata, 'nbagg-output', MIME_TYPE);
    element.append(subarea);
    const figureId = data && typeof data === 'object' ? /** @type {any} */ (data).figure_id : null;
    const session = sessions.mount(subarea[0], data, outputLink(this, String(figureId)), {
      trusted: Boolean(this.trusted),
      onKeyboardTarget: keyboardTarget,
    });
    if (session) watchDetach(session);
  } catch (err) {
    console.error('nbagg: cannot render the figure', err);
    // Without a subarea there is nowhere to write; the OutputArea then falls back to
    // the next MIME type of the output (the image/png).
    if (subarea === null) throw err;
    showProblem(subarea[0], `cannot render the figure (${(err && /** @type {Error} */ (err).message) || err})`);
  }
  return subarea;
}

/** @param {any} events  the notebook's event bus (jQuery) */
function bindKernelEvents(events) {
  const lost = [
    ['kernel_restarting.Kernel', 'the kernel is restarting', false],
    ['kernel_dead.Kernel', 'the kernel died', false],
    ['kernel_killed.Kernel', 'the kernel was shut down', false],
    ['kernel_disconnected.Kernel', 'lost the connection to the kernel', true],
  ];
  for (const [name, text, sameKernelMayReturn] of lost) {
    events.on(name, () => sessions.kernelLost(String(text), Boolean(sameKernelMayReturn)));
  }
  events.on('kernel_connected.Kernel', () => sessions.kernelReady());
  events.on('before_save.Notebook', () => {
    try {
      sessions.storeFramesBeforeSave();
    } catch (err) {
      console.warn('nbagg: cannot store the figures in the saved notebook', err);
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
    if (!area.outputs.some((/** @type {any} */ o) => o && o.data && o.data[MIME_TYPE] !== undefined)) continue;
    const outputs = area.toJSON();
    const trusted = area.trusted;
    area.clear_output(false, true);
    area.trusted = trusted;
    area.fromJSON(outputs, cell.metadata);
  }
}

function addStyle() {
  if (document.querySelector('style[data-nbagg-css]')) return;
  const style = document.createElement('style');
  style.dataset.nbaggCss = '';
  style.textContent = css;
  document.head.appendChild(style);
}

let loaded = false;

export function load_ipython_extension() {
  if (loaded) return;
  loaded = true;
  addStyle();
  const OutputArea = outputarea.OutputArea;
  if (!OutputArea.prototype.mime_types().includes(MIME_TYPE)) {
    OutputArea.prototype.register_mime_type(MIME_TYPE, renderFigure, { safe: true, index: 0 });
  }
  if (Jupyter.notebook && Jupyter.notebook.events) bindKernelEvents(Jupyter.notebook.events);
  // Leaving the page: close the comms so the kernel forgets these views.
  window.addEventListener('pagehide', () => sessions.disposeAll());
  try {
    rerenderEarlyOutputs();
  } catch (err) {
    console.warn('nbagg: cannot re-render figures shown before the extension loaded', err);
  }
}
