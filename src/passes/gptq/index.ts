/**
 * `compress gptq`: GPTQ weight quantization from calibration data (Frantar et al. 2022), block by block,
 * written as MatMulNBits or DequantizeLinear + MatMul. See docs/gptq.md.
 */
export { parseGptqOptions, gptqDefaults, gptqBitWidths, gptqFormats, gptqOps, type GptqOptions, type GptqBits, type GptqFormat, type GptqOp } from './options.js';
export { gptq, printablePlan, effectiveGroup, layerBytes, type GptqContext, type GptqOutcome, type GptqPlan } from './pass.js';
export { gptqQuantize, gptqFactor, gptqSolve, layerErrors, errorSums, rtnQuantize, reconstructionError, gridParams, containerBits, type GptqParams, type GptqResult, type GptqFactor } from './solve.js';
