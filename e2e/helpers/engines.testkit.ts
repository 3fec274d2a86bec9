// Other browser engines than Chromium, from Debian packages, behind one small driver so a journey
// is written once and run per engine:
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
import puppeteer, { type Browser as PBrowser, type ElementHandle, type Page as PPage } from 'puppeteer-core';
import { Builder, Key, type WebDriver, type WebElement } from 'selenium-webdriver';
import { freePort } from './browser.testkit.js';

export type EngineName = 'firefox' | 'webkit';
export const ENGINES: EngineName[] = ['firefox', 'webkit'];

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
  screenshot(path: string): Promise<void>;
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
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// --- Firefox over WebDriver BiDi (puppeteer-core) --------------------------------------------

class FirefoxDriver implements EngineDriver {
  readonly engine = 'firefox' as const;
  constructor(
    private browser: PBrowser,
    private page: PPage,
    readonly version: string,
    readonly downloadsDir: string,
  ) {}

  static async launch(o: { viewport: { width: number; height: number } }): Promise<FirefoxDriver> {
    if (!existsSync(FIREFOX)) throw new Error(`Firefox not found at ${FIREFOX}: run scripts/install.sh (apt-get install firefox-esr)`);
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
      },
    });
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => console.log(`[firefox page error] ${e instanceof Error ? e.message : String(e)}`));
    page.on('console', (m) => { if (m.type() === 'error') console.log(`[firefox console] ${m.text()}`); });
    return new FirefoxDriver(browser, page, await browser.version(), downloadsDir);
  }

  private async handle(selector: string): Promise<ElementHandle<Element>> {
    const h = await this.page.evaluateHandle(`${deep(selector)}[0] ?? null`);
    const el = h.asElement() as ElementHandle<Element> | null;
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
  async click(selector: string) {
    const el = await this.handle(selector);
    await el.click();
    await el.dispose();
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
  async keys(text: string) {
    await this.page.keyboard.type(text);
  }
  async screenshot(path: string) {
    await this.page.screenshot({ path: path as `${string}.png`, fullPage: true });
  }
  async close() {
    await this.browser.close().catch(() => {});
    rmSync(this.downloadsDir, { recursive: true, force: true });
  }
}

// --- WebKitGTK over WebDriver (selenium-webdriver, WebKitWebDriver, MiniBrowser, Xvfb) -------

class WebKitDriver implements EngineDriver {
  readonly engine = 'webkit' as const;
  constructor(
    private driver: WebDriver,
    readonly version: string,
    private procs: ChildProcess[],
    private tmp: string,
  ) {}

  static async launch(o: { viewport: { width: number; height: number } }): Promise<WebKitDriver> {
    for (const [path, pkg] of [[WEBKIT_DRIVER, 'webkit2gtk-driver'], [MINIBROWSER, 'webkit2gtk-driver (libwebkit2gtk-4.1-0)'], [XVFB, 'xvfb']]) {
      if (!existsSync(path)) throw new Error(`${path} not found: run scripts/install.sh (apt-get install ${pkg})`);
    }
    const tmp = mkdtempSync(join(tmpdir(), 'tailtab-webkit-'));
    const procs: ChildProcess[] = [];
    const stop = () => { for (const p of procs) try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } };
    try {
      // A display of our own: Xvfb picks a free number and prints it on the given fd.
      const xvfb = spawn(XVFB, ['-displayfd', '3', '-screen', '0', `${o.viewport.width}x${o.viewport.height + 100}x24`, '-nolisten', 'tcp'], {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        detached: true,
      });
      procs.push(xvfb);
      let xerr = '';
      xvfb.stderr!.on('data', (d) => (xerr += d));
      const display = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const t = setTimeout(() => reject(new Error(`Xvfb did not start in 20 s:\n${xerr}`)), 20_000);
        (xvfb.stdio[3] as NodeJS.ReadableStream).on('data', (d) => {
          buf += d;
          if (buf.includes('\n')) { clearTimeout(t); resolve(':' + buf.trim()); }
        });
        xvfb.once('exit', (c) => { clearTimeout(t); reject(new Error(`Xvfb exited (${c}):\n${xerr}`)); });
      });
      const port = await freePort();
      const env = { ...process.env, DISPLAY: display, HOME: tmp, XDG_RUNTIME_DIR: tmp, XDG_CACHE_HOME: join(tmp, 'cache'), XDG_DATA_HOME: join(tmp, 'data'), NO_AT_BRIDGE: '1' };
      const wd = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      procs.push(wd);
      let wdOut = '';
      wd.stdout!.on('data', (d) => (wdOut += d));
      wd.stderr!.on('data', (d) => (wdOut += d));
      await poll('WebKitWebDriver', async () => {
        if (wd.exitCode !== null) throw new Error(`WebKitWebDriver exited:\n${wdOut}`);
        const r = await fetch(`http://127.0.0.1:${port}/status`);
        return r.ok ? true : undefined;
      }, 20_000);
      const driver = await new Builder()
        .usingServer(`http://127.0.0.1:${port}`)
        .withCapabilities({
          browserName: 'MiniBrowser',
          'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
        })
        .build();
      await driver.manage().window().setRect({ width: o.viewport.width, height: o.viewport.height, x: 0, y: 0 }).catch(() => {});
      const caps = await driver.getCapabilities();
      return new WebKitDriver(driver, `${String(caps.get('browserName'))}/${String(caps.get('browserVersion'))}`, procs, tmp);
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

  async goto(url: string) {
    await this.driver.get(url);
  }
  async reload() {
    await this.driver.navigate().refresh();
  }
  async evaluate<T>(expression: string): Promise<T> {
    // WebDriver awaits a returned promise.
    return (await this.driver.executeScript(`return (async () => (${expression}))();`)) as T;
  }
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
    await this.driver.actions().sendKeys(...seq).perform();
  }
  async screenshot(path: string) {
    writeFileSync(path, Buffer.from(await this.driver.takeScreenshot(), 'base64'));
  }
  async close() {
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

export async function launchEngine(engine: EngineName, o: { viewport?: { width: number; height: number } } = {}): Promise<EngineDriver> {
  const viewport = o.viewport ?? { width: 1280, height: 860 };
  return engine === 'firefox' ? FirefoxDriver.launch({ viewport }) : WebKitDriver.launch({ viewport });
}
