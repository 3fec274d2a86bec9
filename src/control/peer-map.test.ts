import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { PeerMap } from './peer-map.js';
import type { Node } from './tailcfg.js';

const node = (id: number, v: number): Node => ({ ID: id, Key: `nodekey:${v}` }) as Node;

describe('PeerMap (versions of the peers sharing their entries)', () => {
  it('property: every version equals a Map copied and edited the same way, and older versions never change', () => {
    const op = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.integer({ min: 0, max: 40 }), fc.nat(9)),
      fc.tuple(fc.constant('delete' as const), fc.integer({ min: 0, max: 40 }), fc.constant(0)),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.array(op, { maxLength: 30 }), { maxLength: 12 }),
        fc.integer({ min: 0, max: 8 }),
        (start, deltas, minFold) => {
          let model = new Map(Array.from({ length: start }, (_, i) => [i, node(i, 0)]));
          let version: ReadonlyMap<number, Node> = PeerMap.of(new Map(model));
          const history: [ReadonlyMap<number, Node>, Map<number, Node>][] = [[version, model]];
          for (const ops of deltas) {
            const next = PeerMap.edit(version);
            model = new Map(model);
            for (const [kind, id, v] of ops) {
              if (kind === 'set') {
                const n = node(id, v);
                next.set(id, n);
                model.set(id, n);
              } else expect(next.delete(id)).toBe(model.delete(id));
              expect(next.get(id)).toEqual(model.get(id));
              expect(next.count).toBe(model.size);
            }
            // A small fold threshold: versions folded into a new base and not, in turn.
            version = next.done(minFold);
            history.push([version, model]);
          }
          for (const [v, m] of history) {
            expect(v.size).toBe(m.size);
            expect(new Map(v)).toEqual(m);
            expect([...v.keys()].sort((a, b) => a - b)).toEqual([...m.keys()].sort((a, b) => a - b));
            for (let id = 0; id <= 40; id++) {
              expect(v.has(id)).toBe(m.has(id));
              expect(v.get(id)).toBe(m.get(id));
            }
          }
        },
      ),
      fuzz(60),
    );
  });
});
