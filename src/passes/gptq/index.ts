/**
 * `compress gptq`: GPTQ weight quantization from calibration data (Frantar et al. 2022), block by block,
 * written as MatMulNBits or DequantizeLinear + MatMul. See docs/gptq.md.
 */
export { parseGptqOptions, gptqDefaults, gptqBitWidths, gptqFormats, type GptqOptions, type GptqBits, type GptqFormat } from './options.js';
export { gptq, printablePlan, effectiveGroup, layerBytes, type GptqContext, type GptqOutcome, type GptqPlan } from './pass.js';
export { gptqQuantize, rtnQuantize, reconstructionError, gridParams, containerBits, type GptqParams, type GptqResult } from './solve.js';
