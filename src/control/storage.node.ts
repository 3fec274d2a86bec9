// Node glue: the control state in a JSON file (mode 0600, written atomically via rename).
import { promises as fs } from 'node:fs';
import type { ControlState, ControlStore } from './storage.js';

export class FileStore implements ControlStore {
  constructor(private readonly path: string) {}
  async load(): Promise<ControlState | null> {
    try {
      return JSON.parse(await fs.readFile(this.path, 'utf8')) as ControlState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
  async save(s: ControlState): Promise<void> {
    const tmp = `${this.path}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(s), { mode: 0o600 });
    await fs.rename(tmp, this.path);
  }
}
