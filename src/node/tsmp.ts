// TSMP (Tailscale Message Protocol, IP protocol 99) pings: `tailscale ping --tsmp` sends, inside
// WireGuard, an IP packet whose payload is 'p' + 8 opaque bytes; the node answers with 'o' + the
// same 8 bytes + its PeerAPI port (2 bytes BE; 0: we run no PeerAPI). Reference: tailscale
// net/packet/tsmp.go (TSMPPingRequest, TSMPPongReply) and net/tstun/wrap.go, which answers TSMP
// pings before the packet filter runs.
// Since capability version 144 a peer also sends, right after a WireGuard handshake, a "disco key
// advertisement": 'a' + its 32-byte disco public key (TSMPDiscoKeyAdvertisement; tailscaled drops
// an all-zero one silently). tailscaled uses it to learn a restarted peer's new disco key before
// control says so; we read it (parseTsmpDiscoAdvert) and count it, and act on nothing.

export const IPPROTO_TSMP = 99;
const TSMP_PING = 0x70; // 'p'
const TSMP_PONG = 0x6f; // 'o'
const TSMP_DISCO_ADVERT = 0x61; // 'a'
const DISCO_KEY_LEN = 32;

function ipv4Checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i]! << 8) | h[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

interface TsmpParts {
  ver: 4 | 6;
  payload: Uint8Array;
  src: Uint8Array;
  dst: Uint8Array;
}

/** The TSMP payload and addresses of a well-formed, unfragmented TSMP packet; else null. */
function tsmpParts(ip: Uint8Array): TsmpParts | null {
  if (ip.length < 1) return null;
  const ver = ip[0]! >> 4;
  let payload: Uint8Array, src: Uint8Array, dst: Uint8Array;
  if (ver === 4) {
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ihl < 20 || ip.length < ihl || ip[9] !== IPPROTO_TSMP) return null;
    const total = (ip[2]! << 8) | ip[3]!;
    if (total < ihl || total > ip.length) return null;
    if ((((ip[6]! & 0x3f) << 8) | ip[7]!) !== 0) return null; // fragments (MF or offset) are not TSMP messages
    payload = ip.subarray(ihl, total);
    src = ip.subarray(12, 16);
    dst = ip.subarray(16, 20);
  } else if (ver === 6) {
    if (ip.length < 40 || ip[6] !== IPPROTO_TSMP) return null;
    const plen = (ip[4]! << 8) | ip[5]!;
    if (40 + plen > ip.length) return null;
    payload = ip.subarray(40, 40 + plen);
    src = ip.subarray(8, 24);
    dst = ip.subarray(24, 40);
  } else return null;
  return { ver, payload, src, dst };
}

/** A TSMP disco key advertisement: the sender's disco public key (all zero: to be ignored). */
export interface TsmpDiscoAdvert {
  discoKey: Uint8Array;
  empty: boolean;
}

/** If `ip` is a TSMP disco key advertisement ('a' + 32-byte key; longer payloads as Go reads them), its key; else null. */
export function parseTsmpDiscoAdvert(ip: Uint8Array): TsmpDiscoAdvert | null {
  const t = tsmpParts(ip);
  if (!t || t.payload.length < 1 + DISCO_KEY_LEN || t.payload[0] !== TSMP_DISCO_ADVERT) return null;
  const discoKey = t.payload.slice(1, 1 + DISCO_KEY_LEN);
  return { discoKey, empty: discoKey.every((b) => b === 0) };
}

/** If `ip` is a well-formed TSMP ping, the pong to send back (addresses swapped); else null. */
export function tsmpPongFor(ip: Uint8Array): Uint8Array | null {
  const t = tsmpParts(ip);
  if (!t) return null;
  const { ver, payload, src, dst } = t;
  if (payload.length < 9 || payload[0] !== TSMP_PING) return null;
  const body = new Uint8Array(11);
  body[0] = TSMP_PONG;
  body.set(payload.subarray(1, 9), 1);
  if (ver === 4) {
    const out = new Uint8Array(20 + body.length);
    out[0] = 0x45;
    out[2] = out.length >> 8;
    out[3] = out.length & 0xff;
    out[8] = 64;
    out[9] = IPPROTO_TSMP;
    out.set(dst, 12);
    out.set(src, 16);
    const c = ipv4Checksum(out.subarray(0, 20));
    out[10] = c >> 8;
    out[11] = c & 0xff;
    out.set(body, 20);
    return out;
  }
  const out = new Uint8Array(40 + body.length);
  out[0] = 0x60;
  out[4] = body.length >> 8;
  out[5] = body.length & 0xff;
  out[6] = IPPROTO_TSMP;
  out[7] = 64;
  out.set(dst, 8);
  out.set(src, 24);
  out.set(body, 40);
  return out;
}
