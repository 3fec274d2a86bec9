// A deadline on one awaited step: the step's promise, or the error the caller words for "no answer
// in time", whichever comes first; onTimeout lets the caller close what the step was waiting on
// (a socket, a fetch), so a silent server costs a bounded wait and nothing is left behind.
import type { Clock } from './clock.js';

export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

export function withDeadline<T>(
  p: Promise<T>,
  ms: number,
  clock: Clock,
  error: () => Error,
  onTimeout?: () => void,
): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = clock.setTimeout(() => {
      if (done) return;
      done = true;
      try {
        onTimeout?.();
      } catch {
        /* closing anyway */
      }
      reject(error());
    }, ms);
    p.then(
      (v) => {
        if (!done) {
          done = true;
          clock.clearTimeout(timer);
          resolve(v);
        }
      },
      (e: unknown) => {
        if (!done) {
          done = true;
          clock.clearTimeout(timer);
          reject(e as Error);
        }
      },
    );
  });
}
