// Builds the classic Notebook nbextension: one AMD module that RequireJS loads as
// nbextensions/nbagg/extension.js, with the notebook's own modules left external.
const path = require('path');

module.exports = {
  mode: 'production',
  entry: './src/classic.js',
  devtool: 'source-map',
  output: {
    path: path.resolve(__dirname, '../nbagg/nbextension'),
    filename: 'extension.js',
    library: { type: 'amd' },
    clean: true,
  },
  externals: ['base/js/namespace', 'notebook/js/outputarea'],
  module: {
    rules: [{ test: /\.css$/, type: 'asset/source' }],
  },
  optimization: { minimize: false },  // readable stack traces in the notebook's console
  performance: { hints: false },
};
