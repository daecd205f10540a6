/**
 * docs/cli.md and `--help` list the same flags, command by command, so the contract in the repository
 * stays in step with the program. Each ```text flags:<group> [<included group>...] block of the page
 * lists a group's flags (the `--flag` that begins a line indented by two spaces; descriptions are indented further); a command's flags are
 * its own group's and those of the groups it names. They must be the flags its commander declaration
 * has, and every one of them must appear in the text `compress <command> --help` prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../src/cli/program.js';
import { repoRoot, runCli } from './helpers.js';

interface Group {
  flags: string[];
  includes: string[];
}

function groups(): Map<string, Group> {
  const page = readFileSync(join(repoRoot(), 'docs', 'cli.md'), 'utf8');
  const out = new Map<string, Group>();
  for (const m of page.matchAll(/^```text flags:(\S+)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const flags = [...m[3]!.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((x) => x[1]!);
    assert.ok(!out.has(m[1]!), `flags:${m[1]} appears twice`);
    out.set(m[1]!, { flags, includes: m[2]!.trim().split(/\s+/).filter(Boolean) });
  }
  return out;
}

function documented(command: string, all: Map<string, Group>): string[] {
  const g = all.get(command);
  assert.ok(g, `docs/cli.md has no \`\`\`text flags:${command} block`);
  const flags = [...g.flags];
  for (const inc of g.includes) {
    const sub = all.get(inc);
    assert.ok(sub, `flags:${command} includes an unknown group '${inc}'`);
    flags.push(...sub.flags);
  }
  return flags;
}

const program = buildProgram({ term: { out() {}, err() {}, interactive: false } as never, exitCode: 0, verbose: false });
const commands = program.commands.map((c) => c.name()).filter((n) => n !== 'help');

test('every command is documented on docs/cli.md', () => {
  assert.deepEqual(commands, ['quantize', 'gptq', 'prune', 'svd', 'distill', 'run', 'report']);
  const all = groups();
  for (const c of commands) assert.ok(all.has(c), c);
});

for (const name of commands) {
  test(`compress ${name}: docs/cli.md and --help list the same flags`, async () => {
    const doc = documented(name, groups());
    const dupes = doc.filter((f, i) => doc.indexOf(f) !== i);
    assert.deepEqual(dupes, [], 'no flag listed twice');
    const cmd = program.commands.find((c) => c.name() === name)!;
    const declared = cmd.options.map((o) => o.long!).filter((f) => f !== '--help');
    assert.deepEqual([...doc].sort(), [...declared].sort());
    const help = await runCli([name, '--help']);
    assert.equal(help.code, 0);
    for (const f of doc) assert.match(help.stdout, new RegExp(`^\\s+(-\\w, )?${f}\\b`, 'm'), `${f} in --help`);
  });
}
