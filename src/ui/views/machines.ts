// Machines: the peers from the network map, searchable, one click to SSH, files, the web view or the desktop (VNC).
// A tailnet may have 10,000 machines: the list shows a page of rows (more on request), sorted once
// per status and searched over a lower-cased text kept per peer, so neither typing nor a status
// push touches 10,000 DOM rows.
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { VncProbe } from '../vnc.js';
import { machinesStrings as S } from '../strings.js';
import type { PeerView, RoutePrefsView } from '../../app/node-api.js';
import { formatLastSeen, shortName, trimDot } from '../format.js';
import { shared } from '../styles.js';
import type { SavedConnection, VisitTerminal } from '../saved-connections.js';

const METHOD_WORDS: Record<SavedConnection['method'], string> = {
  none: 'Tailscale SSH',
  password: 'password',
  key: 'SSH key',
};

/** Rows shown at first, and added by "Show more". */
export const MACHINES_PAGE = 100;

const collator = new Intl.Collator(undefined, { sensitivity: 'variant' });
const searchText = new WeakMap<PeerView, string>();
/** One lower-cased text per peer: a word matches it exactly when it matches one of the fields. */
function haystack(p: PeerView): string {
  let t = searchText.get(p);
  if (t === undefined)
    searchText.set(p, (t = [p.name, p.fqdn, p.os, ...p.ips].filter(Boolean).join('\n').toLowerCase()));
  return t;
}

export interface OpenRequest {
  peer: PeerView;
  kind: 'ssh' | 'web' | 'files' | 'desktop';
}

@customElement('tt-machines')
export class MachinesView extends LitElement {
  static override styles = [shared];

  @property({ attribute: false }) peers: PeerView[] = [];
  /** The routes in use: subnet routes on or off, the exit node. */
  @property({ attribute: false }) routes: RoutePrefsView = {};
  /** Saved connections, most recent first ("Recent"). */
  @property({ attribute: false }) recent: SavedConnection[] = [];
  /** The last visit's terminals, offered for one click on a returning visit. */
  @property({ attribute: false }) lastVisit: VisitTerminal[] = [];
  /** What probing a machine's SSH port found (asked when the person opened it), by peer id. */
  @property({ attribute: false }) sshProbe = new Map<string, { port: number; open: boolean; reason?: string }>();
  /** What a check of ports 5900–5901 found, by peer id (asked when the person pressed Desktop). */
  @property({ attribute: false }) vncProbe = new Map<string, VncProbe>();
  @state() private query = '';
  /** How many matching rows are shown (grows by MACHINES_PAGE with "Show more"; a new search starts over). */
  @state() private limit = MACHINES_PAGE;
  private sortedOf?: PeerView[];
  private sorted: PeerView[] = [];

  /** Online first, then by name; kept until the peer list is a new one. */
  private sortedPeers(): PeerView[] {
    if (this.sortedOf !== this.peers) {
      this.sortedOf = this.peers;
      this.sorted = [...this.peers].sort(
        (a, b) => Number(b.online) - Number(a.online) || collator.compare(a.name, b.name),
      );
    }
    return this.sorted;
  }

  private matching(): PeerView[] {
    const words = this.query.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const all = this.sortedPeers();
    if (!words.length) return all;
    return all.filter((p) => {
      const h = haystack(p);
      return words.every((w) => h.includes(w));
    });
  }

  /** Asks the app to apply new route choices (event 'routes', detail RoutePrefsView). */
  private choose(prefs: RoutePrefsView) {
    this.dispatchEvent(new CustomEvent<RoutePrefsView>('routes', { detail: prefs, bubbles: true, composed: true }));
  }

  private routeControls() {
    const advertisers = this.peers.filter((p) => p.subnetRoutes?.length).length;
    const exit = this.peers.find((p) => p.isExitNode);
    if (!advertisers && !exit) return '';
    return html`<div class="row" style="margin-bottom: .75rem">
      ${
        advertisers
          ? html`<label style="margin:0"
              ><input
                type="checkbox"
                id="accept-routes"
                .checked=${!!this.routes.acceptRoutes}
                @change=${(e: Event) => this.choose({ ...this.routes, acceptRoutes: (e.target as HTMLInputElement).checked })}
              />
              Use subnet routes (${advertisers} ${advertisers === 1 ? 'machine advertises' : 'machines advertise'}
              them)</label
            >`
          : ''
      }
      ${exit ? html`<span class="hint" role="status">Exit node: ${shortName(exit.fqdn || exit.name)} — all other traffic leaves through it.</span>` : ''}
    </div>`;
  }

  private exitButton(p: PeerView) {
    if (!p.offersExitNode) return '';
    const name = shortName(p.fqdn || p.name);
    return p.isExitNode
      ? html`<button
          @click=${() => this.choose({ acceptRoutes: this.routes.acceptRoutes })}
          aria-label="Stop using ${name} as exit node"
        >
          Stop exit node
        </button>`
      : html`<button
          @click=${() => this.choose({ ...this.routes, exitNodeId: p.id })}
          aria-label="Use ${name} as exit node"
        >
          Use as exit node
        </button>`;
  }

  private open(peer: PeerView, kind: OpenRequest['kind']) {
    this.dispatchEvent(new CustomEvent<OpenRequest>('open', { detail: { peer, kind }, bubbles: true, composed: true }));
  }

  private emit(name: string, detail?: unknown) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  /** "Recent": the saved connections, each one click away; the last visit's terminals above them. */
  private recentSection() {
    if (!this.recent.length) return '';
    const byIp = new Map<string, PeerView>();
    for (const p of this.peers) for (const ip of p.ips) byIp.set(ip, p);
    const byName = new Map(this.peers.map((p) => [p.fqdn, p]));
    return html`<section aria-labelledby="recent-title" style="margin-bottom: 1rem">
      <h2 id="recent-title" style="margin:0 0 .5rem">${S.recentHeading}</h2>
      ${
        this.lastVisit.length
          ? html`<div class="row card" data-last-visit style="margin-bottom: .5rem">
              <span>${S.lastVisit(this.lastVisit.map((t) => t.title))}</span>
              <button class="primary" @click=${() => this.emit('reopen-visit')}>
                ${S.reopen(this.lastVisit.length)}
              </button>
            </div>`
          : ''
      }
      <ul class="recent" style="list-style: none; padding: 0; margin: 0">
        ${this.recent.slice(0, 8).map((c) => {
          const peer = byIp.get(c.host) ?? byName.get(c.fqdn);
          const gone = !peer;
          return html`<li class="row" data-recent=${c.label} style="margin: .25rem 0">
            <button
              @click=${() => this.emit('reopen', c)}
              ?disabled=${gone}
              aria-label="Open ${c.label} (${METHOD_WORDS[c.method]}, port ${c.port})"
            >
              ${c.label}
            </button>
            <span class="hint"
              >${METHOD_WORDS[c.method]}${c.port !== 22 ? `, port ${c.port}` : ''}${gone ? S.notInTailnet : peer && !peer.online ? S.offline : ''}</span
            >
            <button @click=${() => this.emit('forget-connection', c.id)} aria-label="Forget ${c.label}">Forget</button>
          </li>`;
        })}
      </ul>
    </section>`;
  }

  /** SSH, Files and Web, where they can work: a browser node serves none of them. */
  private actions(p: PeerView) {
    const name = shortName(p.fqdn || p.name);
    if (p.browserNode) return html`<span class="hint" data-browser-node>${S.browserNode}</span>`;
    const probe = this.sshProbe.get(p.id);
    const vnc = this.vncProbe.get(p.id);
    return html`<div class="row">
        <button @click=${() => this.open(p, 'ssh')} aria-label=${S.ssh(name)}>SSH</button>
        <button @click=${() => this.open(p, 'files')} aria-label=${S.files(name)}>Files</button>
        <button @click=${() => this.open(p, 'web')} aria-label=${S.web(name)}>Web</button>
        <button @click=${() => this.open(p, 'desktop')} aria-label=${S.desktop(name)}>Desktop</button>
        ${this.exitButton(p)}
      </div>
      ${probe && !probe.open ? html`<div class="hint" data-no-ssh>${S.noSsh(probe.port)}</div>` : ''}
      ${vnc && !vnc.open.length ? html`<div class="hint" data-no-vnc>${S.noVnc}</div>` : ''}`;
  }

  override render() {
    const matches = this.matching();
    const shown = matches.slice(0, this.limit);
    return html`
      ${this.recentSection()}
      <div class="row" style="justify-content: space-between; margin-bottom: .75rem">
        <h2 style="margin:0">${S.heading} <span class="hint">(${this.peers.length})</span></h2>
        <input
          type="search"
          aria-label=${S.searchLabel}
          placeholder=${S.searchPlaceholder}
          .value=${this.query}
          @input=${(e: Event) => {
            this.query = (e.target as HTMLInputElement).value;
            this.limit = MACHINES_PAGE;
          }}
        />
      </div>
      ${this.routeControls()}
      ${
        shown.length === 0
          ? html`<p class="hint">${this.peers.length ? S.noMatch : S.noneYet}</p>`
          : html`<table>
                <thead>
                  <tr>
                    <th>Machine</th>
                    <th class="wide-only">Addresses</th>
                    <th class="wide-only">OS</th>
                    <th>Status</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${shown.map(
                    (p) =>
                      html`<tr data-peer=${p.name}>
                        <td>
                          <strong>${shortName(p.fqdn || p.name)}</strong><br /><span class="hint mono"
                            >${trimDot(p.fqdn)}</span
                          >
                          ${p.subnetRoutes?.length ? html`<div class="hint mono" data-routes>routes ${p.subnetRoutes.join(', ')}${this.routes.acceptRoutes ? '' : ' (not in use)'}</div>` : ''}
                          ${p.offersExitNode ? html`<div class="hint">${p.isExitNode ? 'exit node in use' : 'offers an exit node'}</div>` : ''}
                        </td>
                        <td class="wide-only mono">${p.ips.map((ip) => html`<div>${ip}</div>`)}</td>
                        <td class="wide-only">${p.os || '–'}</td>
                        <td>
                          <span class="dot ${p.online ? 'on' : ''}" aria-hidden="true"></span
                          >${p.online ? 'online' : p.lastSeen ? `last seen ${formatLastSeen(p.lastSeen)}` : 'offline'}
                          ${p.relayRegionName ? html`<div class="hint">relay ${p.relayRegionName}</div>` : ''}
                        </td>
                        <td>${this.actions(p)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
              ${
                matches.length > shown.length
                  ? html`<div class="row" style="margin-top: .75rem" data-more>
                      <span class="hint" role="status"
                        >Showing ${shown.length} of ${matches.length}${this.query.trim() ? ' matches' : ' machines'}:
                        search to narrow the list.</span
                      >
                      <button @click=${() => (this.limit += MACHINES_PAGE)}>
                        Show ${Math.min(MACHINES_PAGE, matches.length - shown.length)} more
                      </button>
                    </div>`
                  : ''
              }`
      }
    `;
  }
}
