/**
 * ModelErrors whose message stays one line whatever the file holds: names read from a corrupt or
 * hostile model may contain newlines or terminal control characters, which are shown escaped.
 */
import { ModelError } from '../core/errors.js';

/** `s` with control characters (and line separators) written as \uXXXX escapes. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A ModelError with a printable, one-line message. */
export function modelError(message: string, hint?: string): ModelError {
  return new ModelError(printable(message), hint === undefined ? undefined : printable(hint));
}
