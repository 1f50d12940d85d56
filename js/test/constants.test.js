// The constants the browser and the kernel share: one source (nbagg/constants.json),
// read by js/src/constants.js and by nbagg/protocol.py, and nobody restating them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as constants from '../src/constants.js';
import { TOOLS } from '../src/figure_view.js';

const {
  PROTOCOL_VERSION, MIME_TYPE, COMM_TARGET, MIN_SIZE, MAX_SIZE, MAX_PIXELS, MIN_DPR, MAX_DPR,
  TOOLBAR_ACTIONS, DOWNLOAD_FORMATS, clampDpr, clampSize,
} = constants;

/** @param {string} relative  path from js/test */
const here = (relative) => fileURLToPath(new URL(relative, import.meta.url));
const NBAGG = here('../../nbagg/');
const JSON_PATH = here('../../nbagg/constants.json');
const shared = JSON.parse(readFileSync(JSON_PATH, 'utf8'));
const protocolPy = readFileSync(here('../../nbagg/protocol.py'), 'utf8');

test('constants.js exports exactly the values of nbagg/constants.json', () => {
  assert.deepEqual(
    {
      protocolVersion: PROTOCOL_VERSION, mimeType: MIME_TYPE, commTarget: COMM_TARGET,
      minSize: MIN_SIZE, maxSize: MAX_SIZE, maxPixels: MAX_PIXELS, minDpr: MIN_DPR, maxDpr: MAX_DPR,
      toolbarActions: TOOLBAR_ACTIONS, downloadFormats: DOWNLOAD_FORMATS,
    },
    {
      protocolVersion: shared.protocolVersion, mimeType: shared.mimeType, commTarget: shared.commTarget,
      minSize: shared.minSize, maxSize: shared.maxSize, maxPixels: shared.maxPixels,
      minDpr: shared.minDpr, maxDpr: shared.maxDpr,
      toolbarActions: shared.toolbarActions, downloadFormats: shared.downloadFormats,
    },
  );
  // Sanity of the shared values themselves.
  assert.ok(Number.isInteger(PROTOCOL_VERSION) && PROTOCOL_VERSION >= 1);
  assert.ok(0 < MIN_DPR && MIN_DPR <= 1 && 1 <= MAX_DPR);
  assert.ok(0 < MIN_SIZE && MIN_SIZE < MAX_SIZE);
  assert.ok(MAX_SIZE * MAX_SIZE <= MAX_PIXELS, 'the largest figure fits the pixel limit at dpr 1');
  assert.equal(new Set(TOOLBAR_ACTIONS).size, TOOLBAR_ACTIONS.length);
});

test('the toolbar only offers actions the kernel accepts', () => {
  const toolbarTools = TOOLS.filter((t) => t.action !== 'download' && t.action !== 'close');
  for (const tool of toolbarTools) {
    assert.ok(TOOLBAR_ACTIONS.includes(tool.action), `${tool.action} is not in constants.json toolbarActions`);
  }
  // ...and a button for each of them (download and close are messages of their own).
  assert.deepEqual(toolbarTools.map((t) => t.action).sort(), [...TOOLBAR_ACTIONS].sort());
  assert.deepEqual(TOOLS.map((t) => t.action).filter((a) => !TOOLBAR_ACTIONS.includes(a)), ['download', 'close']);
});

test('the kernel has a handler for every toolbar action in constants.json', () => {
  // manager.py maps each action to a matplotlib toolbar method; an action without one
  // would pass protocol.parse and then fail with a KeyError.
  const manager = readFileSync(here('../../nbagg/manager.py'), 'utf8');
  const handler = manager.match(/def _on_toolbar\(self[^)]*\):([\s\S]*?)\n {4}def /);
  assert.ok(handler, 'manager.py has no _on_toolbar');
  const handled = [...handler[1].matchAll(/"([a-z_]+)": self\.toolbar\./g)].map((m) => m[1]);
  assert.deepEqual(handled.sort(), [...shared.toolbarActions].sort());
});

test('protocol.py reads constants.json instead of restating its values', () => {
  assert.match(protocolPy, /constants\.json/);
  for (const name of ['protocolVersion', 'mimeType', 'commTarget', 'minDpr', 'maxDpr', 'modifiers',
    'toolbarActions', 'downloadFormats', 'minSize', 'maxSize', 'maxPixels']) {
    assert.match(protocolPy, new RegExp(`_SHARED\\["${name}"\\]`), `protocol.py does not read ${name}`);
  }
  // No Python module of the package spells out the shared strings itself.
  for (const file of readdirSync(NBAGG).filter((f) => f.endsWith('.py'))) {
    const text = readFileSync(NBAGG + file, 'utf8');
    assert.ok(!text.includes(shared.mimeType), `nbagg/${file} hard-codes the mime type`);
    assert.ok(!text.includes(`"${shared.commTarget}"`) && !text.includes(`'${shared.commTarget}'`),
      `nbagg/${file} hard-codes the comm target`);
    assert.ok(!/"toolbar"\s*:\s*\{\s*"action"\s*:\s*_choice\("/.test(text), `nbagg/${file} restates the toolbar actions`);
  }
});

test('no module in js/src except constants.js restates a shared string', () => {
  const src = here('../src/');
  for (const file of readdirSync(src).filter((f) => f.endsWith('.js') && f !== 'constants.js')) {
    const text = readFileSync(src + file, 'utf8');
    assert.ok(!text.includes(shared.mimeType), `src/${file} hard-codes the mime type`);
    assert.ok(!text.includes(`'${shared.commTarget}'`), `src/${file} hard-codes the comm target`);
  }
});

/** The kernel's own values and clamp_size, from protocol.py loaded by path (no nbagg import). */
function python() {
  const script = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("nbagg_protocol", sys.argv[1])
p = importlib.util.module_from_spec(spec)
spec.loader.exec_module(p)
grid = json.loads(sys.argv[2])
print(json.dumps({
  "PROTOCOL_VERSION": p.PROTOCOL_VERSION, "MIME_TYPE": p.MIME_TYPE, "COMM_TARGET": p.COMM_TARGET,
  "MIN_DPR": p.MIN_DPR, "MAX_DPR": p.MAX_DPR, "MIN_SIZE": p.MIN_SIZE, "MAX_SIZE": p.MAX_SIZE,
  "MAX_PIXELS": p.MAX_PIXELS, "TOOLBAR_ACTIONS": list(p.TOOLBAR_ACTIONS),
  "DOWNLOAD_FORMATS": list(p.DOWNLOAD_FORMATS), "MODIFIERS": list(p.MODIFIERS),
  "clamp": [list(p.clamp_size(w, h, d)) for w, h, d in grid],
}))
`;
  const grid = [];
  for (const w of [1, 49, 50, 640, 3999, 4000, 4001, 1e6]) {
    for (const h of [1, 480, 4000, 1e9]) {
      for (const d of [0.5, 1, 1.5, 2, 3, 4]) grid.push([w, h, d]);
    }
  }
  try {
    const out = execFileSync('python3', ['-c', script, here('../../nbagg/protocol.py'), JSON.stringify(grid)], {
      encoding: 'utf8', timeout: 20000,
    });
    return { grid, kernel: JSON.parse(out) };
  } catch (err) {
    if (/** @type {any} */ (err).code === 'ENOENT') return null;
    throw err;
  }
}

test('the kernel (protocol.py) sees the same constants and clamps sizes the same way', (t) => {
  const result = python();
  if (!result) {
    // Under CI a missing interpreter fails the run instead of skipping the check.
    if (process.env.CI) throw new Error('python3 is not installed');
    t.skip('python3 is not installed');
    return;
  }
  const { grid, kernel } = result;
  assert.deepEqual(
    {
      PROTOCOL_VERSION: kernel.PROTOCOL_VERSION, MIME_TYPE: kernel.MIME_TYPE, COMM_TARGET: kernel.COMM_TARGET,
      MIN_DPR: kernel.MIN_DPR, MAX_DPR: kernel.MAX_DPR, MIN_SIZE: kernel.MIN_SIZE, MAX_SIZE: kernel.MAX_SIZE,
      MAX_PIXELS: kernel.MAX_PIXELS, TOOLBAR_ACTIONS: kernel.TOOLBAR_ACTIONS, DOWNLOAD_FORMATS: kernel.DOWNLOAD_FORMATS,
    },
    {
      PROTOCOL_VERSION, MIME_TYPE, COMM_TARGET, MIN_DPR, MAX_DPR, MIN_SIZE, MAX_SIZE, MAX_PIXELS,
      TOOLBAR_ACTIONS, DOWNLOAD_FORMATS,
    },
  );
  assert.deepEqual(kernel.MODIFIERS, shared.modifiers);
  grid.forEach(([w, h, d], i) => {
    const js = clampSize(w, h, d);
    assert.deepEqual([js.width, js.height], kernel.clamp[i], `clampSize(${w}, ${h}, ${d})`);
  });
});

test('clampDpr: a ratio the kernel accepts, 1 for anything that is not a usable number', () => {
  assert.equal(clampDpr(1), 1);
  assert.equal(clampDpr(2.5), 2.5);
  assert.equal(clampDpr(MIN_DPR), MIN_DPR);
  assert.equal(clampDpr(MAX_DPR), MAX_DPR);
  assert.equal(clampDpr(0.1), MIN_DPR);
  assert.equal(clampDpr(1e308), MAX_DPR);
  assert.equal(clampDpr(Infinity), 1);
  assert.equal(clampDpr(-Infinity), 1);
  assert.equal(clampDpr(NaN), 1);
  assert.equal(clampDpr(0), 1);
  assert.equal(clampDpr(-2), 1);
  assert.equal(clampDpr('2'), 1);
  assert.equal(clampDpr('Infinity'), 1);
  assert.equal(clampDpr(null), 1);
  assert.equal(clampDpr(undefined), 1);
  assert.equal(clampDpr({ valueOf: () => 3 }), 1);
  assert.equal(clampDpr(true), 1);
});

test('clampSize: within [MIN_SIZE, MAX_SIZE] per side and MAX_PIXELS per frame', () => {
  assert.deepEqual(clampSize(640, 480, 1), { width: 640, height: 480 });
  assert.deepEqual(clampSize(640, 480, 2), { width: 640, height: 480 });
  assert.deepEqual(clampSize(-100, 0, 1), { width: MIN_SIZE, height: MIN_SIZE });
  assert.deepEqual(clampSize(-Infinity, 10, 1), { width: MIN_SIZE, height: MIN_SIZE });
  assert.deepEqual(clampSize(1e12, 1e12, 1), { width: MAX_SIZE, height: MAX_SIZE });
  assert.deepEqual(clampSize(Infinity, 480, 1), { width: MAX_SIZE, height: 480 });
  // At dpr 4 the largest figure is scaled down, keeping its aspect ratio.
  assert.deepEqual(clampSize(MAX_SIZE, MAX_SIZE, 4), { width: 1000, height: 1000 });
  const wide = clampSize(4000, 2000, 2);
  assert.ok(Math.abs(wide.width / wide.height - 2) < 0.01);
  // Numeric strings are read as numbers (Math.max), never returned as strings.
  const fromStrings = clampSize(/** @type {any} */ ('5000'), /** @type {any} */ ('10'), 1);
  assert.deepEqual(fromStrings, { width: MAX_SIZE, height: MIN_SIZE });
  // Whatever the request, for every dpr the kernel accepts, the frame fits.
  for (const dpr of [MIN_DPR, 0.75, 1, 1.25, 2, 3, 3.5, MAX_DPR]) {
    for (const w of [-1, 0, 1, 50, 333.3, 1000, 4000, 1e9, Infinity]) {
      for (const h of [-1, 0, 1, 50, 777.7, 4000, 1e9, Infinity]) {
        const size = clampSize(w, h, dpr);
        assert.ok(size.width >= MIN_SIZE && size.width <= MAX_SIZE, `width of ${w}x${h}@${dpr}`);
        assert.ok(size.height >= MIN_SIZE && size.height <= MAX_SIZE, `height of ${w}x${h}@${dpr}`);
        assert.ok(size.width * size.height * dpr * dpr <= MAX_PIXELS, `pixels of ${w}x${h}@${dpr}`);
      }
    }
  }
});
