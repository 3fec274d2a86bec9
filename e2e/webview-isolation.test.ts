// The web view's proxied apps each run on an origin of their own (src/ui/proxy-origin.ts:
// p<port>-<machine>.proxy.tailtab.localhost): the app loads and works through the tailnet, but its
// scripts cannot reach tailtab's IndexedDB (node keys, SSH keys), another app's pages or the
// cookies the node holds for it, the node's port, or tailtab's top window; tailtab's own origin
// refuses to serve /proxy/ at all.
// Real parts: Headscale, two derpers and two tailscaled peers from the rig; Chromium; our app
// served by vite and opened as http://tailtab.localhost:<port> (the demo's name).
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { INDEX_TITLE, WS_TITLE, startRig, type Rig } from './rig/index.js';

describe('web view isolation: proxied apps on their own origin', () => {
  let rig: Rig;
  let app: AppServer;
  let browser: Browser;
  let page: Page;
  let appUrl = '';
  const cspViolations: string[] = [];

  beforeAll(async () => {
    rig = await startRig({
      peers: [
        { name: 'peer1', homeRegion: 900 },
        { name: 'peer2', homeRegion: 901 },
      ],
    });
    const configPath = join(rig.dir, 'isolation-config.json');
    writeFileSync(configPath, '{}');
    app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    appUrl = app.url.replace('127.0.0.1', 'tailtab.localhost');
    writeFileSync(
      configPath,
      JSON.stringify({
        controlUrl: '/',
        authKey: rig.authKey,
        hostname: 'iso-browser',
        autoConnect: true,
        allowInsecureDerp: true,
      }),
    );
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.on('console', (m) => {
      // Tailtab's pages only: a proxied app's own CSP (the rig's app sends one) refusing its own
      // requests is that app's business, not a flaw of ours.
      const from = m.location().url;
      if (/Content Security Policy/.test(m.text()) && (from.startsWith(appUrl) || from.includes('/proxy-host.html')))
        cspViolations.push(`${from}: ${m.text()}`);
      if (m.type() === 'error' || m.type() === 'warning') console.log(`[page] ${m.text()}`);
    });
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.stop();
    await rig?.stop();
  });

  it("shows the peer's web app from the proxy origin, and that app cannot see tailtab's storage", async () => {
    await page.goto(appUrl + '/#machines');
    await expect.poll(() => page.locator('tt-machines tr[data-peer="peer1"]').count(), { timeout: 90_000 }).toBe(1);
    const dbsHere = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    // A remembered (not ephemeral) login: the node's keys are in this origin's IndexedDB.
    expect(dbsHere.some((n) => n?.startsWith('tailtab'))).toBe(true);

    await page.goto(appUrl + '/#web');
    await page.locator('tt-webview #address').fill(`http://${rig.peer('peer1').ipv4}:${rig.httpPort}/`);
    await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
    const iframe = page.locator('tt-webview iframe');
    await expect
      .poll(() => iframe.count(), { timeout: 30_000 })
      .toBe(1)
      .catch(async (e) => {
        throw new Error(
          `no web view frame; the page says: ${await page.locator('tt-webview').evaluate((e) => e.shadowRoot?.textContent ?? '')}\n${await page.goto(appUrl + '/#status').then(() => page.locator('tt-status').evaluate((e) => e.shadowRoot?.textContent ?? ''))}`,
          { cause: e },
        );
      });
    const label = `p${rig.httpPort}-${rig.peer('peer1').ipv4.replace(/\./g, '-')}`;
    await expect
      .poll(() => iframe.getAttribute('src'), { timeout: 60_000 })
      .toMatch(new RegExp(`^http://${label}\\.proxy\\.tailtab\\.localhost:\\d+/proxy/`));
    // No "shares tailtab's origin" warning when isolated.
    expect(await page.locator('tt-webview').innerText()).not.toMatch(/shares tailtab's own origin/);

    const frame = page.frameLocator('tt-webview iframe');
    await expect
      .poll(
        () =>
          frame
            .locator('title')
            .textContent({ timeout: 2000 })
            .catch(() => ''),
        { timeout: 60_000 },
      )
      .toBe(INDEX_TITLE);
    const seen = await frame.locator('html').evaluate(async () => ({
      origin: location.origin,
      dbs: (await indexedDB.databases()).map((d) => d.name),
      parentReadable: (() => {
        try {
          return !!window.parent.document;
        } catch {
          return false;
        }
      })(),
    }));
    expect(seen.origin).toMatch(new RegExp(`^http://${label}\\.proxy\\.tailtab\\.localhost:\\d+$`));
    expect(seen.dbs).not.toContain('tailtab');
    expect(seen.dbs).not.toContain('tailtab-control');
    expect(seen.parentReadable).toBe(false);
    const imgOk = await frame
      .locator('img')
      .first()
      .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0);
    expect(imgOk).toBe(true);
  });

  it('a WebSocket the proxied page opens (relative to itself) reaches the peer through the node: text, bytes, a Blob and 100 kB echo, 2 MiB arrive past the flow-control window, and it closes cleanly', async () => {
    // The rig web server's /app/ws/ page: its script does new WebSocket(ws://<its host>/app/ws/echo).
    // Its host is our proxy origin; the frame script's shim tunnels it through the Service
    // Worker's node port to our node, which speaks RFC 6455 to the `ws` echo server over the tailnet.
    const started = Date.now();
    await page.locator('tt-webview #address').fill(`http://${rig.peer('peer1').ipv4}:${rig.httpPort}/app/ws/`);
    await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
    const frame = page.frameLocator('tt-webview iframe');
    const text = (sel: string) =>
      frame
        .locator(sel)
        .textContent({ timeout: 2000 })
        .catch(() => '');
    const echoed = async () => {
      await expect
        .poll(
          () =>
            frame
              .locator('title')
              .textContent({ timeout: 2000 })
              .catch(() => ''),
          { timeout: 60_000 },
        )
        .toBe(WS_TITLE);
      await expect.poll(() => text('#ws-closed'), { timeout: 60_000 }).not.toBe('');
      expect(await text('#ws-state')).toBe('open, protocol echo.v1');
      expect(await text('#ws-text')).toBe('text: hello über tailnet');
      expect(await text('#ws-binary')).toBe('binary: 0,1,2,253,254,255');
      expect(await text('#ws-blob')).toBe('blob: blob says hi');
      expect(await text('#ws-big')).toBe('big: 100000 bytes, sum 700000');
      expect(await text('#ws-flood')).toBe('flood: 2097152 bytes');
      expect(await text('#ws-closed')).toBe('closed 1000 done clean=true');
      expect(await text('#ws-error')).toBe('');
    };
    await echoed();
    console.log(
      `web view WebSocket page: loaded, 4 echoes, 2 MiB flood and closed ${Date.now() - started} ms after Go`,
    );
    // A reload of the frame: its address is now the app's own path (no /proxy/ in it), and the
    // page's WebSocket still finds its host.
    await frame.locator('html').evaluate(() => {
      document.title = 'before reload';
      location.reload();
    });
    await echoed();
    expect(await frame.locator('html').evaluate(() => location.pathname)).toBe('/app/ws/');
    // Only the app's own URLs are tunnelled: another origin gets the browser's real WebSocket.
    const kinds = await frame.locator('html').evaluate(() => {
      const other = new WebSocket('ws://127.0.0.1:9/');
      other.close();
      const own = new WebSocket('/app/ws/echo');
      own.close();
      return {
        otherNative: !(other instanceof WebSocket),
        ownShim: own instanceof WebSocket,
        url: own.url,
        tag: Object.prototype.toString.call(own),
        open: WebSocket.OPEN,
      };
    });
    expect(kinds.otherNative).toBe(true);
    expect(kinds.ownShim).toBe(true);
    expect([kinds.tag, kinds.open]).toEqual(['[object WebSocket]', 1]);
    expect(kinds.url).toMatch(/^ws:\/\/p\d+-[\d-]+\.proxy\.tailtab\.localhost:\d+\/app\/ws\/echo$/);
    // What apps rely on besides echoes: a Blob by default, bufferedAmount, the browser's
    // argument checks, a server close code coming back, and a refused upgrade as error + 1006.
    const api = await frame.locator('html').evaluate(async () => {
      const errors: string[] = [];
      const blob = await new Promise<Record<string, unknown>>((resolve) => {
        const w = new WebSocket('echo', 'echo.v1');
        try {
          w.send('too early');
        } catch (e) {
          errors.push((e as DOMException).name);
        }
        try {
          w.close(1001);
        } catch (e) {
          errors.push((e as DOMException).name);
        }
        let buffered = -1;
        w.onopen = () => {
          w.send(new Uint16Array([1, 0x0302]));
          buffered = w.bufferedAmount;
        };
        w.onmessage = async (e) => {
          const bytes =
            e.data instanceof Blob ? Array.from(new Uint8Array(await e.data.arrayBuffer())).join(',') : 'not a Blob';
          w.addEventListener('close', (c) =>
            resolve({
              bytes,
              buffered,
              after: w.bufferedAmount,
              code: c.code,
              reason: c.reason,
              clean: c.wasClean,
              state: w.readyState,
            }),
          );
          w.close(4000, 'client done');
        };
      });
      const refused = await new Promise<string>((resolve) => {
        const w = new WebSocket('/app/no-such-socket');
        const seen: string[] = [];
        w.onerror = () => seen.push('error');
        w.onclose = (c) => resolve([...seen, `close ${c.code} clean=${c.wasClean}`].join(' '));
      });
      return { errors, blob, refused };
    });
    expect(api.errors).toEqual(['InvalidStateError', 'InvalidAccessError']);
    expect(api.blob).toEqual({
      bytes: '1,0,2,3',
      buffered: 4,
      after: 0,
      code: 4000,
      reason: 'client done',
      clean: true,
      state: 3,
    });
    expect(api.refused).toBe('error close 1006 clean=false');
  });

  it("tailtab's own origin does not serve /proxy/", async () => {
    const res = await page.goto(`${appUrl}/proxy/${rig.peer('peer1').ipv4}/${rig.httpPort}/`);
    expect(await page.title()).not.toBe(INDEX_TITLE);
    expect(res?.status()).toBe(404);
    expect(await page.locator('body').innerText()).toMatch(/web view is off/);
  });

  it("tailtab's own origin (its worker with the proxy off) streams a download to disk under a one-time id, with a UTF-8 name", async () => {
    await page.goto(appUrl + '/');
    await page.waitForFunction(() => !!navigator.serviceWorker.controller, undefined, { timeout: 30_000 });
    const name = 'résumé (v2).bin';
    const size = 5 * 1024 * 1024 + 7;
    // The page side of src/ui/sw-download.ts, by hand: a generated stream (never a whole buffer)
    // handed to the worker, then a hidden frame opening the route.
    const [download, id] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      page.evaluate(
        async ({ name, size }) => {
          let sent = 0;
          const stream = new ReadableStream<Uint8Array>(
            {
              pull(c) {
                const n = Math.min(64 * 1024, size - sent);
                if (n === 0) return c.close();
                const b = new Uint8Array(n);
                for (let i = 0; i < n; i++) b[i] = (sent + i) & 0xff;
                sent += n;
                c.enqueue(b);
              },
            },
            { highWaterMark: 0 },
          );
          const id = crypto.randomUUID();
          const ch = new MessageChannel();
          const ready = new Promise((r) => (ch.port1.onmessage = (e) => r(e.data.type)));
          navigator.serviceWorker.controller!.postMessage({ type: 'tailtab-download', id, name, size, stream }, [
            ch.port2,
            stream as unknown as Transferable,
          ]);
          if ((await ready) !== 'ready') throw new Error('not taken');
          const f = document.createElement('iframe');
          f.hidden = true;
          f.src = `/__tailtab/download/${id}/x`;
          document.body.appendChild(f);
          return id;
        },
        { name, size },
      ),
    ]);
    expect(download.url()).toBe(`${appUrl}/__tailtab/download/${id}/x`);
    // The name comes from the worker's Content-Disposition filename* (RFC 6266), not from the URL.
    expect(download.suggestedFilename()).toBe(name);
    const got = readFileSync((await download.path())!);
    expect(got.length).toBe(size);
    expect(got.every((b, i) => b === (i & 0xff))).toBe(true);
    // Served once: the same URL again, or a made-up id, finds nothing.
    expect(await page.evaluate((u) => fetch(u).then((r) => r.status), download.url())).toBe(404);
    expect(
      await page.evaluate(() =>
        fetch('/__tailtab/download/00000000-0000-4000-8000-000000000000/x').then((r) => r.status),
      ),
    ).toBe(404);
  });

  // The attacker is a tailnet web app the person opens in the web view (peer1's), after having
  // logged in to another one (peer2's). Its scripts are played here by evaluating inside its frame:
  // exactly what a script of its own could do there.
  it("a hostile app cannot read another app's logged-in pages, slip the Service Worker a port of its own, or navigate tailtab away", async () => {
    const [p1, p2] = [rig.peer('peer1').ipv4, rig.peer('peer2').ipv4];
    const open = async (url: string) => {
      await page.goto(appUrl + '/#web');
      await page.locator('tt-webview #address').fill(url);
      await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
      const frame = page.frameLocator('tt-webview iframe');
      await expect
        .poll(
          () =>
            frame
              .locator('title')
              .textContent({ timeout: 2000 })
              .catch(() => ''),
          { timeout: 60_000 },
        )
        .not.toBe('');
      return frame;
    };
    // The victim: peer2's app, logged in (its form sets an HttpOnly session cookie the node keeps).
    const secret = `secret-${Date.now()}`;
    const victim = await open(`http://${p2}:${rig.httpPort}/app/`);
    await victim.locator('input[name=message]').fill(secret);
    await victim.locator('form button, form input[type=submit]').first().click();
    await expect
      .poll(
        () =>
          victim
            .locator('#cookie')
            .textContent({ timeout: 2000 })
            .catch(() => ''),
        { timeout: 30_000 },
      )
      .toBe(secret)
      .catch(async (e) => {
        throw new Error(
          `the victim's form post did not come back logged in; its frame shows: ${await victim
            .locator('body')
            .innerText({ timeout: 2000 })
            .catch(() => '(nothing)')}`,
          { cause: e },
        );
      });
    const victimOrigin = await victim.locator('html').evaluate(() => location.origin);

    // The attacker: peer1's app, on its own origin.
    const evil = await open(`http://${p1}:${rig.httpPort}/app/`);
    const attempts = await evil.locator('html').evaluate(
      async (_html, { p2, port, victimOrigin, secret }) => {
        const out: Record<string, unknown> = { origin: location.origin };
        // 1. The victim's logged-in page through this origin's proxy path.
        const r = await fetch(`/proxy/${p2}/${port}/app/result`, { credentials: 'include' });
        const body = await r.text();
        out.sameOriginProxy = { status: r.status, leaked: body.includes(secret) };
        // 2. The victim's own origin, directly (its Service Worker does not serve other origins' fetches).
        out.crossOrigin = await fetch(`${victimOrigin}/proxy/${p2}/${port}/app/result`, {
          credentials: 'include',
        }).then(
          async (x) => ({ read: true, leaked: (await x.text()).includes(secret) }),
          () => ({ read: false, leaked: false }),
        );
        // 3. A node port of its own making, handed to the Service Worker like the proxy-host frame does.
        const ch = new MessageChannel();
        let hijacked = 0;
        ch.port1.onmessage = () => {
          hijacked++;
        };
        navigator.serviceWorker.controller?.postMessage({ type: 'tailtab-node-port' }, [ch.port2]);
        await new Promise((res) => setTimeout(res, 300));
        const after = await fetch('/app/', { cache: 'no-store' });
        await new Promise((res) => setTimeout(res, 1000));
        out.fakePort = { hijacked, stillServed: after.status };
        // 4. tailtab's storage and page.
        out.dbs = (await indexedDB.databases()).map((d) => d.name);
        out.parentReadable = (() => {
          try {
            return !!window.parent.document.title;
          } catch {
            return false;
          }
        })();
        // 5. A button that navigates tailtab's top window when clicked (a user gesture in the frame).
        const b = document.createElement('button');
        b.id = 'evil-top';
        b.textContent = 'evil';
        b.onclick = () => {
          try {
            (window.top as Window).location.href = 'http://evil.localhost/';
          } catch (e) {
            b.dataset.refused = String(e);
          }
        };
        document.body.append(b);
        return out;
      },
      { p2, port: rig.httpPort, victimOrigin, secret },
    );
    expect(attempts.origin).not.toBe(victimOrigin);
    expect(attempts.sameOriginProxy).toEqual({ status: 403, leaked: false });
    expect(attempts.crossOrigin).toMatchObject({ leaked: false });
    expect(attempts.fakePort).toEqual({ hijacked: 0, stillServed: 200 });
    expect(attempts.dbs).toEqual([]);
    expect(attempts.parentReadable).toBe(false);
    const before = page.url();
    await evil.locator('#evil-top').click();
    await new Promise((r) => setTimeout(r, 1500));
    expect(page.url()).toBe(before);
    // The victim app still works normally for the person (its session intact).
    const again = await open(`http://${p2}:${rig.httpPort}/app/result`);
    expect(await again.locator('#cookie').textContent()).toBe(secret);
  });

  it('where no separate origin exists (127.0.0.1), the web view shows nothing until the person accepts the risk for the session', async () => {
    const other = await (await browser.newContext()).newPage();
    await other.goto(app.url + '/#machines');
    await expect.poll(() => other.locator('tt-machines tr[data-peer="peer1"]').count(), { timeout: 90_000 }).toBe(1);
    await other.goto(app.url + '/#web');
    await other.locator('tt-webview #address').fill(`http://${rig.peer('peer1').ipv4}:${rig.httpPort}/`);
    await other.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
    const text = () => other.locator('tt-webview').evaluate((e) => e.shadowRoot?.textContent ?? '');
    await expect.poll(text, { timeout: 30_000 }).toMatch(/would share tailtab's own origin/);
    expect(await other.locator('tt-webview iframe').count()).toBe(0);
    await other.locator('tt-webview').getByRole('button', { name: 'Show it anyway for this session' }).click();
    const frame = other.frameLocator('tt-webview iframe');
    await expect
      .poll(
        () =>
          frame
            .locator('title')
            .textContent({ timeout: 2000 })
            .catch(() => ''),
        { timeout: 60_000 },
      )
      .toBe(INDEX_TITLE);
    expect(await text()).toMatch(/shares tailtab's own origin/);
    await other.context().close();
  });

  // The widget on a vendor's page (widget-demo.html): the device's web page through a Service
  // Worker scoped to /proxy/, which never controls, caches or reroutes the vendor's own pages.
  it("the widget shows a device's web page without taking over the vendor's origin", async () => {
    const cfgPath = join(rig.dir, 'isolation-config.json');
    const before = readFileSync(cfgPath, 'utf8');
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...JSON.parse(before),
        controlUrl: '/',
        widgetAuthKey: await rig.createAuthKey({ ephemeral: true, reusable: true }),
        widgetTarget: rig.peer('peer1').ipv4,
        widgetPort: rig.httpPort,
        widgetMode: 'http',
      }),
    );
    const vendor = await (await browser.newContext()).newPage();
    try {
      await vendor.goto(app.url + '/widget-demo.html?autostart');
      const frame = vendor.frameLocator('tailtab-connect iframe');
      await expect
        .poll(
          () =>
            frame
              .locator('title')
              .textContent({ timeout: 2000 })
              .catch(() => ''),
          { timeout: 90_000 },
        )
        .toBe(INDEX_TITLE);
      const seen = await vendor.evaluate(async () => ({
        scopes: (await navigator.serviceWorker.getRegistrations()).map((r) => new URL(r.scope).pathname),
        controlsVendorPage: !!navigator.serviceWorker.controller,
        // Anything kept besides the worker's own frame→device map (/__tailtab/map/…) would be the vendor's.
        cached: (
          await Promise.all(
            (await caches.keys()).map(async (k) =>
              (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname),
            ),
          )
        )
          .flat()
          .filter((p) => !p.startsWith('/__tailtab/map/')),
      }));
      expect(seen).toEqual({ scopes: ['/proxy/'], controlsVendorPage: false, cached: [] });
      // A reload of the vendor's page is the vendor's, not the worker's.
      await vendor.reload();
      expect(await vendor.evaluate(() => !!navigator.serviceWorker.controller)).toBe(false);
      expect(await vendor.title()).toMatch(/Acme/);
    } finally {
      writeFileSync(cfgPath, before);
      await vendor.context().close();
    }
  });

  // The recommended setup: <tailtab-connect proxy-origin=…>. The device's page runs on its own
  // origin under the proxy origin (the app's per-target scheme), so the device — here the rig's
  // app, whose scripts are played by evaluating inside its frame — is a stranger to the vendor's
  // page: none of the vendor's storage, cookies or IndexedDB, no access to its document, and no
  // Service Worker of tailtab's on the vendor's origin at all.
  it("with proxy-origin, the widget shows the device's page on its own origin, and that page cannot read the vendor's storage", async () => {
    const cfgPath = join(rig.dir, 'isolation-config.json');
    const before = readFileSync(cfgPath, 'utf8');
    const vendorOrigin = new URL(appUrl).origin;
    const proxyOrigin = `http://proxy.${new URL(appUrl).host}`;
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...JSON.parse(before),
        controlUrl: '/',
        widgetAuthKey: await rig.createAuthKey({ ephemeral: true, reusable: true }),
        widgetTarget: rig.peer('peer1').ipv4,
        widgetPort: rig.httpPort,
        widgetMode: 'http',
        widgetProxyOrigin: proxyOrigin,
      }),
    );
    const vendor = await (await browser.newContext()).newPage();
    vendor.on('console', (m) => {
      const from = m.location().url;
      if (
        /Content Security Policy/.test(m.text()) &&
        (from.startsWith(vendorOrigin) || from.includes('/proxy-host.html'))
      )
        cspViolations.push(`${from}: ${m.text()}`);
      if (m.type() === 'error' || m.type() === 'warning') console.log(`[vendor] ${m.text()}`);
    });
    try {
      // The vendor's page (on tailtab.localhost here: the same site as the proxy origin, as a
      // vendor would use proxy.<its domain>) keeps things of its own.
      await vendor.goto(appUrl + '/widget-demo.html?autostart');
      const secret = `vendor-${Date.now()}`;
      await vendor.evaluate(async (secret) => {
        localStorage.setItem('vendor-secret', secret);
        sessionStorage.setItem('vendor-secret', secret);
        document.cookie = `vendor_session=${secret}; path=/`;
        await new Promise((resolve, reject) => {
          const r = indexedDB.open('vendor-db');
          r.onsuccess = () => {
            r.result.close();
            resolve(null);
          };
          r.onerror = () => reject(r.error);
        });
      }, secret);
      const iframe = vendor.locator('tailtab-connect iframe');
      await expect
        .poll(() => iframe.count(), { timeout: 90_000 })
        .toBe(1)
        .catch(async (e) => {
          throw new Error(
            `no device frame; the widget says: ${await vendor.locator('tailtab-connect').evaluate((el) => el.shadowRoot?.textContent ?? '')}`,
            { cause: e },
          );
        });
      const label = `p${rig.httpPort}-${rig.peer('peer1').ipv4.replace(/\./g, '-')}`;
      const deviceOrigin = `http://${label}.${new URL(proxyOrigin).host}`;
      expect(await iframe.getAttribute('src')).toMatch(new RegExp(`^${deviceOrigin.replace(/\./g, '\\.')}/proxy/`));
      expect(await iframe.getAttribute('sandbox')).not.toMatch(/allow-top-navigation/);
      const frame = vendor.frameLocator('tailtab-connect iframe');
      await expect
        .poll(
          () =>
            frame
              .locator('title')
              .textContent({ timeout: 2000 })
              .catch(() => ''),
          { timeout: 60_000 },
        )
        .toBe(INDEX_TITLE);
      expect(
        await frame
          .locator('img')
          .first()
          .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
      ).toBe(true);

      // What a script of the device's page can see of the vendor's.
      const seen = await frame.locator('html').evaluate(
        async (_html, secret) => ({
          origin: location.origin,
          local: Object.keys(localStorage)
            .map((k) => localStorage.getItem(k))
            .filter((v) => v === secret).length,
          session: Object.keys(sessionStorage)
            .map((k) => sessionStorage.getItem(k))
            .filter((v) => v === secret).length,
          cookie: document.cookie.includes(secret),
          dbs: (await indexedDB.databases()).map((d) => d.name),
          parentReadable: (() => {
            try {
              return !!window.parent.document.title;
            } catch {
              return false;
            }
          })(),
          parentStorage: (() => {
            try {
              return (window.parent as Window).localStorage.getItem('vendor-secret');
            } catch {
              return null;
            }
          })(),
        }),
        secret,
      );
      expect(seen).toEqual({
        origin: deviceOrigin,
        local: 0,
        session: 0,
        cookie: false,
        dbs: [],
        parentReadable: false,
        parentStorage: null,
      });

      // The vendor's origin: its storage is still its own, and tailtab registered nothing there.
      const vendorSide = await vendor.evaluate(async () => ({
        registrations: (await navigator.serviceWorker.getRegistrations()).map((r) => r.scope),
        controlled: !!navigator.serviceWorker.controller,
        secret: localStorage.getItem('vendor-secret'),
        dbs: (await indexedDB.databases()).map((d) => d.name),
        cacheNames: await caches.keys(),
      }));
      expect(vendorSide).toMatchObject({ registrations: [], controlled: false, secret, cacheNames: [] });
      expect(vendorSide.dbs).toContain('vendor-db');
      expect(await vendor.title()).toMatch(/Acme/);
    } finally {
      writeFileSync(cfgPath, before);
      await vendor.context().close();
    }
  });

  // The journeys above ran under the CSP the server sends (scripts/csp.ts); a policy that broke
  // them would show here as violations, and a missing header as its absence.
  it("every page above carried tailtab's Content-Security-Policy and broke none of it", async () => {
    expect(cspViolations).toEqual([]);
    // As the browser asks: by name (Host), on the server's loopback address.
    const cspFor = (host: string, path: string) =>
      new Promise<string>((resolve, reject) => {
        const u = new URL(app.url);
        httpGet({ host: u.hostname, port: Number(u.port), path, headers: { host } }, (res) => {
          res.resume();
          resolve(String(res.headers['content-security-policy'] ?? ''));
        }).on('error', reject);
      });
    const appHost = new URL(appUrl).host;
    expect(await cspFor(appHost, '/')).toMatch(/script-src 'self';.*frame-ancestors 'none'/);
    expect(await cspFor(appHost, '/src/ui/main.ts')).toMatch(/script-src 'self'/);
    expect(await cspFor(`p80-x.proxy.${appHost}`, '/proxy-host.html')).toMatch(
      new RegExp(`frame-ancestors ${appUrl.replace(/[.]/g, '[.]')}$`),
    );
  });

  // Last: it wipes the session. The apps' own origins keep a Service Worker (and whatever the app
  // stored); "Wipe everything" must not leave those behind either.
  it('"Wipe everything" also unregisters the Service Workers of the apps\' own origins, those of earlier visits too', async () => {
    const appOrigin = `http://p${rig.httpPort}-${rig.peer('peer1').ipv4.replace(/\./g, '-')}.proxy.${new URL(appUrl).host}`;
    const registrations = async () => {
      const probe = await page.context().newPage();
      try {
        await probe.goto(`${appOrigin}/proxy-host.html`); // without #app its script does nothing
        return await probe.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length);
      } finally {
        await probe.close();
      }
    };
    // The app was shown in this browser: its origin has a worker now.
    await page.goto(appUrl + '/#web');
    await page.locator('tt-webview #address').fill(`http://${rig.peer('peer1').ipv4}:${rig.httpPort}/`);
    await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
    await expect
      .poll(
        () =>
          page
            .frameLocator('tt-webview iframe')
            .locator('title')
            .textContent({ timeout: 2000 })
            .catch(() => ''),
        { timeout: 60_000 },
      )
      .toBe(INDEX_TITLE);
    expect(await registrations()).toBe(1);
    // A later visit: this page has no frame on that origin open, yet Wipe must reach it.
    await page.reload();
    await page.goto(appUrl + '/#settings');
    page.once('dialog', (d) => void d.accept());
    const reloaded = page.waitForEvent('load', { timeout: 30_000 });
    await page.getByRole('button', { name: 'Wipe everything' }).click();
    await reloaded;
    expect(await registrations()).toBe(0);
  });
});
