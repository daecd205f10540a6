import { test } from 'node:test';
import { DataType } from '../../../src/core/dtype.js';
import { makeAttr } from '../../../src/ir/attribute.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { checkOp, i64 } from './shapeHarness.js';

test('ConstantOfShape: default float zeros, int64 and float values, large and empty shapes', async () => {
  await checkOp('ConstantOfShape', 9, [i64('s', [2, 3])]);
  await checkOp('ConstantOfShape', 9, [i64('s', [40, 50])], [makeAttr('value', new Tensor(DataType.FLOAT, [1], Float32Array.of(0.5)))]);
  await checkOp('ConstantOfShape', 9, [i64('s', [3, 0])], [makeAttr('value', new Tensor(DataType.INT64, [1], BigInt64Array.of(2n ** 41n)))], [{ name: 'y', dataType: DataType.INT64 }]);
});
