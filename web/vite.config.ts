// Vite build of the web console: web/ → web/dist, served by `safehold server`
// at `/`. No external fonts or CDNs: everything the page needs is bundled.
// `npm run build` runs this (scripts/build-console.sh).

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The console takes only types from the API's zod schemas (web/src/types.ts:
 * `import type` from src/api/http/schemas.ts); a value import would bundle zod
 * and the schemas, so it fails the build instead.
 */
const typesOnlyFromApi: Plugin = {
  name: 'safehold-types-only-from-api',
  enforce: 'pre',
  resolveId(id, importer) {
    if (id === 'zod' || id.startsWith('zod/')) {
      throw new Error(`zod would be bundled (imported by ${importer ?? '?'}): take the API's schemas with import type`);
    }
    return null;
  },
};

export default defineConfig({
  root,
  base: '/',
  plugins: [react(), typesOnlyFromApi],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `npx vite web` during development: the API of a local `safehold server --listen 127.0.0.1:8080`.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
