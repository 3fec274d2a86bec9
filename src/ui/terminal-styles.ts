// The terminal's stylesheet for a shadow root. Terminals render inside <tailtab-app>'s and
// <tailtab-connect>'s shadow roots, where the document's stylesheets do not reach, so xterm.js's
// rules and ours travel with the component that hosts them.
import { unsafeCSS, type CSSResult } from 'lit';
import xtermCss from '@xterm/xterm/css/xterm.css?inline';
import terminalCss from './terminal.css?inline';
import colorsCss from './global.css?inline';

export const terminalStyles: CSSResult[] = [unsafeCSS(xtermCss), unsafeCSS(terminalCss)];

/** The colour custom properties for a host on a page that does not define them (the widget). */
export const hostColors: CSSResult = unsafeCSS(
  colorsCss.replace(/:root/g, ':host').replace(/html, body \{[^}]*\}/g, ''),
);
