import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantizeOptions } from '../../../src/passes/quantize/index.js';

const usage = (raw: Record<string, unknown>, pattern: RegExp) =>
  assert.throws(() => parseQuantizeOptions(raw), (e: Error & { exitCode?: number }) => e.exitCode === 2 && pattern.test(e.message), JSON.stringify(raw));

test('defaults: 8-bit symmetric per channel, mode chosen by data; 4-bit implies weight-only, groups of 128, asymmetric', () => {
  const o = parseQuantizeOptions({});
  assert.equal(o.mode, 'auto');
  assert.equal(o.bits, 8);
  assert.equal(o.granularity, 'channel');
  assert.equal(o.symmetric, true);
  assert.equal(o.calibration, 'auto');
  assert.equal(o.keepSensitive, true);
  const f = parseQuantizeOptions({ bits: '4' });
  assert.equal(f.mode, 'weight-only');
  assert.equal(f.granularity, 'group');
  assert.equal(f.groupSize, 128);
  assert.equal(f.symmetric, false);
  assert.equal(parseQuantizeOptions({ bits: 4, symmetric: true }).symmetric, true);
  assert.equal(parseQuantizeOptions({ calibration: 'entropy' }).mode, 'static');
  assert.equal(parseQuantizeOptions({ calibration: 'auto' }).mode, 'static');
  assert.equal(parseQuantizeOptions({ percentile: '99.9' }).calibration, 'percentile');
  assert.equal(parseQuantizeOptions({ dynamic: true }).mode, 'dynamic');
  assert.deepEqual(parseQuantizeOptions({ ops: 'matmul, Gemm' }).ops, ['MatMul', 'Gemm']);
  assert.ok(parseQuantizeOptions({ exclude: '^/lm_head' }).exclude!.test('/lm_head/MatMul'));
  assert.equal(parseQuantizeOptions({ format: 'qoperator', bits: 4 }).format, 'matmulnbits');
});

test('bad values name the flag and what it accepts', () => {
  usage({ bits: 3 }, /--bits must be 8 or 4/);
  usage({ bits: 'eight' }, /--bits needs a number/);
  usage({ granularity: 'row' }, /--granularity must be one of tensor, channel, group/);
  usage({ groupSize: 0, bits: 4 }, /--group-size must be an integer >= 2/);
  usage({ format: 'gguf' }, /--format must be one of qdq, matmulnbits, qoperator/);
  usage({ calibration: 'kl' }, /--calibration must be one of auto, minmax, percentile, entropy, mse/);
  usage({ percentile: 0 }, /--percentile must be in \(0, 100\]/);
  usage({ percentile: 101 }, /--percentile must be in/);
  usage({ ops: 'MatMul,Softmax' }, /--ops: 'Softmax'/);
  usage({ exclude: '(' }, /--exclude is not a valid regular expression/);
  usage({ batchSize: -1 }, /--batch-size must be an integer >= 1/);
});

test('conflicting flags are refused', () => {
  usage({ dynamic: true, bits: 4 }, /--dynamic quantizes to 8 bits only/);
  usage({ symmetric: true, asymmetric: true }, /--symmetric and --asymmetric exclude each other/);
  usage({ fp16: true, bits: 8 }, /--fp16 takes no integer-quantization flags; drop --bits/);
  usage({ fp16: true, dynamic: true }, /exclude each other/);
  usage({ weightOnly: true, calibration: 'minmax' }, /--calibration applies to static/);
  usage({ dynamic: true, format: 'qdq' }, /--dynamic writes onnxruntime's QOperator form/);
  usage({ calibration: 'minmax', granularity: 'group' }, /--granularity group is for weight-only/);
  usage({ bits: 4, format: 'matmulnbits', groupSize: 48 }, /power of two >= 16/);
  usage({ bits: 4, format: 'matmulnbits', granularity: 'channel' }, /needs --granularity group/);
  usage({ granularity: 'channel', groupSize: 64 }, /--group-size applies to --granularity group/);
  usage({ calibration: 'minmax', format: 'matmulnbits', granularity: 'group' }, /granularity group is for weight-only|static quantization writes QDQ/);
  usage({ dynamic: true, ops: 'Add' }, /only static quantization touches activations/);
  usage({ calibration: 'entropy', percentile: 99 }, /--percentile applies to --calibration percentile/);
});
