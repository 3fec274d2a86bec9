// The Service Worker is TypeScript under src/ui/sw/, but must be one classic script at exactly
// /sw.js at the root of the origin (its scope is the whole origin; pages register /sw.js,
// /sw.js?proxy=off and /sw.js?proxy=host). This plugin builds it:
//  - dev server: bundled on request, rebuilt only when one of its source files changed;
//  - `vite build`: emitted as dist/sw.js (so `vite preview` serves it as a static file).
// Two steps: the frame script (src/ui/sw/frame-script.ts), a script of its own that the worker
// serves as /__tailtab/frame.js, is bundled first and handed to the worker's bundle as the text
// of the module 'virtual:tailtab-frame-script'.
import { build, type Plugin, type Rolldown } from 'vite';
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const SW_ENTRY = resolve(ROOT, 'src/ui/sw/main.ts');
const FRAME_ENTRY = resolve(ROOT, 'src/ui/sw/frame-script.ts');
const FRAME_MODULE = 'virtual:tailtab-frame-script';
export const SW_PATH = '/sw.js';

interface Bundle {
  code: string;
  /** Every source file in it, with its modification time when it was read. */
  files: Map<string, number>;
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** One classic script (IIFE) from `entry`, nothing written to disk. */
async function bundle(entry: string, plugins: Plugin[] = []): Promise<Bundle> {
  const out = (await build({
    configFile: false,
    root: ROOT,
    publicDir: false,
    logLevel: 'warn',
    plugins,
    build: {
      write: false,
      target: 'es2022',
      minify: false,
      sourcemap: false,
      emptyOutDir: false,
      copyPublicDir: false,
      reportCompressedSize: false,
      lib: { entry, formats: ['iife'], name: 'tailtab', fileName: () => 'bundle.js' },
    },
  })) as Rolldown.RolldownOutput | Rolldown.RolldownOutput[];
  const chunk = (Array.isArray(out) ? out : [out])
    .flatMap((o) => o.output)
    .find((c): c is Rolldown.OutputChunk => c.type === 'chunk');
  if (!chunk) throw new Error(`building ${entry} gave no script`);
  const files = new Map<string, number>();
  for (const id of chunk.moduleIds) if (isAbsolute(id)) files.set(id, mtime(id));
  return { code: chunk.code, files };
}

/** The Service Worker's script, the frame script inside it. */
export async function buildServiceWorker(): Promise<Bundle> {
  const frame = await bundle(FRAME_ENTRY);
  const frameModule: Plugin = {
    name: 'tailtab-frame-script',
    resolveId: (id) => (id === FRAME_MODULE ? '\0' + FRAME_MODULE : undefined),
    load: (id) => (id === '\0' + FRAME_MODULE ? `export default ${JSON.stringify(frame.code)};\n` : undefined),
  };
  const worker = await bundle(SW_ENTRY, [frameModule]);
  return { code: worker.code, files: new Map([...frame.files, ...worker.files]) };
}

export function serviceWorker(): Plugin {
  let built: Bundle | null = null;
  let building: Promise<Bundle> | null = null;
  const fresh = (b: Bundle) => [...b.files].every(([f, t]) => mtime(f) === t);
  const current = async (): Promise<string> => {
    if (built && fresh(built)) return built.code;
    building ??= buildServiceWorker().finally(() => (building = null));
    built = await building;
    return built.code;
  };
  let lib = false;
  return {
    name: 'tailtab-service-worker',
    configResolved(c) {
      lib = c.build.lib !== false;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        if ((req.url ?? '').split('?')[0] !== SW_PATH) return next();
        current().then(
          (code) => {
            res.setHeader('content-type', 'text/javascript; charset=utf-8');
            res.setHeader('cache-control', 'no-cache');
            res.end(code);
          },
          (e: unknown) => next(e),
        );
      });
    },
    async generateBundle() {
      if (lib) return;
      const sw = await buildServiceWorker();
      this.emitFile({ type: 'asset', fileName: SW_PATH.slice(1), source: sw.code });
    },
  };
}
