// The SSH host-key pieces the terminal and the Files view share: the first-contact question
// (ssh(1)'s "authenticity of host … can't be established", asked in the page while the Worker
// waits) and the one-line note saying how the connected host's key was checked.
import { html, type TemplateResult } from 'lit';
import type { HostKeyPrompt, HostKeyVerdict } from '../../app/node-api.js';

export type PendingHostKeyPrompt = HostKeyPrompt & { answer: (ok: boolean) => void };

/** How the host key of an open session was vouched for, in words. */
export function hostKeyNote(hostKey: HostKeyVerdict): string {
  switch (hostKey.verdict) {
    case 'tailnet':
      return 'Tailscale SSH: the tailnet vouches for this host; no host key pinned.';
    case 'tailnet-pinned':
      return `Tailscale SSH: the host key ${hostKey.fingerprint} matches the one this machine published to the tailnet.`;
    case 'first-use':
      return `First connection: host key ${hostKey.fingerprint} remembered.`;
    default:
      return `Host key ${hostKey.fingerprint} matches the one remembered.`;
  }
}

/** The trust-on-first-use question; `idPrefix` keeps its ARIA ids unique within one page. */
export function hostKeyPromptTemplate(p: PendingHostKeyPrompt | undefined, idPrefix: string): TemplateResult | '' {
  if (!p) return '';
  return html`<div
    class="host-prompt card"
    role="alertdialog"
    aria-labelledby="${idPrefix}-title"
    aria-describedby="${idPrefix}-text"
  >
    <strong id="${idPrefix}-title">First connection to ${p.host}</strong>
    <p id="${idPrefix}-text">
      Its ${p.keyType} host key has the fingerprint <code class="mono">${p.fingerprint}</code>. Compare it with the one
      the host's owner gives you. Trust it and remember it for next time?
    </p>
    <div class="row">
      <button class="primary" @click=${() => p.answer(true)}>Trust and connect</button>
      <button @click=${() => p.answer(false)}>Cancel</button>
    </div>
  </div>`;
}
