// Node glue: the control state in a JSON file (mode 0600, written atomically via rename).
import { promises as fs } from 'node:fs';
import type { ControlState, ControlStore } from './storage.js';

export class FileStore implements ControlStore {
  constructor(private readonly path: string) {}
  async load(): Promise<ControlState | null> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    // A damaged file must not silently become a new machine (a new machine key = a new node at
    // control): refuse, and say what to do.
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new Error(
        `control state file ${this.path} is not valid JSON: repair it, or delete it to log in as a new machine`,
      );
    }
    if (!v || typeof v !== 'object' || typeof (v as ControlState).machinePrivateKey !== 'string') {
      throw new Error(
        `control state file ${this.path} has no machine key: repair it, or delete it to log in as a new machine`,
      );
    }
    return v as ControlState;
  }
  async save(s: ControlState): Promise<void> {
    // A file holds text: keys stay hex here (no keyCustody: the client makes raw keys for us).
    for (const k of [s.machinePrivateKey, s.nodePrivateKey, s.oldNodePrivateKey]) {
      if (k !== undefined && typeof k !== 'string')
        throw new Error(`control state file ${this.path}: a WebCrypto key cannot be written to a file`);
    }
    const tmp = `${this.path}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(s), { mode: 0o600 });
    await fs.rename(tmp, this.path);
  }
}
