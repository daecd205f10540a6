/**
 * GatherBlockQuantized (onnxruntime contrib op, com.microsoft 1): Gather from a block-quantized constant
 * (a 4-bit or 8-bit embedding table), dequantizing only the gathered rows:
 *
 *   output[..., i, ...] = (q[..., indices[i], ...] - zero_point[block]) * scale[block]
 *
 * `data` is int4 / uint4 (one code per element), or uint8 holding `bits` = 2, 4 or 8 codes per byte packed
 * low bits first along the last axis (then gather_axis must be 0 and quantize_axis the last axis).
 * Blocks of `block_size` (a power of two >= 16, default 128) run along `quantize_axis` (default 1);
 * `scales` has data's rank with that axis divided (rounding up) by block_size, `zero_points` the same
 * shape (for packed uint8 data packed like it along the last axis). Default zero points: 0 for int4/uint4,
 * 2^(bits - 1) for uint8. Indices may be negative (counted from the end); out-of-range indices give
 * zero rows, as onnxruntime does. Computed on the host, in onnxruntime's float32 order.
 */
import { DataType, dataTypeName, isFloatType } from '../../core/dtype.js';
import { ModelError } from '../../core/errors.js';
import type { OpKernel } from '../kernel.js';
import { normAxis, required } from '../kernel.js';
import { isLowPrecisionFloat } from '../util/quant.js';
import { RTensor } from '../value.js';

/** GatherBlockQuantized kernel: com.microsoft 1. */
export const GatherBlockQuantized: OpKernel[] = [
  {
    domain: 'com.microsoft',
    opType: 'GatherBlockQuantized',
    since: 1,
    run: (inputs, ctx) => {
      const data = required(inputs, 0, ctx);
      const indices = required(inputs, 1, ctx);
      const scales = required(inputs, 2, ctx);
      const zp = inputs[3] ?? null;
      const node = ctx.node;
      const what = node.describe();
      if (isLowPrecisionFloat(data.dataType)) {
        throw new ModelError(`${what}: ${dataTypeName(data.dataType)} data is not supported (float8/float4 data cannot be decoded by this kernel)`, 'use int4, uint4 or uint8 data');
      }
      const packed = data.dataType === DataType.UINT8;
      if (!packed && data.dataType !== DataType.INT4 && data.dataType !== DataType.UINT4) {
        throw new ModelError(`${what}: data must be int4, uint4 or uint8, got ${dataTypeName(data.dataType)}`);
      }
      if (!isFloatType(scales.dataType)) throw new ModelError(`${what}: scales must be float, got ${dataTypeName(scales.dataType)}`);
      if (zp && zp.dataType !== data.dataType) throw new ModelError(`${what}: zero_points must have data's type ${dataTypeName(data.dataType)}`);
      const rank = data.rank;
      const gAxis = normAxis(node.attrInt('gather_axis', 0), rank, ctx);
      const qAxis = normAxis(node.attrInt('quantize_axis', 1), rank, ctx);
      const blockSize = node.attrInt('block_size', 128);
      const bits = node.attrInt('bits', 4);
      if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new ModelError(`${what}: block_size must be a power of 2 and >= 16, got ${blockSize}`);
      if (packed ? bits !== 2 && bits !== 4 && bits !== 8 : bits !== 4) {
        throw new ModelError(`${what}: bits ${bits} is not supported for ${dataTypeName(data.dataType)} data`, packed ? 'use 2, 4 or 8' : 'int4/uint4 data has bits = 4');
      }
      const components = packed ? 8 / bits : 1;
      if (packed && (gAxis !== 0 || qAxis !== rank - 1)) {
        throw new ModelError(`${what}: uint8 data needs gather_axis 0 and quantize_axis ${rank - 1} (the packed last axis)`);
      }
      // Logical shape: packed uint8 holds `components` codes per byte along the last axis.
      const dims = data.dims.slice();
      dims[rank - 1] = dims[rank - 1]! * components;
      const blocks = Math.ceil(dims[qAxis]! / blockSize);
      if (scales.rank !== rank || scales.dims.some((d, i) => d !== (i === qAxis ? blocks : dims[i]))) {
        throw new ModelError(`${what}: scales shape [${scales.dims.join(',')}] does not fit data [${dims.join(',')}] with block_size ${blockSize} on axis ${qAxis}`);
      }
      if (zp) {
        const ok = zp.rank === rank && zp.dims.every((d, i) => d === (packed && i === qAxis ? Math.ceil(scales.dims[i]! / components) : scales.dims[i]));
        if (!ok) throw new ModelError(`${what}: zero_points shape [${zp.dims.join(',')}] does not fit scales [${scales.dims.join(',')}]`);
      }

      const q = data.host() as Int8Array | Uint8Array;
      const s = scales.float32();
      const z = zp ? (zp.host() as Int8Array | Uint8Array) : null;
      const idx = indices.numbers();
      const mask = (1 << bits) - 1;
      const code = (i: number): number => (packed ? (q[Math.floor(i / components)]! >> ((i % components) * bits)) & mask : q[i]!);
      const defaultZp = packed ? 1 << (bits - 1) : 0;
      // For packed uint8, zero points are packed per row of blocks (quantize_axis is last).
      const zpRow = Math.ceil(blocks / components);
      const zeroPoint = (si: number): number => {
        if (!z) return defaultZp;
        if (!packed || components === 1) return z[si]!;
        const row = Math.floor(si / blocks);
        const inRow = si % blocks;
        return (z[row * zpRow + Math.floor(inRow / components)]! >> ((inRow % components) * bits)) & mask;
      };

      const outer = dims.slice(0, gAxis).reduce((a, b) => a * b, 1);
      const axisDim = dims[gAxis]!;
      const inner = dims.slice(gAxis + 1).reduce((a, b) => a * b, 1);
      const qDim = dims[qAxis]!;
      const qInner = dims.slice(qAxis + 1).reduce((a, b) => a * b, 1);
      const out = new Float32Array(outer * idx.length * inner);
      let o = 0;
      for (let m = 0; m < outer; m++) {
        for (const raw of idx) {
          if (raw < -axisDim || raw >= axisDim) {
            o += inner;
            continue;
          }
          const base = (m * axisDim + (raw < 0 ? raw + axisDim : raw)) * inner;
          for (let e = 0; e < inner; e++, o++) {
            const di = base + e;
            // data index -> (x, y, z) over [.., qDim, qInner] -> scale index (x, y / block, z).
            const x = Math.floor(di / (qDim * qInner));
            const y = Math.floor(di / qInner) % qDim;
            const si = (x * blocks + Math.floor(y / blockSize)) * qInner + (di % qInner);
            out[o] = Math.fround(Math.fround(code(di) - zeroPoint(si)) * s[si]!);
          }
        }
      }
      const outDims = [...dims.slice(0, gAxis), ...indices.dims, ...dims.slice(gAxis + 1)];
      return [scales.dataType === DataType.FLOAT ? RTensor.fromHost(DataType.FLOAT, outDims, out) : RTensor.fromNumbers(scales.dataType, outDims, out)];
    },
  },
];
