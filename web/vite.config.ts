// Vite build of the web console: web/ → web/dist, served by `safehold server`
// at `/`. No external fonts or CDNs: everything the page needs is bundled.
// `npm run build` runs this (scripts/build-console.sh).

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
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
