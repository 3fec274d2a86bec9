// The app's entry: start the node Worker, read the embedded defaults (the demo tailnet writes
// /tailtab-config.json), and mount <tailtab-app>.
// The page's stylesheet (xterm.js's rules included), bundled by Vite.
import './global.css';
import './app.js';
import type { TailtabApp } from './app.js';
import { missingRequirement } from './features.js';
import { createNodeClient, sharesNodeAcrossWindows } from './node-client.js';
import type { ConnectDefaults } from './views/connect.js';

async function loadDefaults(): Promise<ConnectDefaults & { autoConnect?: boolean; proxyOrigin?: string }> {
  try {
    const res = await fetch('/tailtab-config.json', { cache: 'no-store' });
    if (!res.ok) return {};
    return (await res.json()) as ConnectDefaults & { autoConnect?: boolean; proxyOrigin?: string };
  } catch {
    return {};
  }
}

const defaults = await loadDefaults();
// A relative control URL ("/") in the config means this page's own origin (the demo's server
// forwards the control paths), so the same config works under any name the page is opened by.
if (defaults.controlUrl) {
  try {
    defaults.controlUrl = new URL(defaults.controlUrl, location.href).href.replace(/\/$/, '');
  } catch {
    /* left as given: the connect form shows it and says what is wrong */
  }
}
const params = new URLSearchParams(location.search);
if (params.get('ephemeral') === '1') defaults.ephemeral = true;
// ?fresh=1: the first-visit form as a new user meets it (server filled in, no key, no auto-connect).
if (params.get('fresh') === '1') {
  defaults.autoConnect = false;
  delete defaults.authKey;
}
// Created here (not in index.html) so the node and defaults are in place before it connects.
const app = document.createElement('tailtab-app') as TailtabApp;
app.defaults = defaults;
// A browser without what tailtab cannot run without gets that said, not a node that throws.
app.unsupported = missingRequirement();
app.sharedNode = sharesNodeAcrossWindows();
if (!app.unsupported) app.node = createNodeClient();
document.body.prepend(app);
