// Status: this browser's machine, DERP regions with RTT, per-peer handshake age and bytes, and a log panel.
import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { LogLine, NodeStatusView } from '../../app/node-api.js';
import { formatAge, formatBytes, shortName } from '../format.js';
import { statusStrings as S } from '../strings.js';
import { shared } from '../styles.js';

const retry = S.retry;

/** The path a machine's packets take: the WebRTC path with its round trip, or the relay's name. */
function pathText(p: NodeStatusView['peers'][number]): string {
  if (p.path === 'webrtc') return `WebRTC${p.pathRttMs !== undefined ? ` (${Math.round(p.pathRttMs)} ms)` : ''}`;
  return String(p.relayRegionName ?? p.relayRegion ?? '–');
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
      <h2>${S.thisBrowser}</h2>
      <div class="card">
        <div><strong>${S.state}</strong> ${st.state}</div>
        ${
          st.self
            ? html`<div><strong>${S.name}</strong> ${st.self.fqdn || st.self.name}</div>
                <div><strong>${S.addresses}</strong> <span class="mono">${st.self.ips.join(', ')}</span></div>`
            : ''
        }
        ${st.error ? html`<p class="error" role="alert">${st.error}</p>` : ''}
        ${
          st.control
            ? html`<div data-testid="control-state">
                  <strong>${S.control}</strong> ${st.control.state}${retry(st.control.retryInMs)}
                </div>
                ${st.control.error && st.control.state !== 'streaming' ? html`<div class="hint">${st.control.error}</div>` : ''}`
            : ''
        }
        ${
          st.terminals?.open
            ? html`<div data-terminal-queue=${st.terminals.peakQueuedBytes}>
                <strong>${S.queueLabel}</strong>
                ${S.queue(
                  formatBytes(st.terminals.queuedBytes),
                  formatBytes(st.terminals.peakQueuedBytes),
                  formatBytes(st.terminals.boundBytes),
                )}
              </div>`
            : ''
        }
      </div>
      <h3>${S.relaysHeading}</h3>
      <table>
        <thead>
          <tr>
            <th>${S.region}</th>
            <th>${S.stateColumn}</th>
            <th>${S.rtt}</th>
            <th class="wide-only">${S.inOut}</th>
            <th class="wide-only">${S.drops}</th>
          </tr>
        </thead>
        <tbody>
          ${st.derp.map(
            (r) =>
              html`<tr>
                <td>${r.regionName} ${r.home ? html`<strong>${S.home}</strong>` : ''}</td>
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
      <h3>${S.machinesHeading}</h3>
      <table>
        <thead>
          <tr>
            <th>${S.machine}</th>
            <th>${S.handshake}</th>
            <th>${S.receivedSent}</th>
            <th class="wide-only">${S.path}</th>
          </tr>
        </thead>
        <tbody>
          ${st.peers.map(
            (p) =>
              html`<tr>
                <td><span class="dot ${p.online ? 'on' : ''}"></span>${shortName(p.fqdn || p.name)}</td>
                <td>${p.handshakeAgeMs !== undefined ? formatAge(p.handshakeAgeMs) : S.noHandshake}</td>
                <td>${formatBytes(p.rxBytes)} / ${formatBytes(p.txBytes)}</td>
                <td class="wide-only">${pathText(p)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h3>${S.logHeading}</h3>
      <div
        class="card mono"
        role="log"
        aria-live="polite"
        aria-label=${S.logHeading}
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
