/**
 * The HTML report in a real browser: Debian's headless Chromium opens the file (no network), runs its
 * inline script, and the DOM it dumps must hold the drawn plots: bars for size by layer and by op type
 * and per-layer error, points for accuracy against size, with the counts the report's data implies.
 * Needs /usr/bin/chromium (scripts/test-deps.mjs installs Debian's `chromium`); this test installs nothing.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatHtml, plotData } from '../../src/report/format/html.js';
import type { Report } from '../../src/report/schema.js';
import { repoRoot, runCli } from '../cli/helpers.js';
import { tempDir } from '../helpers/tmp.js';

const chromium = '/usr/bin/chromium';
let dir: string;

before(() => {
  dir = tempDir('compress-html-');
});

/** The DOM after scripts ran, as Chromium dumps it. */
function renderedDom(file: string): string {
  assert.ok(existsSync(chromium), `${chromium} is missing: run node scripts/test-deps.mjs (installs Debian's chromium)`);
  const r = spawnSync(
    chromium,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${join(dir, 'profile')}`, '--dump-dom', pathToFileURL(file).href],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function svgCount(dom: string, id: string): number {
  const m = new RegExp(`<svg[^>]*id="${id}"[^>]*data-count="(\\d+)"`).exec(dom);
  assert.ok(m, `plot ${id} was not drawn`);
  return Number(m[1]);
}

function plotSvg(dom: string, id: string): string {
  const start = dom.indexOf(`id="${id}"`);
  return dom.slice(start, dom.indexOf('</svg>', start));
}

test('a quantize report with measurements: all four plots drawn in Chromium with the expected bars and points', async () => {
  const root = repoRoot();
  const q = join(dir, 'mlp.q.onnx');
  const r = await runCli(['quantize', join(root, 'fixtures/mlp/model.onnx'), '-o', q, '--data', join(root, 'fixtures/mlp/data/test_x.npy'), '--labels', join(root, 'fixtures/mlp/data/test_y.npy'), '--samples', '200', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(`${q}.report.json`, 'utf8')) as Report;
  const data = plotData(report);
  assert.equal(data.layers.length, 3, 'three Gemm weights quantized');
  assert.deepEqual(data.ops.map((b) => b.label), ['Gemm']);
  assert.equal(data.errors.length, 3);
  assert.equal(data.quality.metric, 'accuracy');

  const html = formatHtml(report);
  assert.doesNotMatch(html, /\s(src|href)=/, 'no external resources');
  const file = join(dir, 'report.html');
  writeFileSync(file, html);
  const dom = renderedDom(file);
  assert.match(dom, /<body[^>]*data-plots="drawn"/);
  assert.equal(svgCount(dom, 'plot-layers'), 3);
  assert.equal(svgCount(dom, 'plot-ops'), 1);
  assert.equal(svgCount(dom, 'plot-errors'), 3);
  assert.equal(svgCount(dom, 'plot-quality'), 2);
  assert.equal((plotSvg(dom, 'plot-layers').match(/<rect class="bar"/g) ?? []).length, 3);
  assert.equal((plotSvg(dom, 'plot-errors').match(/<rect class="bar"/g) ?? []).length, 3);
  assert.equal((plotSvg(dom, 'plot-quality').match(/<circle class="point"/g) ?? []).length, 2);
  // the widest bar of the size plot is the 784x256 layer
  assert.match(plotSvg(dom, 'plot-layers'), /<title>\/net\/net\.0\/Gemm: 196\.0 KiB<\/title>/);
});

test('compress report -o x.html on one model without data: size plots drawn, error and accuracy plots say why they are empty', async () => {
  const root = repoRoot();
  const file = join(dir, 'single.html');
  const r = await runCli(['report', join(root, 'fixtures/mlp/model.onnx'), '-o', file]);
  assert.equal(r.code, 0, r.stderr);
  const dom = renderedDom(file);
  assert.equal(svgCount(dom, 'plot-layers'), 6, 'three weights and three biases');
  assert.equal(svgCount(dom, 'plot-ops'), 1);
  assert.equal(svgCount(dom, 'plot-errors'), 0);
  assert.equal(svgCount(dom, 'plot-quality'), 0);
  // An empty plot says why in a paragraph that wraps with the page, not in SVG text cut at the plot's edge.
  assert.match(dom, /<p class="plot-empty" id="plot-quality-empty">accuracy was not measured: give --data \(and --labels\) to plot it<\/p>/);
  assert.match(dom, /<p class="plot-empty" id="plot-errors-empty">no per-layer error was recorded \(the compressing commands record it; compress report compares outputs only\)<\/p>/);
  assert.doesNotMatch(plotSvg(dom, 'plot-errors'), /<text/);
  assert.match(dom, /accuracy was not measured: no --data was given/);
});
