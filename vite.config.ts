import { build, defineConfig, type Plugin } from 'vite';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cspForHost } from './scripts/csp.js';
import { serviceWorker } from './scripts/vite-sw-plugin.js';

// Two products from one build: the app (index.html, PWA) and the embeddable widget, whose demo
// page shows a vendor's "connect to device" button. The node runs in a module Worker; the Service
// Worker (src/ui/sw/) is built to /sw.js by scripts/vite-sw-plugin.ts.
//
// Same-origin control: Headscale sends no CORS header on /key, so a page on another origin cannot
// read it. When TAILTAB_CONTROL_UPSTREAM is set (the demo sets it to the rig's Headscale), this
// server forwards /key, /ts2021 (WebSocket) and /machine/ to it, and the page uses its own origin
// as the control URL. TAILTAB_APP_CONFIG names a JSON file served as /tailtab-config.json (the
// embedded defaults: control URL, auth key, relay settings).
const upstream = process.env.TAILTAB_CONTROL_UPSTREAM;
const configFile = process.env.TAILTAB_APP_CONFIG;

function appConfig(): Plugin {
  const serve = (_req: unknown, res: import('node:http').ServerResponse) => {
    if (!configFile || !existsSync(configFile)) {
      res.statusCode = 404;
      res.end('{}');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(readFileSync(configFile));
  };
  return {
    name: 'tailtab-app-config',
    configureServer(server) {
      server.middlewares.use('/tailtab-config.json', serve);
    },
    // `vite preview` serves the production build the same way (its proxy is server.proxy's).
    configurePreviewServer(server) {
      server.middlewares.use('/tailtab-config.json', serve);
    },
  };
}

// Every response carries tailtab's Content-Security-Policy (scripts/csp.ts), the proxy origin's
// own where the request is for it; the config file's proxyOrigin/appOrigin name the origins, and
// widgetOrigins the vendor pages that embed the widget with proxy-origin.
function contentSecurityPolicy(): Plugin {
  const origins = (): { proxyOrigin?: string; appOrigin?: string; widgetOrigins?: string[] } => {
    try {
      return configFile && existsSync(configFile) ? JSON.parse(readFileSync(configFile, 'utf8')) : {};
    } catch {
      return {};
    }
  };
  const use = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, next: () => void) => {
    const { proxyOrigin, appOrigin, widgetOrigins } = origins();
    res.setHeader(
      'content-security-policy',
      cspForHost(req.headers.host, {
        proxyOrigin,
        appOrigin,
        widgetOrigins: Array.isArray(widgetOrigins) ? widgetOrigins : [],
      }),
    );
    next();
  };
  return {
    name: 'tailtab-csp',
    configureServer(server) {
      server.middlewares.use(use);
    },
    configurePreviewServer(server) {
      server.middlewares.use(use);
    },
  };
}

// The widget for vendors' pages: one ES module (dist/widget/tailtab-widget.js, plus the node
// Worker it starts), self-contained, built right after the app by the same `vite build`.
function widgetBundle(): Plugin {
  let skip = false;
  let outDir = resolve(import.meta.dirname, 'dist/widget');
  return {
    name: 'tailtab-widget-bundle',
    apply: 'build',
    configResolved(c) {
      skip = c.build.lib !== false || !!process.env.TAILTAB_NO_WIDGET_BUNDLE;
      outDir = resolve(c.root, c.build.outDir, 'widget');
    },
    async closeBundle() {
      if (skip) return;
      await build({
        configFile: false,
        publicDir: false,
        // The Worker's URL relative to the bundle (new URL('./assets/…', import.meta.url)), not
        // '/assets/…' at the page's root: the bundle works wherever it is served from, and a
        // bundler that takes it from the npm package ('tailtab/widget') finds the Worker beside it.
        base: './',
        logLevel: 'warn',
        worker: { format: 'es' },
        build: {
          target: 'es2022',
          outDir,
          emptyOutDir: true,
          sourcemap: true,
          lib: {
            entry: resolve(import.meta.dirname, 'src/ui/widget.ts'),
            formats: ['es'],
            fileName: () => 'tailtab-widget.js',
          },
        },
      });
    },
  };
}

export default defineConfig({
  plugins: [contentSecurityPolicy(), appConfig(), serviceWorker(), widgetBundle()],
  server: {
    host: '127.0.0.1',
    port: Number(process.env.TAILTAB_PORT ?? 5173),
    strictPort: !!process.env.TAILTAB_PORT,
    // Tests (TAILTAB_NO_HMR=1) get a fixed snapshot: no file watching, no reload of the page
    // when someone edits the tree mid-journey.
    ...(process.env.TAILTAB_NO_HMR ? { hmr: false, watch: null } : {}),
    proxy: upstream
      ? {
          '/key': { target: upstream, changeOrigin: true },
          '/ts2021': { target: upstream, changeOrigin: true, ws: true },
          '/machine/': { target: upstream, changeOrigin: true },
        }
      : undefined,
  },
  // Scan the Worker too, so its dependencies are pre-bundled at start rather than discovered on
  // the first visit (which makes Vite reload the page).
  // Browser tests also import core modules by URL (page.evaluate(import('/src/…'))), which no entry
  // reaches: every browser dependency is listed so none is discovered late.
  optimizeDeps: {
    entries: ['index.html', 'widget-demo.html', 'src/ui/worker/node-worker.ts', 'e2e/*.page.html', 'e2e/*.worker.ts'],
    include: [
      'lit',
      'lit/decorators.js',
      'idb',
      'uqr',
      '@xterm/xterm',
      '@xterm/addon-fit',
      '@noble/curves/ed25519.js',
      '@noble/curves/nist.js',
      '@noble/hashes/sha2.js',
      '@noble/hashes/hmac.js',
      '@noble/hashes/blake2.js',
      '@noble/ciphers/chacha.js',
      '@noble/ciphers/salsa.js',
      '@noble/ciphers/aes.js',
      '@noble/ciphers/_poly1305.js',
      '@noble/post-quantum/ml-kem.js',
    ],
  },
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
