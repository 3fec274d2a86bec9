import { defineConfig } from 'vite';
import { resolve } from 'node:path';

// Two products from one build: the app (index.html, PWA) and the embeddable widget, whose demo
// page shows a vendor's "connect to device" button. The node runs in a module Worker.
export default defineConfig({
  server: { host: '127.0.0.1', port: 5173, strictPort: false },
  preview: { host: '127.0.0.1' },
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    sourcemap: true,
    rollupOptions: {
      input: {
        app: resolve(import.meta.dirname, 'index.html'),
        widget: resolve(import.meta.dirname, 'widget-demo.html'),
      },
    },
  },
});
