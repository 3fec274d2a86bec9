// Hand-built IP packets for the WireGuard interop test (RFC 791 IPv4, RFC 792 ICMP echo,
// RFC 768 UDP, RFC 8200 IPv6 + RFC 4443 ICMPv6 echo). Test glue, not product code.

export function ipv4Addr(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}

export function ipv6Addr(s: string): Uint8Array {
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function sum16(b: Uint8Array, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (b.length & 1) acc += b[b.length - 1] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

export function checksum(b: Uint8Array, initial = 0): number {
  return fold(sum16(b, initial));
}

function ipv4(proto: number, src: Uint8Array, dst: Uint8Array, payload: Uint8Array, id = 1): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, id);
  p[8] = 64;
  p[9] = proto;
  p.set(src, 12);
  p.set(dst, 16);
  v.setUint16(10, checksum(p.subarray(0, 20)));
  p.set(payload, 20);
  return p;
}

export function icmpv4Echo(src: string, dst: string, id: number, seq: number, data: Uint8Array): Uint8Array {
  const icmp = new Uint8Array(8 + data.length);
  const v = new DataView(icmp.buffer);
  icmp[0] = 8;
  v.setUint16(4, id);
  v.setUint16(6, seq);
  icmp.set(data, 8);
  v.setUint16(2, checksum(icmp));
  return ipv4(1, ipv4Addr(src), ipv4Addr(dst), icmp, seq);
}

export function udpv4(src: string, sport: number, dst: string, dport: number, data: Uint8Array): Uint8Array {
  const udp = new Uint8Array(8 + data.length);
  const v = new DataView(udp.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, udp.length);
  udp.set(data, 8);
  const s = ipv4Addr(src);
  const d = ipv4Addr(dst);
  const pseudo = new Uint8Array(12);
  pseudo.set(s, 0);
  pseudo.set(d, 4);
  pseudo[9] = 17;
  new DataView(pseudo.buffer).setUint16(10, udp.length);
  v.setUint16(6, checksum(udp, sum16(pseudo)) || 0xffff);
  return ipv4(17, s, d, udp);
}

function ipv6(next: number, src: Uint8Array, dst: Uint8Array, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x60;
  v.setUint16(4, payload.length);
  p[6] = next;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(payload, 40);
  return p;
}

function pseudo6(src: Uint8Array, dst: Uint8Array, len: number, next: number): number {
  const ph = new Uint8Array(40);
  ph.set(src, 0);
  ph.set(dst, 16);
  new DataView(ph.buffer).setUint32(32, len);
  ph[39] = next;
  return sum16(ph);
}

export function icmpv6Echo(src: string, dst: string, id: number, seq: number, data: Uint8Array): Uint8Array {
  const s = ipv6Addr(src);
  const d = ipv6Addr(dst);
  const icmp = new Uint8Array(8 + data.length);
  const v = new DataView(icmp.buffer);
  icmp[0] = 128;
  v.setUint16(4, id);
  v.setUint16(6, seq);
  icmp.set(data, 8);
  v.setUint16(2, checksum(icmp, pseudo6(s, d, icmp.length, 58)));
  return ipv6(58, s, d, icmp);
}

export function udpv6(src: string, sport: number, dst: string, dport: number, data: Uint8Array): Uint8Array {
  const s = ipv6Addr(src);
  const d = ipv6Addr(dst);
  const udp = new Uint8Array(8 + data.length);
  const v = new DataView(udp.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, udp.length);
  udp.set(data, 8);
  v.setUint16(6, checksum(udp, pseudo6(s, d, udp.length, 17)) || 0xffff);
  return ipv6(17, s, d, udp);
}

export interface ParsedPacket {
  version: 4 | 6;
  proto: number;
  src: Uint8Array;
  dst: Uint8Array;
  payload: Uint8Array;
}

export function parseIp(p: Uint8Array): ParsedPacket | null {
  const version = p[0] >> 4;
  if (version === 4 && p.length >= 20) {
    const ihl = (p[0] & 15) * 4;
    const len = (p[2] << 8) | p[3];
    return { version: 4, proto: p[9], src: p.slice(12, 16), dst: p.slice(16, 20), payload: p.slice(ihl, len) };
  }
  if (version === 6 && p.length >= 40) {
    const len = (p[4] << 8) | p[5];
    return { version: 6, proto: p[6], src: p.slice(8, 24), dst: p.slice(24, 40), payload: p.slice(40, 40 + len) };
  }
  return null;
}

/** For an ICMP(v6) echo reply: [type, id, seq, data]. */
export function parseEcho(payload: Uint8Array): { type: number; id: number; seq: number; data: Uint8Array } {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { type: payload[0], id: v.getUint16(4), seq: v.getUint16(6), data: payload.slice(8) };
}

export function parseUdp(payload: Uint8Array): { sport: number; dport: number; data: Uint8Array } {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { sport: v.getUint16(0), dport: v.getUint16(2), data: payload.slice(8, v.getUint16(4)) };
}
