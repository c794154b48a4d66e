import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is built ahead into dist/ui (shipped in the package) and served at /ui/ by the
// HTTP adapter under a strict CSP: no inline scripts, so no module-preload polyfill snippet.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
