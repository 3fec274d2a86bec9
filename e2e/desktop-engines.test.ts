// The desktop journey of e2e/desktop-vnc.test.ts in the other engines (Firefox ESR over WebDriver
// BiDi, WebKitGTK's MiniBrowser under WebKitWebDriver; e2e/helpers/engines.testkit.ts): TigerVNC's
// Xvnc with a VNC password behind a tailscaled peer. A wrong password is refused in words; the
// right one shows the desktop, whose xsetroot colour is on the canvas and whose name is the tab's
// title; text typed in the page runs in the remote xterm (a file appears). WebKit cannot transfer
// streams, so there the bytes cross from the Worker as pull-driven ports (app/stream-port.ts).
// Screenshots: test-results/desktop-<engine>-*.png.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/desktop-engines.test.ts
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRigApp, type AppServer } from './helpers/browser.testkit.js';
import { deep, launchEngine, until, type EngineDriver, type EngineName } from './helpers/engines.testkit.js';
import { startXvnc, type Xvnc } from './helpers/xvnc.testkit.js';
import { REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });
const PASSWORD = 'tt-vnc-8';
const DESKTOP = 'tailtab-engines-desktop';
// Chromium's desktop journey is e2e/desktop-vnc.test.ts.
const ENGINES: EngineName[] = ['firefox', 'webkit'];

let rig: Rig;
let app: AppServer;
let vnc: Xvnc;
const dir = mkdtempSync(join(tmpdir(), 'desktop-engines-'));

beforeAll(async () => {
  rig = await startRig({ peers: [{ name: 'peer1' }], sshd: false });
  vnc = await startXvnc({ dir: rig.dir, name: DESKTOP, password: PASSWORD });
  vnc.x('xsetroot', ['-solid', '#ff0000']);
  // The xterm covers the middle of the screen, where a driver's click on the canvas lands (the
  // pointer over it gives it the keyboard: there is no window manager).
  vnc.spawn('xterm', '/usr/bin/xterm', [
    '-geometry',
    '80x10+200+300',
    '-fa',
    'DejaVu Sans Mono',
    '-fs',
    '11',
    '-e',
    'bash',
    '--norc',
    '-c',
    `cd ${dir} && exec bash --norc`,
  ]);
  app = await startRigApp(
    rig,
    (url) => ({
      controlUrl: url,
      authKey: rig.authKey,
      hostname: 'desktop-engine',
      autoConnect: true,
      allowInsecureDerp: true,
    }),
    'desktop-engines-config.json',
  );
}, 300_000);

afterAll(async () => {
  await app?.stop();
  await vnc?.stop();
  await rig?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const CANVAS = 'tt-desktop >> .screen canvas';
const ALERT = 'tt-desktop >> p.error';

for (const engine of ENGINES) {
  describe.sequential(`the desktop in ${engine}`, () => {
    let b: EngineDriver;
    let startError: unknown;
    const need = () => {
      if (!b) throw new Error(`${engine} did not start: ${String(startError)}`);
    };
    const shot = (name: string) => b.screenshot(join(SHOTS, `desktop-${engine}-${name}.png`));
    const proof = join(dir, `proof-${engine}`);

    afterEach(async ({ task }) => {
      if (task.result?.state === 'fail' && b)
        await shot(`failed-${task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(() => {});
    });
    afterAll(async () => {
      await b?.close();
    });

    it('Desktop → a wrong VNC password is refused in words', async () => {
      try {
        b = await launchEngine(engine, { viewport: { width: 1280, height: 900 } });
      } catch (e) {
        startError = e;
        throw e;
      }
      await b.goto(app.url + '/#machines');
      await until(
        'peer1 in Machines',
        () => b.count('tt-machines >> tr[data-peer="peer1"]'),
        (n) => n === 1,
        120_000,
      );
      await b.click('tt-machines >> tr[data-peer="peer1"] button[aria-label^="Desktop"]');
      await b.waitFor('tt-desktop >> #vnc-port', 30_000);
      await b.fill('tt-desktop >> #vnc-port', String(vnc.port));
      await b.click('tt-desktop >> form.connect button[type=submit]');
      await b.waitFor('tt-desktop >> #vnc-password', 60_000);
      await b.fill('tt-desktop >> #vnc-password', 'not-it');
      await b.click('tt-desktop >> form.password button.primary');
      const said = await until(
        'the refusal',
        () => b.text(ALERT),
        (t) => t.includes('refused'),
        30_000,
      );
      expect(said).toBe(
        `The VNC server at peer1:${vnc.port} refused the password (it said: "Authentication failure"). Check it and connect again.`,
      );
    }, 240_000);

    it('the right password: the painted colour on the canvas, the desktop name as the title, typed text runs remotely', async () => {
      need();
      await b.click('tt-desktop >> button.primary');
      await b.waitFor('tt-desktop >> #vnc-password', 60_000);
      await b.fill('tt-desktop >> #vnc-password', PASSWORD);
      await b.click('tt-desktop >> form.password button.primary');
      const px = `(() => { const c = ${deep(CANVAS)}[0]; if (!c || c.width !== 1024) return null; return [...c.getContext('2d').getImageData(1000, 740, 1, 1).data.slice(0, 3)]; })()`;
      expect(
        await until(
          'the red root window on the canvas',
          () => b.evaluate<number[] | null>(px),
          (v) => JSON.stringify(v) === '[255,0,0]',
          60_000,
        ),
      ).toEqual([255, 0, 0]);
      expect(
        await until(
          'the title',
          () => b.evaluate<string>('document.title'),
          (t) => t.startsWith(DESKTOP),
          10_000,
        ),
      ).toBe(`${DESKTOP} — tailtab`);
      await b.click(CANVAS);
      await b.keys(`echo ${engine} >> ${proof}\n`);
      await until(
        'the file the remote shell wrote',
        async () => (existsSync(proof) ? readFileSync(proof, 'utf8') : ''),
        (t) => t === `${engine}\n`,
        30_000,
      );
      await shot('connected');
    }, 180_000);
  });
}
