// The test bridge for the classic Notebook (nbclassic): the operations browser tests
// need, over the page's `Jupyter` global. lab.js offers the same for JupyterLab and
// Notebook 7, so one test suite runs on every front end. Injected before page scripts.
(() => {
  const nb = () => window.Jupyter && window.Jupyter.notebook;
  const cell = (k) => nb().get_cell(k);
  const kernel = () => nb().kernel;

  window.nbaggTest = {
    frontend: 'classic',
    ready: () => Boolean(nb() && kernel() && kernel().is_connected() && kernel().comm_manager),
    ownComms: () => Object.keys(kernel().comm_manager.comms),
    reveal: (k) => { cell(k).element[0].dataset.nbaggCell = String(k); },
    runAll: () => { nb().execute_all_cells(); },
    busy: () => nb().get_cells().some((c) => c.element && c.element.hasClass('running')),
    cellBusy: (k) => cell(k).element.hasClass('running'),
    cellTypes: () => nb().get_cells().map((c) => c.cell_type),
    markDirty: () => { nb().set_dirty(true); },
    cellCount: () => nb().ncells(),
    cellOutputs: (k) => JSON.parse(JSON.stringify(cell(k).output_area ? cell(k).output_area.outputs : [])),
    allOutputs: () => nb().get_cells().flatMap((c) => (c.output_area ? c.output_area.outputs : [])),
    outputText: (k) => cell(k).output_area.element[0].innerText,
    appendCell(source) {
      const c = nb().insert_cell_at_bottom('code');
      c.set_text(source);
      return nb().find_cell_index(c);
    },
    runCell: (k) => { cell(k).execute(); },
    save: () => nb().save_notebook(),
    dirty: () => nb().dirty,
    restart: () => { kernel().restart(); },
    interrupt: () => { kernel().interrupt(); },
    commandMode: () => { nb().command_mode(); },
    selectedIndex: () => nb().get_selected_index(),
    deleteCell: (k) => { nb().delete_cell(k); },
    shutdownSession: () => new Promise((done) => nb().session.delete(done, done)),
    kernelId: () => kernel().id,
    execute(code, timeout) {
      return new Promise((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => reject(new Error('kernel did not answer')), timeout);
        let reply = null;
        let idle = false;
        const finish = () => { if (reply && idle) { clearTimeout(timer); resolve({ stdout, reply }); } };
        kernel().execute(code, {
          shell: { reply: (m) => { reply = m.content; finish(); } },
          iopub: {
            output: (m) => {
              if (m.msg_type === 'stream') stdout += m.content.text;
              if (m.msg_type === 'error') stdout += `\n${m.content.ename}: ${m.content.evalue}`;
            },
            status: (m) => { if (m.content.execution_state === 'idle') { idle = true; finish(); } },
          },
        }, { silent: false, store_history: false });
      });
    },
    // Starts code without waiting (to interrupt it, say); its reply lands in lastReply.
    start(code) {
      window.nbaggTest.lastReply = null;
      kernel().execute(code, { shell: { reply: (m) => { window.nbaggTest.lastReply = m.content; } } },
        { silent: false, store_history: false });
    },
    lastReply: null,
  };
})();
