// The questions an SSH login puts to the person, shared by the terminal and the Files view (and
// so by the widget, whose terminal is the same element): what the server asks over
// keyboard-interactive (RFC 4256 — its name, instruction and prompts; an answer the server marks
// "no echo" is typed masked) and the "legacy device" choice after a refusal. The server's words
// arrive with control sequences removed (ssh/display-text.ts) and only go into text bindings.
import { html, type TemplateResult } from 'lit';
import type { AuthPrompt, LegacyPrompt } from '../../app/node-api.js';
import { loginPromptStrings as S } from '../strings.js';

export type PendingAuthPrompt = AuthPrompt & { answer: (answers: string[] | undefined) => void };
export type PendingLegacyPrompt = LegacyPrompt & { answer: (ok: boolean) => void };

/** The server's question as a small form; `idPrefix` keeps its ids unique within one page. */
export function authPromptTemplate(p: PendingAuthPrompt | undefined, idPrefix: string): TemplateResult | '' {
  if (!p) return '';
  const submit = (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    p.answer(p.prompts.map((_, i) => (form.querySelector(`#${idPrefix}-a${i}`) as HTMLInputElement).value));
  };
  return html`<form class="host-prompt auth-prompt" role="dialog" aria-labelledby="${idPrefix}-title" @submit=${submit}>
    <strong id="${idPrefix}-title">${p.name || S.loginTo(p.username, p.host)}</strong>
    ${p.instruction ? html`<p class="instruction">${p.instruction}</p>` : ''}
    ${p.prompts.map(
      (q, i) =>
        html`<label for="${idPrefix}-a${i}">${q.prompt}</label>
          <input
            id="${idPrefix}-a${i}"
            type=${q.echo ? 'text' : 'password'}
            autocomplete=${q.echo ? 'one-time-code' : 'off'}
            spellcheck="false"
            autocapitalize="off"
          />`,
    )}
    <div class="row">
      <button class="primary" type="submit">${S.continue}</button>
      <button type="button" @click=${() => p.answer(undefined)}>${S.cancel}</button>
    </div>
  </form>`;
}

/** The refusal in the library's words, and the choice to connect anyway (remembered with the host). */
export function legacyPromptTemplate(p: PendingLegacyPrompt | undefined, idPrefix: string): TemplateResult | '' {
  if (!p) return '';
  return html`<div
    class="host-prompt legacy-prompt"
    role="alertdialog"
    aria-labelledby="${idPrefix}-ltitle"
    aria-describedby="${idPrefix}-ltext"
  >
    <strong id="${idPrefix}-ltitle">${S.legacyTitle(p.host)}</strong>
    <p id="${idPrefix}-ltext" class="reason">${p.reason}</p>
    <p>${S.legacyChoice}</p>
    <div class="row">
      <button class="primary" @click=${() => p.answer(true)}>${S.legacyConnect}</button>
      <button @click=${() => p.answer(false)}>${S.cancel}</button>
    </div>
  </div>`;
}
