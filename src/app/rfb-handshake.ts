// What a VNC server offered before a connection failed, and the sentence that says what to change.
// noVNC (the RFB client the Desktop view uses) reports a failed security negotiation only as an
// unclean disconnect; to tell "the server wants TLS" from "the network dropped us", the Desktop's
// channel (tcp-socket.ts) shows the first bytes of each direction to this sniffer. It reads only
// the opening of RFC 6143 (§7.1.1 ProtocolVersion, §7.1.2 Security) and the VeNCrypt sub-type list
// (TigerVNC's rfb/CSecurityVeNCrypt.cxx), then stops looking: at most MAX_SNIFF bytes each way.
// Never throws, whatever the bytes.

/** Bytes looked at per direction; the handshake up to the VeNCrypt sub-types fits easily. */
export const MAX_SNIFF = 4096;

/** RFC 6143 §7.2 security types and the common extensions (IANA "RFB Security Types"). */
const SECURITY_NAMES: Record<number, string> = {
  1: 'None',
  2: 'VNC password (VncAuth)',
  5: 'RA2',
  6: 'RA2ne',
  16: 'Tight',
  17: 'Ultra',
  18: 'TLS (Vino)',
  19: 'VeNCrypt',
  20: 'SASL',
  21: 'MD5 hash',
  22: 'XVP',
  30: 'Apple Remote Desktop',
  113: 'MS-Logon II',
  129: 'TightVNC Unix login',
};

/** VeNCrypt sub-types (TigerVNC rfb/SecurityTypes.h). */
const VENCRYPT_NAMES: Record<number, string> = {
  256: 'Plain',
  257: 'TLSNone',
  258: 'TLSVnc',
  259: 'TLSPlain',
  260: 'X509None',
  261: 'X509Vnc',
  262: 'X509Plain',
  263: 'TLSSASL',
  264: 'X509SASL',
};

/** Security types noVNC 1.7.0 can complete (core/rfb.js _isSupportedSecurityType), VeNCrypt aside. */
const CLIENT_TYPES = new Set([1, 2, 6, 16, 22, 30, 113, 256]);
/** VeNCrypt sub-types noVNC completes: none of the TLS or X509 ones (no TLS in a page over raw TCP). */
const CLIENT_VENCRYPT = new Set([1, 2, 256]);

export const securityName = (t: number): string => SECURITY_NAMES[t] ?? VENCRYPT_NAMES[t] ?? `type ${t}`;

export interface RfbHandshakeView {
  /** "RFB 003.008" as the server sent it, once 12 bytes arrived. */
  serverVersion?: string;
  /** Security types the server offered (3.7+), or the one it decided (3.3). */
  securityTypes?: number[];
  /** The server refused before any security type (count 0): its reason, if it gave one. */
  refusedReason?: string;
  /** The type the client chose (3.7+), once it sent it. */
  chosenType?: number;
  /** VeNCrypt: the sub-types the server offered. */
  vencryptSubtypes?: number[];
  /** VeNCrypt: the sub-type the client chose. */
  chosenSubtype?: number;
}

/** Reads the opening bytes of both directions of an RFB connection. */
export class RfbHandshakeSniffer {
  private server: Uint8Array = new Uint8Array(0);
  private client: Uint8Array = new Uint8Array(0);
  readonly view: RfbHandshakeView = {};

  received(bytes: Uint8Array): void {
    if (this.server.length >= MAX_SNIFF) return;
    this.server = append(this.server, bytes.subarray(0, MAX_SNIFF - this.server.length));
    this.parse();
  }

  sent(bytes: Uint8Array): void {
    if (this.client.length >= MAX_SNIFF) return;
    this.client = append(this.client, bytes.subarray(0, MAX_SNIFF - this.client.length));
    this.parse();
  }

  private parse(): void {
    const s = this.server,
      c = this.client,
      v = this.view;
    if (s.length < 12) return;
    const version = String.fromCharCode(...s.subarray(0, 11));
    const m = /^RFB (\d{3})\.(\d{3})$/.exec(version);
    if (!m) return;
    v.serverVersion = version;
    const minor = Number(m[1]) > 3 ? 8 : Number(m[2]);
    if (minor < 7) {
      // RFC 6143 §7.1.2 (3.3): the server decides, a U32; 0 is followed by a reason.
      if (s.length < 16) return;
      const t = u32(s, 12);
      if (t === 0) v.refusedReason = reason(s, 16) ?? v.refusedReason;
      else v.securityTypes = [t];
      return;
    }
    if (s.length < 13) return;
    const n = s[12]!;
    if (n === 0) {
      v.securityTypes = [];
      v.refusedReason = reason(s, 13) ?? v.refusedReason;
      return;
    }
    if (s.length < 13 + n) return;
    v.securityTypes = [...s.subarray(13, 13 + n)];
    // The client's version (12 bytes) then its one-byte choice.
    if (c.length < 13) return;
    v.chosenType = c[12]!;
    if (v.chosenType !== 19) return;
    // VeNCrypt: server version (2), client version (2), server ack (1), count (1), U32 sub-types.
    let at = 13 + n;
    if (s.length < at + 2 + 1 + 1) return;
    at += 2;
    if (s[at] !== 0) return; // the server refused the client's VeNCrypt version
    const count = s[at + 1]!;
    at += 2;
    if (s.length < at + 4 * count) return;
    const subs: number[] = [];
    for (let i = 0; i < count; i++) subs.push(u32(s, at + 4 * i));
    v.vencryptSubtypes = subs;
    if (c.length >= 13 + 2 + 4) v.chosenSubtype = u32(c, 15);
  }
}

/**
 * Why the connection could not be set up, in words a person can act on, or undefined when the
 * handshake shows no security problem (then the failure was elsewhere: network, password, server).
 */
export function securityProblem(v: RfbHandshakeView, where: string): string | undefined {
  if (v.refusedReason !== undefined || (v.securityTypes && v.securityTypes.length === 0)) {
    return `The VNC server at ${where} refused the connection${v.refusedReason ? `: "${clip(v.refusedReason)}"` : ''}.`;
  }
  const types = v.securityTypes;
  if (!types?.length) return undefined;
  const usable = types.filter((t) => t === 19 || CLIENT_TYPES.has(t));
  if (!usable.length) {
    return (
      `The VNC server at ${where} offers only ${types.map(securityName).join(', ')}, which tailtab cannot offer. ` +
      'Allow "VncAuth" (a VNC password) or "None" on the server; the tailnet already encrypts the connection.'
    );
  }
  const subs = v.vencryptSubtypes;
  if (v.chosenType === 19 && subs && v.chosenSubtype === undefined && !subs.some((t) => CLIENT_VENCRYPT.has(t))) {
    return (
      `The VNC server at ${where} requires TLS (VeNCrypt ${subs.map(securityName).join(', ')}), which a browser cannot do on a raw connection. ` +
      'Allow "VncAuth" on the server as well (TigerVNC: -SecurityTypes VncAuth,TLSVnc); the tailnet already encrypts the connection.'
    );
  }
  return undefined;
}

function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const u32 = (b: Uint8Array, at: number): number =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/** A U32-length reason string at `at`, if all of it (or MAX_SNIFF's worth) is here. */
function reason(b: Uint8Array, at: number): string | undefined {
  if (b.length < at + 4) return undefined;
  const len = u32(b, at);
  const end = Math.min(at + 4 + len, b.length);
  if (end < at + 4 + len && b.length < MAX_SNIFF) return undefined;
  return new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(at + 4, end));
}

/** A server's words, shown as text: control characters out, at most 200 characters. */
function clip(s: string): string {
  const t = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}
