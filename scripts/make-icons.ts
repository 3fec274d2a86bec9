// Draws the app icon (a 3×3 grid of dots on a blue square, some dim) as PNG files for the PWA
// manifest. Run once: `npx tsx scripts/make-icons.ts`; the PNGs are committed under public/icons.
import { deflateSync } from 'node:zlib';
import { writeFileSync, mkdirSync } from 'node:fs';

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function icon(size: number): Buffer {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  const bright = [1, 3, 4, 5, 7];
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      let rgba = [0x3b, 0x5b, 0xdb, 255];
      for (let i = 0; i < 9; i++) {
        const cx = size * (0.3 + 0.2 * (i % 3));
        const cy = size * (0.3 + 0.2 * Math.floor(i / 3));
        if ((x - cx) ** 2 + (y - cy) ** 2 <= (size * 0.07) ** 2)
          rgba = bright.includes(i) ? [255, 255, 255, 255] : [0x9c, 0xae, 0xf0, 255];
      }
      raw.set(rgba, y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

mkdirSync('public/icons', { recursive: true });
for (const s of [192, 512]) writeFileSync(`public/icons/icon-${s}.png`, icon(s));
console.log('wrote public/icons/icon-192.png and icon-512.png');
