// ESLint flat config for the nbagg front end (ESLint 9).
import js from '@eslint/js';
import globals from 'globals';

export default [
  {
    // Dependencies, and the built extensions: webpack.classic.cjs and `jupyter labextension
    // build` write them into the Python package, outside `eslint .` anyway.
    ignores: ['node_modules/', '../nbagg/labextension/', '../nbagg/nbextension/'],
  },
  js.configs.recommended,
  {
    rules: {
      // `catch (err) { /* nothing to do */ }` names what it ignores (ESLint 8's default).
      'no-unused-vars': ['error', { caughtErrors: 'none' }],
    },
  },
  {
    // The extension: ES modules that run in the browser.
    files: ['src/**/*.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.browser },
    },
  },
  {
    // Unit tests: ES modules run by Node, with the DOM globals that test/helpers/dom.js
    // installs from jsdom.
    files: ['test/**/*.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser },
    },
  },
  {
    files: ['eslint.config.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.node },
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
  },
];
