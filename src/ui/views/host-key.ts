// The SSH host-key pieces the terminal and the Files view share: the first-contact question
// (ssh(1)'s "authenticity of host … can't be established", asked in the page while the Worker
// waits) and the one-line note saying how the connected host's key was checked.
import { html, type TemplateResult } from 'lit';
import type { HostKeyPrompt, HostKeyVerdict } from '../../app/node-api.js';
import { hostKeyStrings as S } from '../strings.js';

export type PendingHostKeyPrompt = HostKeyPrompt & { answer: (ok: boolean) => void };

/** How the host key of an open session was vouched for, in words. */
export function hostKeyNote(hostKey: HostKeyVerdict): string {
  switch (hostKey.verdict) {
    case 'tailnet':
      return S.tailnet;
    case 'tailnet-pinned':
      return S.tailnetPinned(hostKey.fingerprint);
    case 'first-use':
      return S.firstUse(hostKey.fingerprint);
    default:
      return S.known(hostKey.fingerprint);
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
