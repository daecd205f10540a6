/**
 * Reading one option out of a raw options object (the CLI's flags camelCased, a recipe step, or an API
 * caller's object), where a value may come as a string, a number or a boolean. A bad value is a
 * UsageError naming its flag; an absent one is undefined.
 */
import { UsageError } from '../../core/errors.js';
import { backendNames, type BackendName } from '../../runtime/backend.js';

/** A switch: true / false, or 'true' / 'false' / 1 / 0 as text or numbers. */
export function rawBool(raw: Record<string, unknown>, key: string, flag: string): boolean | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1 || v === '1') return true;
  if (v === 'false' || v === 0 || v === '0') return false;
  throw new UsageError(`${flag} is a switch; got '${String(v)}'`);
}

/** The executor backend (--backend): one of runtime/backend.ts's names. */
export function rawBackend(raw: Record<string, unknown>, key = 'backend', flag = '--backend'): BackendName | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (!(backendNames as readonly unknown[]).includes(v)) throw new UsageError(`${flag} must be one of ${backendNames.join(', ')} (got '${String(v)}')`);
  return v as BackendName;
}

/** A finite number, or its text. */
export function rawNumber(raw: Record<string, unknown>, key: string, flag: string): number | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (typeof v === 'boolean' || !Number.isFinite(n)) throw new UsageError(`${flag} needs a number; got '${String(v)}'`);
  return n;
}
