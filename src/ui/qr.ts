// <tt-qr text="…">: a QR code drawn as SVG rects through Lit templates (no innerHTML), so a
// person can open the login link on a phone.
import { LitElement, css, html, svg } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { encode } from 'uqr';

@customElement('tt-qr')
export class QrCode extends LitElement {
  @property() text = '';
  @property() label = 'QR code';

  static override styles = css`
    svg {
      width: 180px;
      height: 180px;
      background: #fff;
      border-radius: 6px;
    }
  `;

  override render() {
    if (!this.text) return html``;
    const { data, size } = encode(this.text, { ecc: 'M', border: 2 });
    const cells = [];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) if (data[y][x]) cells.push(svg`<rect x=${x} y=${y} width="1" height="1" />`);
    }
    return html`<svg role="img" aria-label=${this.label} viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">
      ${cells}
    </svg>`;
  }
}
