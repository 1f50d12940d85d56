// The test bridge for JupyterLab 4 and Notebook 7 (both expose `window.jupyterapp`
// when started with expose_app_in_browser): the same operations as classic.js.
(() => {
  const app = () => window.jupyterapp;
  /** The page's notebook panel (tests open one notebook per page). */
  const panel = () => {
    if (!app()) return null;
    for (const w of app().shell.widgets('main')) {
      if (w.content && w.content.model && w.sessionContext && w.context) return w;
    }
    return null;
  };
  const notebook = () => panel().content;
  const cell = (k) => notebook().widgets[k];
  const kernel = () => panel().sessionContext.session.kernel;
  const running = (c) => c.model.type === 'code' && /\*/.test((c.promptNode && c.promptNode.textContent) || '');
  let pending = 0;
  const track = (promise) => {
    pending += 1;
    Promise.resolve(promise).catch((err) => console.warn('nbagg test bridge:', err)).finally(() => { pending -= 1; });
  };
  const MIME = 'application/vnd.nbagg.figure.v1+json';
  /** Ids of the comms this page opened: a close for any other (another tab's) is foreign. */
  const ownComms = new Set();
  const recordComms = (k) => {
    const proto = Object.getPrototypeOf(k);
    if (!proto.__nbaggTestCreateComm) {
      const create = proto.createComm;
      proto.__nbaggTestCreateComm = create;
      proto.createComm = function (...args) {
        const comm = create.apply(this, args);
        ownComms.add(comm.commId);
        return comm;
      };
    }
    if (k._comms) for (const id of k._comms.keys()) ownComms.add(id);
  };

  window.nbaggTest = {
    frontend: 'lab',
    ready() {
      const p = panel();
      const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
      const ok = Boolean(p && p.context.isReady && k && k.connectionStatus === 'connected'
        && k.status === 'idle' && p.content.rendermime.mimeTypes.includes(MIME));
      if (ok) recordComms(k);
      return ok;
    },
    ownComms: () => [...ownComms],
    async reveal(k) {
      const c = cell(k);
      c.node.dataset.nbaggCell = String(k);
      if (notebook().scrollToItem) await notebook().scrollToItem(k, 'smart');
    },
    runAll: () => {
      notebook().activate();
      track(app().commands.execute('notebook:run-all-cells'));
    },
    busy: () => pending > 0 || notebook().widgets.some(running),
    cellBusy: (k) => running(cell(k)),
    cellTypes: () => notebook().widgets.map((c) => c.model.type),
    markDirty: () => { panel().context.model.dirty = true; },
    cellCount: () => notebook().widgets.length,
    cellOutputs: (k) => (cell(k).model.type === 'code' ? cell(k).model.outputs.toJSON() : []),
    allOutputs: () => notebook().widgets.flatMap((c) => (c.model.type === 'code' ? c.model.outputs.toJSON() : [])),
    outputText: (k) => cell(k).outputArea.node.innerText,
    appendCell(source) {
      const model = notebook().model;
      const n = model.cells.length;
      model.sharedModel.insertCell(n, { cell_type: 'code', source });
      return n;
    },
    runCell(k) {
      notebook().activeCellIndex = k;
      notebook().mode = 'command';
      track(app().commands.execute('notebook:run-cell'));
    },
    save: () => panel().context.save(),
    dirty: () => panel().context.model.dirty,
    restart: () => { track(kernel().restart()); },
    interrupt: () => { track(kernel().interrupt()); },
    commandMode() {
      notebook().mode = 'command';
      notebook().node.focus();
    },
    selectedIndex: () => notebook().activeCellIndex,
    deleteCell: (k) => { notebook().model.sharedModel.deleteCell(k); },
    shutdownSession: () => panel().sessionContext.shutdown(),
    kernelId: () => kernel().id,
    async execute(code, timeout) {
      let stdout = '';
      const future = kernel().requestExecute({ code, silent: false, store_history: false });
      future.onIOPub = (m) => {
        if (m.header.msg_type === 'stream') stdout += m.content.text;
        if (m.header.msg_type === 'error') stdout += `\n${m.content.ename}: ${m.content.evalue}`;
      };
      let timer;
      const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('kernel did not answer')), timeout); });
      try {
        const reply = await Promise.race([future.done, late]);
        return { stdout, reply: reply.content };
      } finally {
        clearTimeout(timer);
      }
    },
    start(code) {
      window.nbaggTest.lastReply = null;
      const future = kernel().requestExecute({ code, silent: false, store_history: false });
      future.done.then((m) => { window.nbaggTest.lastReply = m.content; }, () => {});
    },
    lastReply: null,
  };
})();
