// Types for modules the type check (tsconfig.json) cannot resolve on its own.

// classic.js: the classic Notebook's own AMD modules (webpack externals) and the CSS
// that webpack.classic.cjs inlines as a string (`asset/source`).
declare module 'base/js/namespace' {
  const Jupyter: any;
  export default Jupyter;
}
declare module 'notebook/js/outputarea' {
  const outputarea: { OutputArea: any };
  export default outputarea;
}
declare module '*.css' {
  const css: string;
  export default css;
}

// The tests build their DOM with jsdom, which ships no types (and @types/jsdom is not a
// dependency): only what test/helpers/dom.js uses.
declare module 'jsdom' {
  export class VirtualConsole {
    on(event: 'jsdomError', listener: (error: Error) => void): this;
  }
  export class JSDOM {
    constructor(
      html?: string,
      options?: { url?: string; pretendToBeVisual?: boolean; virtualConsole?: VirtualConsole },
    );
    readonly window: Window & typeof globalThis;
  }
}
