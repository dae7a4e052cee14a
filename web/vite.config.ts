import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const webRoot = path.dirname(fileURLToPath(import.meta.url));

// The customer portal. `npm run build:web` writes it to dist/web, which the API process serves (portal-routes.ts).
// `npx vite --config web/vite.config.ts` runs a dev server that forwards /api to a Keyhouse on port 8080.
export default defineConfig({
  root: webRoot,
  plugins: [react()],
  build: {
    outDir: path.resolve(webRoot, '../dist/web'),
    emptyOutDir: true,
    sourcemap: true,
    // bench/portal.mjs reads the manifest to find what the wizard route loads.
    manifest: true,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      // zod's sources carry comments Rollup cannot place; harmless, but they drown real warnings.
      onwarn(warning, warn) {
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('node_modules/zod/')) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
