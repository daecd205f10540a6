/**
 * The terminal rules: colours only on a TTY without NO_COLOR, progress bars only on an interactive
 * terminal without --quiet, info dropped by --quiet, debug shown only by --verbose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Chalk } from 'chalk';
import { createCliContext } from '../../src/cli/ui/logger.js';
import { BarProgress, QuietProgress } from '../../src/cli/ui/progress.js';
import { colorsAllowed, type Terminal } from '../../src/cli/ui/terminal.js';

function fakeTerminal(interactive: boolean): { term: Terminal; err: string[] } {
  const err: string[] = [];
  return { term: { out() {}, err: (s) => void err.push(s), color: new Chalk({ level: 0 }), interactive, stderr: process.stderr }, err };
}

test('colours: a TTY without NO_COLOR (non-empty) or TERM=dumb', () => {
  assert.equal(colorsAllowed({ isTTY: true }, {}), true);
  assert.equal(colorsAllowed({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(colorsAllowed({ isTTY: true }, { NO_COLOR: '' }), true, 'no-color.org: only a non-empty value counts');
  assert.equal(colorsAllowed({ isTTY: true }, { TERM: 'dumb' }), false);
  assert.equal(colorsAllowed({ isTTY: false }, {}), false);
  assert.equal(colorsAllowed({}, {}), false);
});

test('progress bars only on an interactive terminal without --quiet', () => {
  assert.ok(createCliContext(fakeTerminal(true).term, { quiet: false, verbose: false }).progress instanceof BarProgress);
  assert.ok(createCliContext(fakeTerminal(true).term, { quiet: true, verbose: false }).progress instanceof QuietProgress);
  assert.ok(createCliContext(fakeTerminal(false).term, { quiet: false, verbose: false }).progress instanceof QuietProgress);
});

test('logger levels: --quiet drops info, warnings stay, debug needs --verbose', () => {
  const quiet = fakeTerminal(false);
  const q = createCliContext(quiet.term, { quiet: true, verbose: false });
  q.logger.info('i');
  q.logger.warn('w');
  q.logger.debug('d');
  q.progress.start('task', 3).done();
  assert.deepEqual(quiet.err, ['warning: w\n']);
  const loud = fakeTerminal(false);
  const v = createCliContext(loud.term, { quiet: false, verbose: true });
  v.logger.info('i');
  v.logger.debug('d');
  v.progress.start('calibrate', 3).done();
  assert.deepEqual(loud.err, ['i\n', 'debug: d\n', 'debug: calibrate: 3 steps\n']);
});
