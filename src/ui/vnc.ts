// The Desktop view's small pure parts: X keysyms for text and for the keys a browser keeps for
// itself, and the sentence a person reads when a VNC connection ends.
import { securityProblem, type RfbHandshakeView } from '../app/rfb-handshake.js';

/** The X keysym that types `ch` (X11 keysymdef.h: Latin-1 is its own code, the rest 0x01000000 + code point). */
export function keysymFor(ch: string): number | undefined {
  const cp = ch.codePointAt(0);
  if (cp === undefined) return undefined;
  if (ch === '\n' || ch === '\r') return 0xff0d; // Return
  if (ch === '\t') return 0xff09; // Tab
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) return undefined;
  return 0x01000000 + cp;
}

/** A key combination the page sends (each key down in order, then up in reverse). */
export interface KeyCombo {
  label: string;
  keys: { keysym: number; code: string }[];
}

const K = {
  ctrl: { keysym: 0xffe3, code: 'ControlLeft' },
  alt: { keysym: 0xffe9, code: 'AltLeft' },
  shift: { keysym: 0xffe1, code: 'ShiftLeft' },
  super: { keysym: 0xffeb, code: 'MetaLeft' },
  del: { keysym: 0xffff, code: 'Delete' },
  esc: { keysym: 0xff1b, code: 'Escape' },
  tab: { keysym: 0xff09, code: 'Tab' },
  backspace: { keysym: 0xff08, code: 'Backspace' },
  f: (n: number) => ({ keysym: 0xffbe + n - 1, code: `F${n}` }),
  letter: (c: string) => ({ keysym: c.charCodeAt(0), code: `Key${c.toUpperCase()}` }),
};

/** Keys the browser or the OS takes before the page sees them (or that a phone has no key for). */
export const KEY_COMBOS: KeyCombo[] = [
  { label: 'Ctrl+Alt+Del', keys: [K.ctrl, K.alt, K.del] },
  { label: 'Esc', keys: [K.esc] },
  { label: 'Tab', keys: [K.tab] },
  { label: 'Alt+Tab', keys: [K.alt, K.tab] },
  { label: 'Ctrl+W', keys: [K.ctrl, K.letter('w')] },
  { label: 'Ctrl+T', keys: [K.ctrl, K.letter('t')] },
  { label: 'Ctrl+N', keys: [K.ctrl, K.letter('n')] },
  { label: 'Ctrl+Alt+Backspace', keys: [K.ctrl, K.alt, K.backspace] },
  { label: 'Super (Windows key)', keys: [K.super] },
  { label: 'Alt+F4', keys: [K.alt, K.f(4)] },
  ...[1, 2, 11, 12].map((n) => ({ label: `F${n}`, keys: [K.f(n)] })),
];

/** What went wrong, as the view collected it while the connection lived. */
export interface VncEnd {
  where: string;
  /** The connection could not be made (NodeApi.tcpDial refused, in its words). */
  dialError?: string;
  /** noVNC's 'securityfailure': the server said no after the security handshake. */
  securityFailure?: { status?: number; reason?: string };
  /** Whether a password was asked for and given. */
  passwordSent?: boolean;
  handshake?: RfbHandshakeView;
  /** noVNC's 'disconnect' detail.clean. */
  clean: boolean;
  /** Whether the desktop had been shown (RFB 'connect'). */
  wasConnected: boolean;
  /** The channel's own words (TcpSocket's error event), if it failed. */
  channelError?: string;
  /** The person pressed Disconnect. */
  byUser?: boolean;
  /** Who ended the TCP connection (TcpSocket.endedBy): 'local' without byUser means noVNC gave up on the server's data. */
  endedBy?: 'local' | 'host' | 'error';
  /** The page itself refused what the server sent (e.g. a desktop too large to draw), in words. */
  refused?: string;
}

/** The largest desktop the view draws: a side, and the pixels of the whole (a canvas of 4 bytes per pixel). */
export const MAX_DESKTOP_SIDE = 16384;
export const MAX_DESKTOP_PIXELS = 8192 * 8192;

/** Why a desktop of w×h is not drawn, or undefined when it can be. */
export function desktopSizeProblem(w: number, h: number, where: string): string | undefined {
  if (w <= MAX_DESKTOP_SIDE && h <= MAX_DESKTOP_SIDE && w * h <= MAX_DESKTOP_PIXELS) return undefined;
  return `The VNC server at ${where} announced a ${w}×${h} desktop, larger than this page draws (at most ${MAX_DESKTOP_SIDE} pixels a side, ${MAX_DESKTOP_PIXELS / 1024 / 1024} megapixels); the connection was closed.`;
}

/** The sentence shown when a connection ends, or '' when there is nothing to say. */
export function vncEndSentence(e: VncEnd): string {
  if (e.dialError) return e.dialError;
  if (e.refused) return e.refused;
  if (e.byUser) return '';
  if (e.securityFailure) {
    const said = e.securityFailure.reason ? ` (it said: "${e.securityFailure.reason.slice(0, 200)}")` : '';
    return e.passwordSent
      ? `The VNC server at ${e.where} refused the password${said}. Check it and connect again.`
      : `The VNC server at ${e.where} refused the login${said}.`;
  }
  const sec = e.handshake && securityProblem(e.handshake, e.where);
  if (sec && !e.wasConnected) return sec;
  if (e.channelError) return `The connection to ${e.where} failed: ${e.channelError}`;
  if (!e.wasConnected && !e.handshake?.serverVersion)
    return `${e.where} accepted the connection but did not speak VNC (no RFB greeting): is this the VNC port (5900 + display number)?`;
  if (e.endedBy === 'host') return `The VNC server at ${e.where} closed the connection.`;
  // noVNC closed the connection itself, unasked: what the server sent made no sense to it.
  if (e.endedBy === 'local' && !e.clean)
    return `The VNC server at ${e.where} sent data the VNC client could not read (a protocol error); the connection was closed.`;
  if (e.wasConnected)
    return e.clean ? `The VNC server at ${e.where} closed the connection.` : `The connection to ${e.where} was lost.`;
  return `The VNC server at ${e.where} ended the connection before the desktop was shown.`;
}

const VNC_BASE = 5900;

/** The ports a Desktop click checks: displays :0 and :1, where VNC servers listen unless told otherwise. */
export const VNC_PROBE_PORTS = [5900, 5901] as const;

/** What connecting to VNC_PROBE_PORTS of a machine found (asked when the person pressed Desktop). */
export interface VncProbe {
  host: string;
  open: number[];
  /** Why the others did not answer, in a word or two ('refused', 'no answer'), by port. */
  reasons: Record<number, string | undefined>;
}

/** The probe in words, or '' while one of the usual ports answers on port 5900 (nothing to say). */
export function vncProbeSentence(p: VncProbe, name: string): string {
  if (p.open.includes(VNC_BASE)) return '';
  if (p.open.length) return `A VNC server answers on port ${p.open[0]} of ${name} (display :${p.open[0]! - VNC_BASE}).`;
  const why = [...new Set(Object.values(p.reasons).filter(Boolean))].join(', ');
  return `Nothing answered on ports 5900 and 5901 of ${name}${why ? ` (${why === 'refused' ? 'connection refused' : why})` : ''}: no VNC server for display :0 or :1 there. Type the port your VNC server listens on, or start one on that machine.`;
}
