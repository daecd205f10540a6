/**
 * The one explicit list of kernels (STYLE.md, habit 1): each op file exports its OpKernel entries
 * (one per since-version that changed semantics); adding an op = one file + one line here.
 */
import type { OpKernel } from '../kernel.js';
import { Relu } from './Relu.js';
import { MaxUnpool } from './MaxUnpool.js';
import { RNN } from './RNN.js';
import { GRU } from './GRU.js';
import { LSTM } from './LSTM.js';
import { Einsum } from './Einsum.js';
import { LRN } from './LRN.js';
import { LpNormalization } from './LpNormalization.js';
import { InstanceNormalization } from './InstanceNormalization.js';
import { LayerNormalization } from './LayerNormalization.js';
import { BatchNormalization } from './BatchNormalization.js';
import { GlobalMaxPool } from './GlobalMaxPool.js';
import { GlobalAveragePool } from './GlobalAveragePool.js';
import { AveragePool } from './AveragePool.js';
import { MaxPool } from './MaxPool.js';
import { ConvTranspose } from './ConvTranspose.js';
import { Conv } from './Conv.js';
import { Gemm } from './Gemm.js';
import { MatMul } from './MatMul.js';
import { Add } from './Add.js';
import { Sub } from './Sub.js';
import { Mul } from './Mul.js';
import { Div } from './Div.js';
import { Pow } from './Pow.js';
import { Mod } from './Mod.js';
import { Neg } from './Neg.js';
import { Abs } from './Abs.js';
import { Sign } from './Sign.js';
import { Sqrt } from './Sqrt.js';
import { Exp } from './Exp.js';
import { Log } from './Log.js';
import { Reciprocal } from './Reciprocal.js';
import { Floor } from './Floor.js';
import { Ceil } from './Ceil.js';
import { Round } from './Round.js';
import { Sin } from './Sin.js';
import { Cos } from './Cos.js';
import { Tanh } from './Tanh.js';
import { Sigmoid } from './Sigmoid.js';
import { Erf } from './Erf.js';
import { Sum } from './Sum.js';
import { Mean } from './Mean.js';
import { Max } from './Max.js';
import { Min } from './Min.js';
import { Clip } from './Clip.js';
import { HardSigmoid } from './HardSigmoid.js';
import { HardSwish } from './HardSwish.js';
import { LeakyRelu } from './LeakyRelu.js';
import { Elu } from './Elu.js';
import { Selu } from './Selu.js';
import { Softplus } from './Softplus.js';
import { Softsign } from './Softsign.js';
import { Gelu } from './Gelu.js';
import { PRelu } from './PRelu.js';
import { Equal } from './Equal.js';
import { Less } from './Less.js';
import { Greater } from './Greater.js';
import { LessOrEqual } from './LessOrEqual.js';
import { GreaterOrEqual } from './GreaterOrEqual.js';
import { And } from './And.js';
import { Or } from './Or.js';
import { Xor } from './Xor.js';
import { Not } from './Not.js';
import { IsNaN } from './IsNaN.js';
import { IsInf } from './IsInf.js';
import { Where } from './Where.js';
import { Softmax } from './Softmax.js';
import { LogSoftmax } from './LogSoftmax.js';
import { ReduceSum } from './ReduceSum.js';
import { ReduceMean } from './ReduceMean.js';
import { ReduceMax } from './ReduceMax.js';
import { ReduceMin } from './ReduceMin.js';
import { ReduceProd } from './ReduceProd.js';
import { ReduceSumSquare } from './ReduceSumSquare.js';
import { ReduceL2 } from './ReduceL2.js';
import { ReduceLogSumExp } from './ReduceLogSumExp.js';
import { ArgMax } from './ArgMax.js';
import { ArgMin } from './ArgMin.js';
import { Cast } from './Cast.js';
import { CastLike } from './CastLike.js';
import { Concat } from './Concat.js';
import { Constant } from './Constant.js';
import { ConstantOfShape } from './ConstantOfShape.js';
import { CumSum } from './CumSum.js';
import { DepthToSpace } from './DepthToSpace.js';
import { Dropout } from './Dropout.js';
import { Expand } from './Expand.js';
import { Flatten } from './Flatten.js';
import { Gather } from './Gather.js';
import { GatherElements } from './GatherElements.js';
import { GatherND } from './GatherND.js';
import { Identity } from './Identity.js';
import { If } from './If.js';
import { Loop } from './Loop.js';
import { NonZero } from './NonZero.js';
import { OneHot } from './OneHot.js';
import { Pad } from './Pad.js';
import { Range } from './Range.js';
import { Reshape } from './Reshape.js';
import { Resize } from './Resize.js';
import { Scan } from './Scan.js';
import { Scatter } from './Scatter.js';
import { ScatterElements } from './ScatterElements.js';
import { ScatterND } from './ScatterND.js';
import { Shape } from './Shape.js';
import { Size } from './Size.js';
import { Slice } from './Slice.js';
import { SpaceToDepth } from './SpaceToDepth.js';
import { Split } from './Split.js';
import { Squeeze } from './Squeeze.js';
import { Tile } from './Tile.js';
import { TopK } from './TopK.js';
import { Transpose } from './Transpose.js';
import { Trilu } from './Trilu.js';
import { Unsqueeze } from './Unsqueeze.js';
import { Upsample } from './Upsample.js';
import { ConvInteger } from './ConvInteger.js';
import { DequantizeLinear } from './DequantizeLinear.js';
import { DynamicQuantizeLinear } from './DynamicQuantizeLinear.js';
import { GatherBlockQuantized } from './GatherBlockQuantized.js';
import { MatMulInteger } from './MatMulInteger.js';
import { MatMulNBits } from './MatMulNBits.js';
import { QLinearConv } from './QLinearConv.js';
import { QLinearMatMul } from './QLinearMatMul.js';
import { QuantizeLinear } from './QuantizeLinear.js';

export const allKernels: OpKernel[] = [
  ...Relu,
  ...MaxUnpool,
  ...RNN,
  ...GRU,
  ...LSTM,
  ...Einsum,
  ...LRN,
  ...LpNormalization,
  ...InstanceNormalization,
  ...LayerNormalization,
  ...BatchNormalization,
  ...GlobalMaxPool,
  ...GlobalAveragePool,
  ...AveragePool,
  ...MaxPool,
  ...ConvTranspose,
  ...Conv,
  ...Gemm,
  ...MatMul,
  ...Add,
  ...Sub,
  ...Mul,
  ...Div,
  ...Pow,
  ...Mod,
  ...Neg,
  ...Abs,
  ...Sign,
  ...Sqrt,
  ...Exp,
  ...Log,
  ...Reciprocal,
  ...Floor,
  ...Ceil,
  ...Round,
  ...Sin,
  ...Cos,
  ...Tanh,
  ...Sigmoid,
  ...Erf,
  ...Sum,
  ...Mean,
  ...Max,
  ...Min,
  ...Clip,
  ...HardSigmoid,
  ...HardSwish,
  ...LeakyRelu,
  ...Elu,
  ...Selu,
  ...Softplus,
  ...Softsign,
  ...Gelu,
  ...PRelu,
  ...Equal,
  ...Less,
  ...Greater,
  ...LessOrEqual,
  ...GreaterOrEqual,
  ...And,
  ...Or,
  ...Xor,
  ...Not,
  ...IsNaN,
  ...IsInf,
  ...Where,
  ...Softmax,
  ...LogSoftmax,
  ...ReduceSum,
  ...ReduceMean,
  ...ReduceMax,
  ...ReduceMin,
  ...ReduceProd,
  ...ReduceSumSquare,
  ...ReduceL2,
  ...ReduceLogSumExp,
  ...ArgMax,
  ...ArgMin,
  ...Cast,
  ...CastLike,
  ...Concat,
  ...Constant,
  ...ConstantOfShape,
  ...CumSum,
  ...DepthToSpace,
  ...Dropout,
  ...Expand,
  ...Flatten,
  ...Gather,
  ...GatherElements,
  ...GatherND,
  ...Identity,
  ...If,
  ...Loop,
  ...NonZero,
  ...OneHot,
  ...Pad,
  ...Range,
  ...Reshape,
  ...Resize,
  ...Scan,
  ...Scatter,
  ...ScatterElements,
  ...ScatterND,
  ...Shape,
  ...Size,
  ...Slice,
  ...SpaceToDepth,
  ...Split,
  ...Squeeze,
  ...Tile,
  ...TopK,
  ...Transpose,
  ...Trilu,
  ...Unsqueeze,
  ...Upsample,
  ...ConvInteger,
  ...DequantizeLinear,
  ...DynamicQuantizeLinear,
  ...GatherBlockQuantized,
  ...MatMulInteger,
  ...MatMulNBits,
  ...QLinearConv,
  ...QLinearMatMul,
  ...QuantizeLinear,
];
