#!/usr/bin/env node
// Sets up the native TensorFlow backend (@tensorflow/tfjs-node) so that `--backend tfjs-node` runs and
// `--backend auto` picks it. See docs/backends.md.
//
//   npm run setup:native [-- --wheel FILE] [-- --offline] [-- --force] [-- --remove]
//
// What it does, in order, stopping as soon as tfjs-node loads:
// 1. Checks whether @tensorflow/tfjs-node already loads (then there is nothing to do: idempotent).
// 2. Installs @tensorflow/tfjs-node (the release matching our @tensorflow/tfjs) with npm, as an
//    optional addition that package.json and package-lock.json do not record, with install scripts off:
//    npm 11 skips dependencies' install scripts anyway ("not yet covered by allowScripts"), and older
//    npm would run tfjs-node's, which downloads; this script runs the steps itself instead.
// 3. The normal route, where the network allows: tfjs-node's own scripts/install.js, which downloads
//    libtensorflow (2.9.1) and its prebuilt addon (or builds it). Skipped with --offline or --wheel.
// 4. Else the offline route: TensorFlow's C libraries and C API headers taken out of a tensorflow-cpu
//    wheel (--wheel FILE, or `pip download tensorflow-cpu==<--tf-version>` through the machine's pip and
//    its package mirror), placed in the package's deps/ (stripped when `strip` exists), and the addon
//    built from source with node-pre-gyp against Node's local headers (a C++ compiler, make and python3
//    are needed, as for any node-gyp build).
// 5. Checks that tfjs-node loads and computes, and that compress selects it.
// Everything it writes lives in node_modules/@tensorflow/tfjs-node: a later `npm install`, `npm ci` or
// reinstall of tfjs-node removes it (run this again); --remove uninstalls it.
// Node built-ins and fflate (a dependency of compress) only. Exit code 0 when tfjs-node loads, 1 otherwise.

import { spawnSync } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Unzip, UnzipInflate } from 'fflate';

const USAGE = `usage: npm run setup:native [-- options]

Installs @tensorflow/tfjs-node and makes it load: by its normal download where the network allows,
else from a tensorflow-cpu wheel (found through pip, or given with --wheel).

options:
  --wheel <file>        take TensorFlow from this tensorflow-cpu wheel (no download attempt)
  --offline             skip the normal download; use a wheel found through pip
  --tf-version <v>      the tensorflow-cpu release pip looks for (default: 2.21.0)
  --prefix <dir>        the project whose node_modules gets tfjs-node (default: compress's own folder,
                        or the project that has compress in its node_modules)
  --force               set up again even when tfjs-node already loads
  --remove              uninstall tfjs-node (and everything this script built)
  --keep-symbols        do not strip the TensorFlow libraries (about 850 MB instead of 606 MB)
  -h, --help            this text`;

const TF_VERSION_DEFAULT = '2.21.0';
/** The libtensorflow release tfjs-node's install script looks for; a file by this name in deps/lib makes it leave deps/ alone. */
const TFJS_NODE_LIBTENSORFLOW = '2.9.1';
/** Scratch space the offline route needs in node_modules (the unstripped libraries) and in tmpdir (the wheel). */
const SCRATCH_BYTES = 1.2e9;

const t0 = Date.now();
const say = (msg) => console.log(`setup:native: ${msg}`);
const elapsed = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

class SetupError extends Error {
  constructor(message, hint) {
    super(message);
    this.hint = hint;
  }
}

function parse() {
  try {
    return parseArgs({
      options: {
        wheel: { type: 'string' },
        offline: { type: 'boolean', default: false },
        'tf-version': { type: 'string', default: TF_VERSION_DEFAULT },
        prefix: { type: 'string' },
        force: { type: 'boolean', default: false },
        remove: { type: 'boolean', default: false },
        'keep-symbols': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`setup:native: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
}

/** compress's own folder (this script's parent). */
const compressRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where npm installs tfjs-node: compress's folder, or the project holding it in node_modules. */
function defaultPrefix() {
  const parts = compressRoot.split(sep);
  const i = parts.lastIndexOf('node_modules');
  return i > 0 ? parts.slice(0, i).join(sep) || sep : compressRoot;
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The npm command: the npm running this script (npm run), else the one on PATH. */
function npmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath && /npm-cli\.js$/.test(execPath)) return { cmd: process.execPath, pre: [execPath] };
  return { cmd: process.platform === 'win32' ? 'npm.cmd' : 'npm', pre: [] };
}

function npm(args, cwd, { capture = true } = {}) {
  const { cmd, pre } = npmCommand();
  const r = spawnSync(cmd, [...pre, ...args], { cwd, encoding: 'utf8', stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit', shell: process.platform === 'win32' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

/** The release of @tensorflow/tfjs compress runs on: tfjs-node must be the same one. */
function tfjsVersion() {
  const req = createRequire(join(compressRoot, 'package.json'));
  try {
    return readJson(req.resolve('@tensorflow/tfjs/package.json')).version;
  } catch {
    throw new SetupError('@tensorflow/tfjs is not installed beside compress', 'run npm install first');
  }
}

/** The installed tfjs-node package folder as compress resolves it, or undefined. */
function tfjsNodeDir() {
  const req = createRequire(join(compressRoot, 'package.json'));
  try {
    return dirname(req.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return undefined;
  }
}

/** The environment TensorFlow loads quietly in (compress sets the same defaults: src/runtime/backend.ts). */
function quietEnv(extra = {}) {
  return { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2', TF_ENABLE_ONEDNN_OPTS: process.env.TF_ENABLE_ONEDNN_OPTS ?? '0', ...extra };
}

/**
 * Loads tfjs-node in a child process, as compress would resolve it, and checks that it computes a small
 * product. Returns { ok, tfjsNode, tensorflow, error }.
 */
function probe() {
  const code = `
    const { createRequire } = require('node:module');
    const req = createRequire(${JSON.stringify(join(compressRoot, 'package.json'))});
    const tf = req('@tensorflow/tfjs-node');
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync();
    if (tf.getBackend() !== 'tensorflow' || y[0] !== 17 || y[1] !== 39) throw new Error('tfjs-node loaded but computed ' + Array.from(y) + ' on ' + tf.getBackend());
    console.log(JSON.stringify({ tfjsNode: tf.version['tfjs-node'], tensorflow: tf.backend().binding.TF_Version }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: quietEnv(), timeout: 120_000 });
  if (r.status === 0) {
    try {
      return { ok: true, ...JSON.parse(r.stdout.trim().split('\n').pop()) };
    } catch {
      // fall through: unexpected output
    }
  }
  const lines = `${r.stderr ?? ''}`.split('\n').filter((l) => /Error|error:|cannot|not found|undefined symbol/i.test(l));
  return { ok: false, error: (lines[0] ?? `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`).trim() };
}

/** compress's own selection of the backend (needs the built dist/), as `--backend tfjs-node` does it. */
function checkCompress() {
  const backendJs = join(compressRoot, 'dist', 'src', 'runtime', 'backend.js');
  if (!existsSync(backendJs)) return 'compress is not built (npm run build): its backend check was skipped';
  const code = `
    const b = await import(${JSON.stringify(pathToFileURL(backendJs).href)});
    const info = await b.initBackend('tfjs-node');
    const auto = await b.initBackend('auto');
    console.log(JSON.stringify({ explicit: b.describeBackend(info), auto: b.describeBackend(auto) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new SetupError(`tfjs-node loads, but compress could not select it: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  if (r.stderr.trim() !== '') throw new SetupError(`compress printed on stderr while loading tfjs-node (TensorFlow's log lines must stay quiet): ${r.stderr.trim().split('\n')[0]}`);
  const got = JSON.parse(r.stdout.trim().split('\n').pop());
  return `compress selects it: --backend tfjs-node -> ${got.explicit}; --backend auto -> ${got.auto}`;
}

/** What this script recorded about the build it made, if any. */
function readMarker(pkgDir) {
  const p = join(pkgDir, 'deps', 'compress-native.json');
  return existsSync(p) ? readJson(p) : undefined;
}

function describeSource(marker) {
  if (!marker) return '';
  return marker.source === 'wheel' ? ` (built by setup:native from ${marker.wheel} on ${marker.date})` : ` (libtensorflow downloaded by tfjs-node's installer on ${marker.date})`;
}

function installPackage(prefix, version) {
  const since = Date.now();
  // --no-save with --save-optional: npm installs a package the project lists as an optional peer (it
  // would not with --no-save alone), and writes neither package.json nor package-lock.json.
  const r = npm(['install', '--no-save', '--save-optional', '--ignore-scripts', '--no-audit', '--no-fund', `@tensorflow/tfjs-node@${version}`], prefix);
  if (!r.ok) throw new SetupError(`npm could not install @tensorflow/tfjs-node@${version}:\n${r.out.trim()}`, 'check that the npm registry is reachable');
  const dir = tfjsNodeDir();
  if (!dir) throw new SetupError(`npm installed @tensorflow/tfjs-node@${version} in ${prefix}, but compress does not resolve it from ${compressRoot}`, 'pass --prefix <the project whose node_modules holds compress>');
  say(`installed @tensorflow/tfjs-node@${version} with npm, install scripts off (${elapsed(since)})`);
  return dir;
}

/** Removes what a previous attempt left in the package (libraries, build, addon). */
function cleanBuild(pkgDir) {
  for (const d of ['deps', 'build', 'lib']) rmSync(join(pkgDir, d), { recursive: true, force: true });
}

/** npm's nodedir setting, else the headers installed beside this node (so node-gyp need not download them). */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const r = npm(['config', 'get', 'nodedir'], compressRoot);
  const configured = r.ok ? r.stdout.trim() : '';
  if (configured && configured !== 'undefined' && configured !== 'null') return configured;
  const local = dirname(dirname(process.execPath));
  return existsSync(join(local, 'include', 'node', 'node_api.h')) ? local : undefined;
}

/** Runs a command with its output in a log file; returns whether it succeeded. */
function logged(cmd, args, cwd, env, logPath, timeout) {
  const fd = openSync(logPath, 'a');
  try {
    writeSync(fd, `\n$ ${cmd} ${args.join(' ')}   (in ${cwd})\n`);
    const r = spawnSync(cmd, args, { cwd, env, stdio: ['ignore', fd, fd], timeout });
    return r.status === 0;
  } finally {
    closeSync(fd);
  }
}

function tail(path, n = 15) {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** The normal route: tfjs-node's own installer (downloads libtensorflow and the addon). */
function tryDownload(pkgDir, logPath) {
  const since = Date.now();
  cleanBuild(pkgDir);
  const dir = nodeDir();
  const ok = logged(process.execPath, ['scripts/install.js'], pkgDir, { ...process.env, ...(dir ? { npm_config_nodedir: dir } : {}) }, logPath, 15 * 60_000);
  if (ok && probe().ok) {
    writeFileSync(join(pkgDir, 'deps', 'compress-native.json'), JSON.stringify({ source: 'download', date: new Date().toISOString().slice(0, 10) }, null, 2) + '\n');
    say(`tfjs-node's installer downloaded libtensorflow and its addon (${elapsed(since)})`);
    return true;
  }
  const reason = tail(logPath, 40).split('\n').find((l) => /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|getaddrinfo|Error/.test(l)) ?? 'see the log';
  say(`the normal download did not work (${reason.trim().slice(0, 160)}); taking TensorFlow from a wheel instead`);
  cleanBuild(pkgDir);
  return false;
}

/** A tensorflow-cpu wheel through pip (the machine's index or mirror), into `dir`. */
function pipDownload(tfVersion, dir) {
  const since = Date.now();
  const pythons = [process.env.PYTHON, 'python3', 'python'].filter(Boolean);
  let last = '';
  for (const py of pythons) {
    const r = spawnSync(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--retries', '0', '--timeout', '3', `tensorflow-cpu==${tfVersion}`, '-d', dir], { encoding: 'utf8' });
    if (r.error) {
      last = `${py}: ${r.error.message}`;
      continue;
    }
    if (r.status === 0) {
      const wheel = readdirSync(dir).find((f) => /^tensorflow_cpu-.*\.whl$/.test(f));
      if (wheel) {
        say(`pip (${py}) found ${wheel} (${(statSync(join(dir, wheel)).size / 2 ** 20).toFixed(0)} MiB, ${elapsed(since)})`);
        return join(dir, wheel);
      }
    }
    last = `${py} -m pip download: ${`${r.stderr}${r.stdout}`.trim().split('\n').slice(-2).join(' ')}`;
  }
  throw new SetupError(`no tensorflow-cpu==${tfVersion} wheel could be found through pip (${last})`, 'download one elsewhere and pass it with --wheel <file>, or choose another release with --tf-version');
}

/** Which wheel members go where in deps/: the two libraries, and the C API headers the addon includes. */
function depsPathOf(name) {
  if (name === 'tensorflow/libtensorflow_cc.so.2' || name === 'tensorflow/libtensorflow_framework.so.2') return join('lib', basename(name));
  if (!name.startsWith('tensorflow/include/') || name.endsWith('/')) return undefined;
  const rel = name.slice('tensorflow/include/'.length);
  const wanted = rel.startsWith('tensorflow/c/') || rel.startsWith('xla/tsl/c/') || /^(tensorflow\/core|tsl)\/platform\/ctstring/.test(rel);
  return wanted ? join('include', rel) : undefined;
}

/** Streams the wanted members of a wheel (a zip) into `dest`, decompressing with fflate. */
async function extractWheel(wheel, dest) {
  const since = Date.now();
  const unzip = new Unzip();
  unzip.register(UnzipInflate);
  let bytes = 0;
  let failure;
  const written = [];
  unzip.onfile = (file) => {
    const rel = depsPathOf(file.name);
    if (!rel) return;
    const path = join(dest, rel);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w');
    written.push(rel);
    file.ondata = (err, chunk, final) => {
      if (err) failure ??= err;
      else {
        writeSync(fd, chunk);
        bytes += chunk.length;
      }
      if (final || err) closeSync(fd);
    };
    file.start();
  };
  await new Promise((res, rej) => {
    const s = createReadStream(wheel, { highWaterMark: 1 << 20 });
    s.on('data', (chunk) => {
      try {
        unzip.push(chunk);
      } catch (e) {
        s.destroy(e);
      }
    });
    s.on('end', () => {
      unzip.push(new Uint8Array(0), true);
      res();
    });
    s.on('error', rej);
  });
  if (failure) throw new SetupError(`${basename(wheel)} could not be decompressed: ${failure.message}`);
  for (const need of [join('lib', 'libtensorflow_cc.so.2'), join('lib', 'libtensorflow_framework.so.2'), join('include', 'tensorflow', 'c', 'c_api.h'), join('include', 'tensorflow', 'c', 'eager', 'c_api.h')]) {
    if (!written.includes(need)) throw new SetupError(`${basename(wheel)} has no ${need.replace(/^lib/, 'tensorflow').replace(/^include/, 'tensorflow/include')}: not a tensorflow-cpu wheel for Linux?`);
  }
  say(`took ${written.length} files (${(bytes / 2 ** 20).toFixed(0)} MiB) out of ${basename(wheel)} (${elapsed(since)})`);
}

function dirBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += dirBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/** The offline route: TensorFlow out of a wheel into deps/, then the addon built from source. */
async function fromWheel(pkgDir, opts, logPath) {
  const scratch = mkdtempSync(join(tmpdir(), 'compress-native-'));
  const staging = join(pkgDir, `deps.tmp-${process.pid}`);
  try {
    const free = statfsSync(pkgDir);
    if (free.bavail * free.bsize < SCRATCH_BYTES) {
      throw new SetupError(`only ${((free.bavail * free.bsize) / 2 ** 20).toFixed(0)} MiB free beside ${pkgDir}; the TensorFlow libraries need about ${(SCRATCH_BYTES / 2 ** 20).toFixed(0)} MiB while they are unpacked`);
    }
    const wheel = opts.wheel ? resolve(opts.wheel) : pipDownload(opts['tf-version'], scratch);
    if (!existsSync(wheel)) throw new SetupError(`--wheel ${opts.wheel}: no such file`);
    rmSync(staging, { recursive: true, force: true });
    await extractWheel(wheel, staging);
    const lib = join(staging, 'lib');
    if (!opts['keep-symbols']) {
      const since = Date.now();
      const r = spawnSync('strip', ['--strip-unneeded', 'libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'], { cwd: lib, encoding: 'utf8' });
      if (r.status === 0) say(`stripped the libraries (${elapsed(since)})`);
      else say(`could not strip the libraries (${r.error ? r.error.message : r.stderr.trim()}); they stay at full size`);
    }
    // The names the addon links against (-ltensorflow -ltensorflow_framework), and the one tfjs-node's
    // install script checks (so that a rebuild through it leaves deps/ alone).
    symlinkSync('libtensorflow_cc.so.2', join(lib, 'libtensorflow.so'));
    symlinkSync('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so'));
    symlinkSync('libtensorflow_cc.so.2', join(lib, `libtensorflow.so.${TFJS_NODE_LIBTENSORFLOW}`));
    writeFileSync(join(staging, 'compress-native.json'), JSON.stringify({ source: 'wheel', wheel: basename(wheel), date: new Date().toISOString().slice(0, 10) }, null, 2) + '\n');
    cleanBuild(pkgDir);
    renameSync(staging, join(pkgDir, 'deps'));
    say(`placed TensorFlow in ${join(pkgDir, 'deps')} (${(dirBytes(join(pkgDir, 'deps')) / 2 ** 20).toFixed(0)} MiB)`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
  build(pkgDir, logPath);
}

/** Builds the addon from source against deps/ (node-pre-gyp, node-gyp, a C++ compiler). */
function build(pkgDir, logPath) {
  const since = Date.now();
  let preGyp;
  try {
    preGyp = createRequire(join(pkgDir, 'package.json')).resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp');
  } catch {
    throw new SetupError('node-pre-gyp (a dependency of tfjs-node) is not installed', 'run this again with --force');
  }
  const dir = nodeDir();
  const env = { ...process.env, ...(dir ? { npm_config_nodedir: dir } : {}) };
  if (!logged(process.execPath, [preGyp, 'install', '--build-from-source'], pkgDir, env, logPath, 30 * 60_000)) {
    throw new SetupError(`building the tfjs-node addon failed:\n${tail(logPath)}`, 'it needs a C++ compiler, make and python3 (Debian: apt-get install build-essential python3)');
  }
  say(`built the tfjs-node addon from source with node-pre-gyp${dir ? ` (Node headers from ${dir})` : ''} (${elapsed(since)})`);
}

function remove(prefix) {
  const dir = tfjsNodeDir();
  if (!dir) {
    say('@tensorflow/tfjs-node is not installed; nothing to remove');
    return;
  }
  const r = npm(['uninstall', '--no-save', '--no-audit', '--no-fund', '@tensorflow/tfjs-node'], prefix);
  if (!r.ok || existsSync(dir)) throw new SetupError(`npm could not uninstall @tensorflow/tfjs-node:\n${r.out.trim()}`, `remove ${dir} by hand`);
  say(`removed @tensorflow/tfjs-node (and its TensorFlow libraries and addon); compress runs on wasm again`);
}

async function main() {
  const opts = parse();
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const prefix = resolve(opts.prefix ?? defaultPrefix());
  if (opts.remove) return remove(prefix);
  if (process.platform !== 'linux' && !opts.force) {
    // tfjs-node's own installer covers macOS and Windows; the wheel route is written for Linux.
    say(`on ${process.platform}, run npm install @tensorflow/tfjs-node (its installer downloads TensorFlow); the offline route here is for Linux`);
  }
  const version = tfjsVersion();

  let pkgDir = tfjsNodeDir();
  if (pkgDir && !opts.force) {
    const installed = readJson(join(pkgDir, 'package.json')).version;
    const p = probe();
    if (p.ok && installed === version) {
      say(`@tensorflow/tfjs-node ${p.tfjsNode} already loads TensorFlow ${p.tensorflow}${describeSource(readMarker(pkgDir))}; nothing to do (--force sets it up again)`);
      say(checkCompress());
      return;
    }
    if (installed !== version) say(`@tensorflow/tfjs-node ${installed} does not match @tensorflow/tfjs ${version}; installing ${version}`);
    else say(`@tensorflow/tfjs-node ${installed} is installed but does not load (${p.error}); setting it up`);
  }
  if (!pkgDir || opts.force || readJson(join(pkgDir, 'package.json')).version !== version) pkgDir = installPackage(prefix, version);

  const logPath = join(tmpdir(), `compress-setup-native-${process.pid}.log`);
  writeFileSync(logPath, `setup:native ${new Date().toISOString()}\n`);
  const downloaded = !opts.offline && !opts.wheel && tryDownload(pkgDir, logPath);
  if (!downloaded) await fromWheel(pkgDir, opts, logPath);

  const p = probe();
  if (!p.ok) throw new SetupError(`@tensorflow/tfjs-node still does not load: ${p.error}`, `the build log is ${logPath}`);
  say(`@tensorflow/tfjs-node ${p.tfjsNode} loads TensorFlow ${p.tensorflow}${describeSource(readMarker(pkgDir))}`);
  say(checkCompress());
  rmSync(logPath, { force: true });
  say(`done in ${elapsed(t0)}; a later npm install, npm ci or reinstall of tfjs-node removes it (run this again), --remove undoes it`);
}

main().catch((e) => {
  if (e instanceof SetupError) {
    console.error(`setup:native: ${e.message}${e.hint ? `\n  ${e.hint}` : ''}`);
  } else {
    console.error(`setup:native: ${e.stack ?? e}`);
  }
  process.exitCode = 1;
});
