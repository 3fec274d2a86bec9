// Anti-replay sliding window for transport counters. Spec: RFC 6479 (a ring of bitmap blocks, so
// advancing the window clears whole blocks instead of shifting bits); same algorithm as
// wireguard-go replay/replay.go, with 32-bit blocks because JavaScript bit operations are 32-bit.

const BLOCK_BITS = 32;
const RING_BLOCKS = 256; // power of two
/** Counters this far behind the highest seen are still accepted once: (256 - 1) * 32 = 8160. */
export const REPLAY_WINDOW = (RING_BLOCKS - 1) * BLOCK_BITS;

export class ReplayFilter {
  private last = 0;
  private ring = new Uint32Array(RING_BLOCKS);

  reset(): void {
    this.last = 0;
    this.ring.fill(0);
  }

  /** Cheap pre-check without recording (used before spending a decryption on a sure replay). */
  mayAccept(counter: number, limit: number): boolean {
    if (!(counter < limit)) return false;
    if (counter > this.last) return true;
    if (this.last - counter > REPLAY_WINDOW) return false;
    const block = Math.floor(counter / BLOCK_BITS) % RING_BLOCKS;
    return (this.ring[block] & (1 << (counter % BLOCK_BITS))) === 0;
  }

  /**
   * Records counter and says whether it is new. Call only after the packet authenticated
   * (RFC 6479 §2: updating the window with unauthenticated counters lets forgeries move it).
   */
  validate(counter: number, limit: number): boolean {
    if (!(counter < limit)) return false; // also rejects NaN/Infinity
    const indexBlock = Math.floor(counter / BLOCK_BITS);
    if (counter > this.last) {
      const current = Math.floor(this.last / BLOCK_BITS);
      const diff = Math.min(indexBlock - current, RING_BLOCKS);
      for (let i = current + 1; i <= current + diff; i++) this.ring[i % RING_BLOCKS] = 0;
      this.last = counter;
    } else if (this.last - counter > REPLAY_WINDOW) {
      return false;
    }
    const block = indexBlock % RING_BLOCKS;
    const bit = 1 << (counter % BLOCK_BITS);
    const old = this.ring[block];
    if (old & bit) return false;
    this.ring[block] = old | bit;
    return true;
  }
}
