import { css } from 'lit';

// Shared look: system fonts, high contrast, large touch targets, works down to a phone's width.
export const shared = css`
  :host {
    display: block;
    color: var(--fg);
    font:
      15px/1.45 system-ui,
      -apple-system,
      'Segoe UI',
      sans-serif;
  }
  h2 {
    font-size: 1.15rem;
    margin: 0 0 0.75rem;
  }
  h3 {
    font-size: 1rem;
    margin: 1.25rem 0 0.5rem;
  }
  button,
  .button {
    font: inherit;
    min-height: 36px;
    padding: 0.35rem 0.9rem;
    border-radius: 8px;
    cursor: pointer;
    border: 1px solid var(--border);
    background: var(--panel);
    color: var(--fg);
    text-decoration: none;
    display: inline-flex;
    align-items: center;
    gap: 0.35rem;
  }
  button.primary {
    background: var(--accent);
    border-color: var(--accent);
    color: #fff;
  }
  button.danger {
    border-color: var(--danger);
    color: var(--danger);
  }
  button:disabled {
    opacity: 0.55;
    cursor: default;
  }
  button:focus-visible,
  input:focus-visible,
  select:focus-visible,
  a:focus-visible {
    outline: 3px solid var(--focus);
    outline-offset: 2px;
  }
  input,
  select {
    font: inherit;
    min-height: 36px;
    padding: 0.3rem 0.6rem;
    border-radius: 8px;
    border: 1px solid var(--border);
    background: var(--bg);
    color: var(--fg);
    box-sizing: border-box;
    max-width: 100%;
  }
  label {
    display: block;
    margin: 0.6rem 0 0.2rem;
    font-weight: 600;
  }
  .hint {
    color: var(--muted);
    font-size: 0.9rem;
  }
  .error {
    color: var(--danger);
    background: var(--danger-bg);
    padding: 0.6rem 0.8rem;
    border-radius: 8px;
    white-space: pre-wrap;
  }
  .card {
    background: var(--panel);
    border: 1px solid var(--border);
    border-radius: 12px;
    padding: 1rem;
  }
  .row {
    display: flex;
    gap: 0.5rem;
    align-items: center;
    flex-wrap: wrap;
  }
  table {
    border-collapse: collapse;
    width: 100%;
  }
  th,
  td {
    text-align: left;
    padding: 0.4rem 0.5rem;
    border-bottom: 1px solid var(--border);
    vertical-align: top;
  }
  th {
    font-size: 0.85rem;
    color: var(--muted);
    font-weight: 600;
  }
  code,
  .mono {
    font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace;
    font-size: 0.9em;
    word-break: break-all;
  }
  .dot {
    display: inline-block;
    width: 9px;
    height: 9px;
    border-radius: 50%;
    background: var(--muted);
    margin-right: 0.35rem;
  }
  .dot.on {
    background: var(--ok);
  }
  @media (max-width: 640px) {
    .wide-only {
      display: none;
    }
  }
`;
