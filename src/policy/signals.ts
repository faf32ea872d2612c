// Signal names a policy may use, from Node's own table for this platform.
import { constants } from 'node:os';

const TABLE = constants.signals as Record<string, number>;

export const SIGNAL_NAMES: readonly string[] = Object.keys(TABLE).filter((n) => n.startsWith('SIG'));

export function signalNumber(name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(TABLE, name) ? TABLE[name] : undefined;
}
