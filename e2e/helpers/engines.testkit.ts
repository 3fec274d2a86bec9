// The three browser engines, from Debian packages, behind one small driver so a journey is
// written once and run per engine:
//   - Chromium (/usr/bin/chromium), driven by playwright-core, headless;
//   - Firefox ESR (/usr/bin/firefox-esr), driven by puppeteer-core over WebDriver BiDi, headless;
//   - WebKitGTK (Safari's engine): WebKitWebDriver driving MiniBrowser, under Xvfb (MiniBrowser has
//     no headless mode), through selenium-webdriver.
// Nothing is downloaded: a missing engine is an error that says which package to install.
//
// Selectors pierce shadow roots: `a >> b` finds `b` anywhere below a match of `a` (light DOM or
// shadow DOM, at any depth), and a single part is looked for in the document and every shadow
// root in it. Page code is passed as strings, not functions: the test runner's transform would
// add helpers the page lacks. TAILTAB_DUMPIO=1 prints Firefox's own output (its worker errors).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  Browser as CBrowser,
  BrowserContext as CContext,
  ElementHandle as CElement,
  Page as CPage,
} from 'playwright-core';
import puppeteer, {
  type Browser as PBrowser,
  type ElementHandle,
  type KeyInput,
  type Page as PPage,
} from 'puppeteer-core';
import { Builder, Key, type WebDriver, type WebElement } from 'selenium-webdriver';
import * as seleniumInput from 'selenium-webdriver/lib/input.js';

// W3C touch pointer actions (selenium-webdriver has them; its type definitions do not).
interface TouchMove {
  origin: WebElement;
  x: number;
  y: number;
  duration?: number;
}
interface TouchPointer {
  move(m: TouchMove): unknown;
  press(): unknown;
  release(): unknown;
}
const { Pointer } = seleniumInput as unknown as {
  Pointer: (new (id: string, type: string) => TouchPointer) & { Type: { TOUCH: string } };
};
import { freePort, launchChromium } from './browser.testkit.js';

export type EngineName = 'chromium' | 'firefox' | 'webkit';
export const ALL_ENGINES: EngineName[] = ['chromium', 'firefox', 'webkit'];

export interface LaunchOptions {
  viewport: { width: number; height: number };
  /** Private browsing: Firefox's prefs browser.privatebrowsing.autostart; MiniBrowser's --private. */
  privateMode?: boolean;
  /**
   * A phone, as far as each engine can be one: Chromium with DevTools' mobile and touch
   * emulation; Firefox with touch events on and a coarse primary pointer (prefs); WebKit with
   * MiniBrowser full screen on a screen of the viewport's size (its window is at least 447 px
   * wide otherwise) — WebKitGTK has no touch emulation at all.
   */
  phone?: boolean;
}

export const FIREFOX = process.env.TAILTAB_FIREFOX ?? '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = process.env.TAILTAB_WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.TAILTAB_MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
export const XVFB = process.env.TAILTAB_XVFB ?? '/usr/bin/Xvfb';

export interface EngineDriver {
  readonly engine: EngineName;
  /** Browser name and version as the engine reports it. */
  readonly version: string;
  goto(url: string): Promise<void>;
  /** Reloads the page. */
  reload(): Promise<void>;
  /** Evaluates a JavaScript expression in the page (a promise is awaited); the result must be JSON-like. */
  evaluate<T>(expression: string): Promise<T>;
  /** Number of elements matching a deep selector. */
  count(selector: string): Promise<number>;
  /** innerText of the first match ('' if none). */
  text(selector: string): Promise<string>;
  /** The value of the first match (a form field; '' if none). */
  value(selector: string): Promise<string>;
  /** Waits until the selector matches something. */
  waitFor(selector: string, timeoutMs?: number): Promise<void>;
  /** A real click (pointer events) on the first match. */
  click(selector: string): Promise<void>;
  /** Empties a text field and types `value` into it with real key events. */
  fill(selector: string, value: string): Promise<void>;
  /** Picks an option of a <select> (and fires 'change' as a person's choice would). */
  select(selector: string, value: string): Promise<void>;
  /** Picks a file from disk in an <input type=file>, as a person choosing it would. */
  setFile(selector: string, path: string): Promise<void>;
  /** Where the browser saves downloads by itself, if it does so without asking (Firefox). */
  readonly downloadsDir?: string;
  /** Types into whatever has the focus; '\n' presses Enter. */
  keys(text: string): Promise<void>;
  /** Presses one key, with modifiers held: 'Tab', 'Shift+Tab', 'Enter', 'Space', 'Control+]'. */
  press(key: string): Promise<void>;
  screenshot(path: string): Promise<void>;
  /** Changes the page's viewport (the window's inner size); `touch` also emulates a touch screen where the driver can. */
  setViewport(width: number, height: number, o?: { touch?: boolean }): Promise<void>;
  /** Evaluates an expression inside the first frame matching a deep selector (cross-origin frames too). */
  frameEvaluate<T>(frameSelector: string, expression: string): Promise<T>;
  /**
   * Opens `url` in a new tab behind the current one, which stays current. (In WebKitGTK a tab
   * opened by WebDriver is not shown, and a page not shown does not paint: journeys stay in the first tab.)
   */
  openTab(url: string): Promise<void>;
  /** Closes the current tab as a person does (the browser keeps running); the newest other tab becomes current. */
  closeTab(): Promise<void>;
  /** The newest other tab becomes current and is shown; the current one stays open (a second swap comes back). */
  swapTab(): Promise<void>;
  /**
   * A finger dragged up `dy` px from the middle of the first match (touch events, as on a phone);
   * throws 'unsupported' where the driver cannot make touch input.
   */
  swipe(selector: string, dy: number): Promise<void>;
  /** A real click (a user gesture) on an element inside the first frame matching a deep selector. */
  frameClick(frameSelector: string, selector: string): Promise<void>;
  /**
   * Uncaught exceptions and unhandled rejections the pages raised so far. Chromium and Firefox
   * report every one; in WebKit (WebDriver classic runs no script before the page's own) only
   * those after each page's load.
   */
  errors(): Promise<string[]>;
  close(): Promise<void>;
}

/** Page-side helper: every element matching a deep selector, in document order. */
const DEEP = `((sel) => {
  const inRoot = (root, s) => {
    const out = [...root.querySelectorAll(s)];
    const walk = (r) => { for (const el of r.querySelectorAll('*')) if (el.shadowRoot) { out.push(...el.shadowRoot.querySelectorAll(s)); walk(el.shadowRoot); } };
    walk(root);
    return out;
  };
  let scope = [document];
  for (const part of sel.split(' >> ')) {
    const next = [];
    for (const r of scope) { next.push(...inRoot(r, part)); if (r.shadowRoot) next.push(...inRoot(r.shadowRoot, part)); }
    scope = [...new Set(next)];
  }
  return scope.filter((e) => e !== document);
})`;
/** A page expression: the array of elements matching a deep selector. */
export const deep = (sel: string) => `${DEEP}(${JSON.stringify(sel)})`;

async function poll<T>(what: string, fn: () => Promise<T | undefined | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls `fn` until `ok` holds of its value; fails with the last value seen. */
export async function until<T>(
  what: string,
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn().catch(() => last);
    if (last !== undefined && ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)?.slice(0, 2000)}`,
      );
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** What every driver does alike once it can evaluate an expression in the page: deep-selector queries, the error list. */
abstract class DeepSelectorDriver {
  protected readonly pageErrors: string[] = [];
  abstract evaluate<T>(expression: string): Promise<T>;
  count(selector: string) {
    return this.evaluate<number>(`${deep(selector)}.length`);
  }
  text(selector: string) {
    return this.evaluate<string>(`${deep(selector)}[0]?.innerText ?? ''`);
  }
  value(selector: string) {
    return this.evaluate<string>(`${deep(selector)}[0]?.value ?? ''`);
  }
  async waitFor(selector: string, timeoutMs = 30_000) {
    await poll(selector, async () => ((await this.count(selector)) > 0 ? true : undefined), timeoutMs);
  }
  async errors() {
    return [...this.pageErrors];
  }
}

// The page, element and frame calls puppeteer-core (Firefox) and playwright-core (Chromium) share.
interface FrameLike {
  evaluate(expression: string): Promise<unknown>;
  click(selector: string): Promise<void>;
}
interface ElementLike {
  click(): Promise<void>;
  dispose(): Promise<void>;
  contentFrame(): Promise<FrameLike | null>;
}
interface PageLike {
  goto(url: string, o: { waitUntil: 'load' }): Promise<unknown>;
  reload(o: { waitUntil: 'load' }): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  evaluateHandle(expression: string): Promise<{ asElement(): unknown; dispose(): Promise<void> }>;
  keyboard: {
    type(text: string): Promise<void>;
    down(key: KeyInput): Promise<void>;
    up(key: KeyInput): Promise<void>;
    press(key: KeyInput): Promise<void>;
  };
  bringToFront(): Promise<void>;
  close(): Promise<void>;
}

/** Firefox's and Chromium's drivers: a page object with the same calls; tabs are pages. */
abstract class PageDriver<P extends PageLike, E extends ElementLike> extends DeepSelectorDriver {
  protected tabs: P[] = [];
  constructor(protected page: P) {
    super();
  }
  /** A new page (tab) in the same browser or context. */
  protected abstract newPage(): Promise<P>;
  protected abstract watch(page: P): void;

  protected async handle(selector: string): Promise<E> {
    const h = await this.page.evaluateHandle(`${deep(selector)}[0] ?? null`);
    const el = h.asElement() as E | null;
    if (!el) {
      await h.dispose();
      throw new Error(`no element matches ${selector}`);
    }
    return el;
  }
  async goto(url: string) {
    await this.page.goto(url, { waitUntil: 'load' });
  }
  async reload() {
    await this.page.reload({ waitUntil: 'load' });
  }
  async evaluate<T>(expression: string): Promise<T> {
    return (await this.page.evaluate(`(async () => (${expression}))()`)) as T;
  }
  async click(selector: string) {
    const el = await this.handle(selector);
    await el.click();
    await el.dispose();
  }
  async keys(text: string) {
    await this.page.keyboard.type(text);
  }
  async press(key: string) {
    // puppeteer-core and playwright-core name keys alike (KeyboardEvent.key and .code values).
    const [k, ...mods] = key
      .split('+')
      .map((x) => x as KeyInput)
      .reverse();
    for (const m of mods) await this.page.keyboard.down(m);
    await this.page.keyboard.press(k!);
    for (const m of mods.reverse()) await this.page.keyboard.up(m);
  }
  private async frame(frameSelector: string): Promise<FrameLike> {
    const el = await this.handle(frameSelector);
    const frame = await el.contentFrame();
    await el.dispose();
    if (!frame) throw new Error(`${frameSelector} is not a frame`);
    return frame;
  }
  async frameEvaluate<T>(frameSelector: string, expression: string): Promise<T> {
    return (await (await this.frame(frameSelector)).evaluate(`(async () => (${expression}))()`)) as T;
  }
  async frameClick(frameSelector: string, selector: string) {
    await (await this.frame(frameSelector)).click(selector);
  }
  async openTab(url: string) {
    const page = await this.newPage();
    this.watch(page);
    this.tabs.push(page);
    await page.goto(url, { waitUntil: 'load' });
    await this.page.bringToFront();
  }
  async closeTab() {
    const next = this.tabs.pop();
    if (!next) throw new Error('no other tab to go to');
    await this.page.close();
    this.page = next;
    await next.bringToFront();
  }
  async swapTab() {
    const next = this.tabs.pop();
    if (!next) throw new Error('no other tab to go to');
    this.tabs.push(this.page);
    this.page = next;
    await next.bringToFront();
  }
  /** The middle of the first match, in viewport pixels (where a swipe starts). */
  protected middle(selector: string) {
    return this.evaluate<{ x: number; y: number }>(
      `(() => { const b = ${deep(selector)}[0].getBoundingClientRect(); return { x: b.x + b.width / 2, y: b.y + b.height / 2 }; })()`,
    );
  }
}

// --- Firefox over WebDriver BiDi (puppeteer-core) --------------------------------------------

class FirefoxDriver extends PageDriver<PPage, ElementHandle<Element>> implements EngineDriver {
  readonly engine = 'firefox' as const;
  constructor(
    private browser: PBrowser,
    page: PPage,
    readonly version: string,
    readonly downloadsDir: string,
  ) {
    super(page);
    this.watch(page);
  }

  protected newPage() {
    return this.browser.newPage();
  }
  protected watch(page: PPage) {
    page.on('pageerror', (e) => {
      const text = e instanceof Error ? e.message : String(e);
      // Firefox reports an ICE negotiation that found no route as a page error although no script
      // threw: the WebRTC path to another browser node failed (in a namespace without the TUN of
      // e2e/rig/tun.ts there is no candidate at all) and the node stays on DERP, as designed
      // (e2e/webrtc-path.test.ts proves the fallback). An engine notice, not an error of the page.
      if (/^WebRTC: ICE failed/.test(text)) return void console.log(`[firefox notice] ${text}`);
      this.pageErrors.push(text);
      console.log(`[firefox page error] ${text}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`[firefox console] ${m.text()}`);
    });
  }

  static async launch(o: LaunchOptions): Promise<FirefoxDriver> {
    if (!existsSync(FIREFOX))
      throw new Error(`Firefox not found at ${FIREFOX}: run scripts/install.sh (apt-get install firefox-esr)`);
    const downloadsDir = mkdtempSync(join(tmpdir(), 'tailtab-firefox-downloads-'));
    const browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      defaultViewport: o.viewport,
      dumpio: process.env.TAILTAB_DUMPIO === '1',
      extraPrefsFirefox: {
        // No background traffic: the tests run with loopback only.
        'network.captive-portal-service.enabled': false,
        'network.connectivity-service.enabled': false,
        // Downloads are saved into downloadsDir without a question.
        'browser.download.folderList': 2,
        'browser.download.dir': downloadsDir,
        'browser.download.useDownloadDir': true,
        'browser.download.always_ask_before_handling_new_types': false,
        ...(o.privateMode ? { 'browser.privatebrowsing.autostart': true } : {}),
        // A touch screen as the primary pointer: touch events, and (pointer: coarse) matches.
        ...(o.phone
          ? { 'dom.w3c_touch_events.enabled': 1, 'ui.primaryPointerCapabilities': 1, 'ui.allPointerCapabilities': 1 }
          : {}),
      },
    });
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    await page.setViewport(o.viewport);
    return new FirefoxDriver(browser, page, await browser.version(), downloadsDir);
  }

  async fill(selector: string, value: string) {
    const el = await this.handle(selector);
    await el.evaluate((e) => {
      (e as HTMLInputElement).value = '';
    });
    await el.type(value);
    await el.dispose();
  }
  async select(selector: string, value: string) {
    const el = await this.handle(selector);
    await el.select(value);
    await el.dispose();
  }
  async setFile(selector: string, path: string) {
    const el = (await this.handle(selector)) as ElementHandle<HTMLInputElement>;
    await el.uploadFile(path);
    await el.dispose();
  }
  async screenshot(path: string) {
    await this.page.screenshot({ path: path as `${string}.png`, fullPage: true });
  }
  async setViewport(width: number, height: number, o: { touch?: boolean } = {}) {
    // hasTouch is WebDriver BiDi's emulation.setTouchOverride.
    await this.page.setViewport({ width, height, hasTouch: !!o.touch });
  }
  async swipe(selector: string, dy: number) {
    const r = await this.middle(selector);
    const t = await this.page.touchscreen.touchStart(r.x, r.y + dy / 2);
    for (let i = 1; i <= 5; i++) await t.move(r.x, r.y + dy / 2 - (dy * i) / 5);
    await t.end();
  }
  async close() {
    await this.browser.close().catch(() => {});
    rmSync(this.downloadsDir, { recursive: true, force: true });
  }
}

// --- WebKitGTK over WebDriver (selenium-webdriver, WebKitWebDriver, MiniBrowser, Xvfb) -------

/** Page script: records uncaught errors from now on (WebDriver classic has no page-error event). */
const RECORD_ERRORS = `if (!window.__ttErrors) { window.__ttErrors = [];
  addEventListener('error', (e) => window.__ttErrors.push(String(e.message)));
  addEventListener('unhandledrejection', (e) => window.__ttErrors.push('unhandled rejection: ' + String(e.reason && e.reason.message || e.reason))); }`;

class WebKitDriver extends DeepSelectorDriver implements EngineDriver {
  readonly engine = 'webkit' as const;
  private tabs: string[] = [];
  constructor(
    private driver: WebDriver,
    readonly version: string,
    private procs: ChildProcess[],
    private tmp: string,
  ) {
    super();
  }

  static async launch(o: LaunchOptions): Promise<WebKitDriver> {
    for (const [path, pkg] of [
      [WEBKIT_DRIVER, 'webkit2gtk-driver'],
      [MINIBROWSER, 'webkit2gtk-driver (libwebkit2gtk-4.1-0)'],
      [XVFB, 'xvfb'],
    ]) {
      if (!existsSync(path)) throw new Error(`${path} not found: run scripts/install.sh (apt-get install ${pkg})`);
    }
    const tmp = mkdtempSync(join(tmpdir(), 'tailtab-webkit-'));
    const procs: ChildProcess[] = [];
    const stop = () => {
      for (const p of procs)
        try {
          process.kill(-p.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
    };
    try {
      // A display of our own: Xvfb picks a free number and prints it on the given fd.
      const xvfb = spawn(
        XVFB,
        [
          '-displayfd',
          '3',
          '-screen',
          '0',
          `${o.viewport.width}x${o.viewport.height + (o.phone ? 0 : 100)}x24`,
          '-nolisten',
          'tcp',
        ],
        {
          stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
          detached: true,
        },
      );
      procs.push(xvfb);
      let xerr = '';
      xvfb.stderr!.on('data', (d) => (xerr += d));
      const display = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const t = setTimeout(() => reject(new Error(`Xvfb did not start in 20 s:\n${xerr}`)), 20_000);
        (xvfb.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
          buf += d;
          if (buf.includes('\n')) {
            clearTimeout(t);
            resolve(':' + buf.trim());
          }
        });
        xvfb.once('exit', (c) => {
          clearTimeout(t);
          reject(new Error(`Xvfb exited (${c}):\n${xerr}`));
        });
      });
      const port = await freePort();
      const env = {
        ...process.env,
        DISPLAY: display,
        HOME: tmp,
        XDG_RUNTIME_DIR: tmp,
        XDG_CACHE_HOME: join(tmp, 'cache'),
        XDG_DATA_HOME: join(tmp, 'data'),
        NO_AT_BRIDGE: '1',
      };
      const wd = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      procs.push(wd);
      let wdOut = '';
      wd.stdout!.on('data', (d) => (wdOut += d));
      wd.stderr!.on('data', (d) => (wdOut += d));
      await poll(
        'WebKitWebDriver',
        async () => {
          if (wd.exitCode !== null) throw new Error(`WebKitWebDriver exited:\n${wdOut}`);
          const r = await fetch(`http://127.0.0.1:${port}/status`);
          return r.ok ? true : undefined;
        },
        20_000,
      );
      const driver = await new Builder()
        .usingServer(`http://127.0.0.1:${port}`)
        .withCapabilities({
          browserName: 'MiniBrowser',
          'webkitgtk:browserOptions': {
            binary: MINIBROWSER,
            args: ['--automation', ...(o.phone ? ['--full-screen'] : []), ...(o.privateMode ? ['--private'] : [])],
          },
        })
        .build();
      const caps = await driver.getCapabilities();
      const d = new WebKitDriver(
        driver,
        `${String(caps.get('browserName'))}/${String(caps.get('browserVersion'))}`,
        procs,
        tmp,
      );
      await d.setViewport(o.viewport.width, o.viewport.height).catch(() => {});
      return d;
    } catch (e) {
      stop();
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  private async element(selector: string): Promise<WebElement> {
    const el = (await this.driver.executeScript(`return ${deep(selector)}[0] ?? null;`)) as WebElement | null;
    if (!el) throw new Error(`no element matches ${selector}`);
    return el;
  }

  /** Collects the errors the page recorded, then records on (a new document starts empty). */
  private async harvest() {
    const got = (await this.driver
      .executeScript(`const e = window.__ttErrors || []; window.__ttErrors = undefined; ${RECORD_ERRORS}; return e;`)
      .catch(() => [])) as string[];
    for (const e of got) console.log(`[webkit page error] ${e}`);
    this.pageErrors.push(...got);
  }
  async goto(url: string) {
    await this.harvest();
    await this.driver.get(url);
    await this.harvest();
  }
  async reload() {
    await this.harvest();
    await this.driver.navigate().refresh();
    await this.harvest();
  }
  async evaluate<T>(expression: string): Promise<T> {
    // WebDriver awaits a returned promise.
    return (await this.driver.executeScript(`return (async () => (${expression}))();`)) as T;
  }
  async click(selector: string) {
    await (await this.element(selector)).click();
  }
  async fill(selector: string, value: string) {
    const el = await this.element(selector);
    await this.driver.executeScript('arguments[0].value = ""; arguments[0].focus();', el);
    await el.sendKeys(value);
  }
  async select(selector: string, value: string) {
    const el = await this.element(selector);
    await this.driver.executeScript(
      'arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event("input", { bubbles: true })); arguments[0].dispatchEvent(new Event("change", { bubbles: true }));',
      el,
      value,
    );
  }
  async setFile(selector: string, path: string) {
    await (await this.element(selector)).sendKeys(path);
  }
  async keys(text: string) {
    const parts = text.split('\n');
    const seq: string[] = [];
    parts.forEach((p, i) => {
      if (p) seq.push(p);
      if (i < parts.length - 1) seq.push(Key.ENTER);
    });
    await this.driver
      .actions()
      .sendKeys(...seq)
      .perform();
  }
  async press(key: string) {
    const named: Record<string, string> = {
      Tab: Key.TAB,
      Enter: Key.ENTER,
      Space: Key.SPACE,
      Shift: Key.SHIFT,
      Control: Key.CONTROL,
    };
    const [k, ...mods] = key
      .split('+')
      .map((x) => named[x] ?? x)
      .reverse();
    let a = this.driver.actions();
    for (const m of mods) a = a.keyDown(m);
    a = a.sendKeys(k!);
    for (const m of mods.reverse()) a = a.keyUp(m);
    await a.perform();
  }
  async screenshot(path: string) {
    await this.harvest();
    writeFileSync(path, Buffer.from(await this.driver.takeScreenshot(), 'base64'));
  }
  async setViewport(width: number, height: number) {
    // The window's size includes MiniBrowser's own bars: add what they take. (No touch emulation
    // in WebKitGTK: it has touch events only with a real touch screen.)
    const win = this.driver.manage().window();
    await win.setRect({ width, height, x: 0, y: 0 });
    const inner = await this.evaluate<{ w: number; h: number }>('({ w: innerWidth, h: innerHeight })');
    if (inner.w !== width || inner.h !== height) {
      const outer = await win.getRect();
      await win.setRect({ width: outer.width + width - inner.w, height: outer.height + height - inner.h, x: 0, y: 0 });
    }
  }
  async frameEvaluate<T>(frameSelector: string, expression: string): Promise<T> {
    const el = await this.element(frameSelector);
    await this.driver.switchTo().frame(el);
    try {
      return (await this.driver.executeScript(`return (async () => (${expression}))();`)) as T;
    } finally {
      await this.driver.switchTo().defaultContent();
    }
  }
  async frameClick(frameSelector: string, selector: string) {
    const el = await this.element(frameSelector);
    await this.driver.switchTo().frame(el);
    try {
      await (await this.driver.findElement({ css: selector })).click();
    } finally {
      await this.driver.switchTo().defaultContent();
    }
  }
  override async errors() {
    await this.harvest();
    return super.errors();
  }
  async openTab(url: string) {
    await this.harvest();
    const current = await this.driver.getWindowHandle();
    await this.driver.switchTo().newWindow('tab');
    this.tabs.push(await this.driver.getWindowHandle());
    await this.goto(url);
    await this.driver.switchTo().window(current);
  }
  async closeTab() {
    const next = this.tabs.pop();
    if (!next) throw new Error('no other tab to go to');
    await this.harvest();
    await this.driver.close();
    await this.driver.switchTo().window(next);
  }
  async swapTab() {
    const next = this.tabs.pop();
    if (!next) throw new Error('no other tab to go to');
    await this.harvest();
    this.tabs.push(await this.driver.getWindowHandle());
    await this.driver.switchTo().window(next);
  }
  async swipe(selector: string, dy: number) {
    const el = await this.element(selector);
    const finger = new Pointer('finger', Pointer.Type.TOUCH);
    try {
      await (
        this.driver.actions({ async: true }) as unknown as {
          insert(d: TouchPointer, ...a: unknown[]): { perform(): Promise<void> };
        }
      )
        .insert(
          finger,
          finger.move({ origin: el, x: 0, y: Math.round(dy / 2) }),
          finger.press(),
          finger.move({ origin: el, x: 0, y: -Math.round(dy / 2), duration: 300 }),
          finger.release(),
        )
        .perform();
    } catch (e) {
      throw new Error(`unsupported: ${String(e)}`);
    }
  }
  async close() {
    await this.harvest().catch(() => {});
    await this.driver.quit().catch(() => {});
    for (const p of this.procs.reverse()) {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}

// --- Chromium (playwright-core) ------------------------------------------------------------

export class ChromiumDriver extends PageDriver<CPage, CElement<Element>> implements EngineDriver {
  readonly engine = 'chromium' as const;
  constructor(
    /** The browser, for Chromium-only journeys that need a context of their own. */
    readonly browser: CBrowser,
    private ctx: CContext,
    page: CPage,
    readonly version: string,
    readonly downloadsDir: string,
  ) {
    super(page);
    this.watch(page);
  }

  protected newPage() {
    return this.ctx.newPage();
  }

  static async launch(o: LaunchOptions): Promise<ChromiumDriver> {
    const browser = await launchChromium();
    const downloadsDir = mkdtempSync(join(tmpdir(), 'tailtab-chromium-downloads-'));
    const ctx = await browser.newContext({
      viewport: o.viewport,
      acceptDownloads: true,
      ...(o.phone ? { isMobile: true, hasTouch: true } : {}),
    });
    const page = await ctx.newPage();
    return new ChromiumDriver(browser, ctx, page, `chromium/${browser.version()}`, downloadsDir);
  }

  /** Records the page's uncaught errors; a download is saved into downloadsDir under its own name, as a browser does. */
  watch(page: CPage) {
    page.on('pageerror', (e) => {
      this.pageErrors.push(e.message);
      console.log(`[chromium page error] ${e.message}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/vite/.test(m.text())) console.log(`[chromium console] ${m.text()}`);
    });
    page.on('download', (d) => void d.saveAs(join(this.downloadsDir, d.suggestedFilename())).catch(() => {}));
  }

  async fill(selector: string, value: string) {
    const el = await this.handle(selector);
    await el.fill('');
    await el.type(value);
    await el.dispose();
  }
  async select(selector: string, value: string) {
    const el = await this.handle(selector);
    await el.selectOption(value);
    await el.dispose();
  }
  async setFile(selector: string, path: string) {
    const el = await this.handle(selector);
    await el.setInputFiles(path);
    await el.dispose();
  }
  async screenshot(path: string) {
    await this.page.screenshot({ path, fullPage: true });
  }
  private cdp?: { page: CPage; session: Awaited<ReturnType<CContext['newCDPSession']>> };
  /** One DevTools session per page: emulation set on a session ends with it. */
  private async session() {
    if (this.cdp?.page !== this.page) this.cdp = { page: this.page, session: await this.ctx.newCDPSession(this.page) };
    return this.cdp.session;
  }
  async setViewport(width: number, height: number, o: { touch?: boolean } = {}) {
    await this.page.setViewportSize({ width, height });
    // DevTools' touch emulation: touch events, maxTouchPoints and (pointer: coarse), as on a phone.
    await (
      await this.session()
    ).send('Emulation.setTouchEmulationEnabled', { enabled: !!o.touch, maxTouchPoints: o.touch ? 5 : 1 });
  }
  async swipe(selector: string, dy: number) {
    const r = await this.middle(selector);
    const cdp = await this.session();
    const at = (y: number) => [{ x: r.x, y }];
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(r.y + dy / 2) });
    for (let i = 1; i <= 5; i++)
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(r.y + dy / 2 - (dy * i) / 5) });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  }
  async close() {
    await this.browser.close().catch(() => {});
    rmSync(this.downloadsDir, { recursive: true, force: true });
  }
}

export async function launchEngine(engine: EngineName, o: Partial<LaunchOptions> = {}): Promise<EngineDriver> {
  const opts: LaunchOptions = { viewport: { width: 1280, height: 860 }, ...o };
  if (engine === 'chromium') return ChromiumDriver.launch(opts);
  return engine === 'firefox' ? FirefoxDriver.launch(opts) : WebKitDriver.launch(opts);
}
