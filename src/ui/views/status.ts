// Status: this node, DERP regions with RTT, per-peer handshake age and bytes, and a log panel.
import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { LogLine, NodeStatusView } from '../../app/node-api.js';
import { formatAge, formatBytes, shortName } from '../format.js';
import { shared } from '../styles.js';

/** ", next try in 3 s" while a connection waits out its backoff (text only: lit escapes it). */
function retry(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1000 ? ', trying again now' : `, next try in ${Math.ceil(ms / 1000)} s`;
}

@customElement('tt-status')
export class StatusView extends LitElement {
  static override styles = [shared];
  @property({ attribute: false }) status?: NodeStatusView;
  @property({ attribute: false }) log: LogLine[] = [];

  override render() {
    const st = this.status;
    if (!st) return html``;
    return html`
      <h2>This browser</h2>
      <div class="card">
        <div><strong>State:</strong> ${st.state}</div>
        ${
          st.self
            ? html`<div><strong>Name:</strong> ${st.self.fqdn || st.self.name}</div>
                <div><strong>Addresses:</strong> <span class="mono">${st.self.ips.join(', ')}</span></div>`
            : ''
        }
        ${st.error ? html`<p class="error" role="alert">${st.error}</p>` : ''}
        ${
          st.control
            ? html`<div data-testid="control-state">
                  <strong>Control:</strong> ${st.control.state}${retry(st.control.retryInMs)}
                </div>
                ${st.control.error && st.control.state !== 'streaming' ? html`<div class="hint">${st.control.error}</div>` : ''}`
            : ''
        }
        ${
          st.terminals?.open
            ? html`<div data-terminal-queue=${st.terminals.peakQueuedBytes}>
                <strong>Terminal output waiting:</strong> ${formatBytes(st.terminals.queuedBytes)} (most at once
                ${formatBytes(st.terminals.peakQueuedBytes)}, bound ${formatBytes(st.terminals.boundBytes)} per
                terminal)
              </div>`
            : ''
        }
      </div>
      <h3>Relays (DERP)</h3>
      <table>
        <thead>
          <tr>
            <th>Region</th>
            <th>State</th>
            <th>RTT</th>
            <th class="wide-only">In / out</th>
            <th class="wide-only">Drops</th>
          </tr>
        </thead>
        <tbody>
          ${st.derp.map(
            (r) =>
              html`<tr>
                <td>${r.regionName} ${r.home ? html`<strong>(home)</strong>` : ''}</td>
                <td>
                  ${r.state}${retry(r.retryInMs)}${r.lastError && r.state !== 'connected' ? html`<div class="hint">${r.lastError}</div>` : ''}
                </td>
                <td>${r.rttMs !== undefined ? `${r.rttMs.toFixed(1)} ms` : '–'}</td>
                <td class="wide-only">${formatBytes(r.bytesIn)} / ${formatBytes(r.bytesOut)}</td>
                <td class="wide-only">${r.drops}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h3>Peers</h3>
      <table>
        <thead>
          <tr>
            <th>Peer</th>
            <th>Handshake</th>
            <th>Received / sent</th>
            <th class="wide-only">Path</th>
          </tr>
        </thead>
        <tbody>
          ${st.peers.map(
            (p) =>
              html`<tr>
                <td><span class="dot ${p.online ? 'on' : ''}"></span>${shortName(p.fqdn || p.name)}</td>
                <td>${p.handshakeAgeMs !== undefined ? formatAge(p.handshakeAgeMs) : 'none yet'}</td>
                <td>${formatBytes(p.rxBytes)} / ${formatBytes(p.txBytes)}</td>
                <td class="wide-only">
                  ${
                    p.path === 'webrtc'
                      ? `WebRTC${p.pathRttMs !== undefined ? ` (${Math.round(p.pathRttMs)} ms)` : ''}`
                      : (p.relayRegionName ?? p.relayRegion ?? '–')
                  }
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h3>Log</h3>
      <div
        class="card mono"
        role="log"
        aria-live="polite"
        aria-label="Log"
        tabindex="0"
        style="max-height: 260px; overflow: auto; font-size: .8rem"
      >
        ${this.log
          .slice(-300)
          .map(
            (l) =>
              html`<div class=${l.level}>
                ${new Date(l.at).toLocaleTimeString()} ${l.level.toUpperCase()} ${l.text}
              </div>`,
          )}
      </div>
    `;
  }
}
