/**
 * `compress distill`: knowledge distillation (Hinton et al., 2015, "Distilling the Knowledge in a Neural
 * Network"): trains the student on the teacher's softened outputs (and the labels, when given), with
 * optional hidden-state matching. The training loop is src/passes/distill.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import {
  addCommonOptions,
  addDataOptions,
  givenOn,
  mustExist,
  opt,
  parseCommonOptions,
  parseDataOptions,
  parseDataSpec,
  parseInteger,
  parseNumber,
  passFlags,
  type DataOptions,
  type PassFlags,
} from '../options.js';
import type { CliState } from '../program.js';
import { runCompress } from './pipeline.js';

/** The distill flags the user gave, each checked for its form; the pass applies the defaults. */
export interface DistillFlags extends PassFlags {
  teacherPath: string;
  studentPath: string;
  epochs?: number;
  lr?: number;
  temperature?: number;
  alpha?: number;
  /** teacher tensor -> student tensor pairs whose activations are matched */
  hidden?: { teacher: string; student: string }[];
  evalData?: string;
  /** integer labels of --eval-data: the per-epoch metric is then accuracy */
  evalLabels?: string;
  weightDecay?: number;
  clipNorm?: number;
  checkpoint?: string;
  resume?: boolean;
}

/** `t1=s1,t2=s2` -> pairs. */
export function parseHidden(raw: unknown): { teacher: string; student: string }[] {
  const pairs = String(raw)
    .split(',')
    .map((p) => p.trim());
  return pairs.map((p) => {
    const m = /^([^=]+)=([^=]+)$/.exec(p);
    if (!m) throw new UsageError(`--hidden must be a comma-separated list of <teacher_tensor>=<student_tensor> (got '${p}')`);
    return { teacher: m[1]!.trim(), student: m[2]!.trim() };
  });
}

/** Checks the distill flags the user typed (`given`). */
export function parseDistillFlags(raw: Record<string, unknown>, given: (key: string) => boolean): { flags: DistillFlags; data: DataOptions } {
  if (raw.teacher === undefined) throw new UsageError('compress distill needs --teacher <t.onnx>');
  if (raw.student === undefined) throw new UsageError('compress distill needs --student <s.onnx>');
  const teacherPath = String(raw.teacher);
  const studentPath = String(raw.student);
  mustExist(teacherPath, '--teacher');
  mustExist(studentPath, '--student');
  const data = parseDataOptions(raw, 'distill', true);
  const evalData = raw.evalData === undefined ? undefined : String(raw.evalData);
  if (evalData !== undefined) {
    parseDataSpec(evalData);
    if (!evalData.startsWith('random:')) mustExist(evalData, '--eval-data');
  }
  const evalLabels = raw.evalLabels === undefined ? undefined : String(raw.evalLabels);
  if (evalLabels !== undefined) {
    if (evalData === undefined) throw new UsageError('--eval-labels needs --eval-data <samples>');
    mustExist(evalLabels, '--eval-labels');
  }
  const checkpoint = raw.checkpoint === undefined ? undefined : String(raw.checkpoint);
  const resume = raw.resume === true;
  if (resume && checkpoint === undefined) throw new UsageError('--resume needs --checkpoint <dir>', 'give the folder the earlier run wrote its checkpoints to');
  const flags: DistillFlags = { ...passFlags(raw, data), teacherPath, studentPath };
  if (given('epochs')) flags.epochs = parseInteger(raw.epochs, '--epochs', 1, 1_000_000);
  if (given('lr')) flags.lr = parseNumber(raw.lr, '--lr', { min: 0, max: 10, minExclusive: true });
  if (given('temperature')) flags.temperature = parseNumber(raw.temperature, '--temperature', { min: 0, max: 1000, minExclusive: true });
  if (given('alpha')) flags.alpha = parseNumber(raw.alpha, '--alpha', { min: 0, max: 1 });
  if (given('hidden')) flags.hidden = parseHidden(raw.hidden);
  if (given('weightDecay')) flags.weightDecay = parseNumber(raw.weightDecay, '--weight-decay', { min: 0, max: 1 });
  if (given('clipNorm')) flags.clipNorm = parseNumber(raw.clipNorm, '--clip-norm', { min: 0, max: 1e9 });
  if (evalData !== undefined) flags.evalData = evalData;
  if (evalLabels !== undefined) flags.evalLabels = evalLabels;
  if (checkpoint !== undefined) flags.checkpoint = checkpoint;
  if (resume) flags.resume = true;
  return { flags, data };
}

/** Declares `compress distill`. */
export function registerDistill(program: Command, state: CliState): void {
  const cmd = program
    .command('distill')
    .summary('train a smaller student model on a teacher (knowledge distillation)')
    .description('Knowledge distillation: trains the student ONNX model on the teacher\'s softened outputs (and labels, when given).');
  cmd
    .addOption(opt('--teacher <t.onnx>', 'the teacher model (required)'))
    .addOption(opt('--student <s.onnx>', 'the student model to train (required)'))
    .addOption(opt('--epochs <n>', 'passes over the training data', 3))
    .addOption(opt('--lr <x>', 'learning rate (Adam)', 1e-3))
    .addOption(opt('--temperature <t>', 'softmax temperature of the distillation loss', 4))
    .addOption(opt('--alpha <x>', 'weight of the distillation loss against the label loss, in [0, 1]', 0.7))
    .addOption(opt('--hidden <pairs>', 'match hidden activations: <teacher_tensor>=<student_tensor>,... (default: none)'))
    .addOption(opt('--eval-data <path>', 'held-out samples evaluated after each epoch (default: none)'))
    .addOption(opt('--eval-labels <labels.npy>', 'integer class labels of --eval-data: evaluate accuracy (default: none; without them, KL to the teacher, or perplexity for an LM)'))
    .addOption(opt('--weight-decay <x>', 'decoupled weight decay of AdamW, on weight matrices', 0.01))
    .addOption(opt('--clip-norm <x>', 'clip gradients to this global L2 norm (0: no clipping)', 1))
    .addOption(opt('--checkpoint <dir>', 'write a checkpoint after each epoch and on Ctrl-C into this folder (default: none)'))
    .addOption(opt('--resume', 'continue from the latest checkpoint in --checkpoint', false));
  addDataOptions(cmd, 'training samples', true);
  addCommonOptions(cmd, 'distill');
  cmd.action(async (raw: Record<string, unknown>) => {
    const common = parseCommonOptions(raw);
    const { flags, data } = parseDistillFlags(raw, givenOn(cmd));
    // Ctrl-C stops training after the current step; the pass writes its checkpoint and throws. A second
    // Ctrl-C (the listener is gone by then) ends the process at once.
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    try {
      state.exitCode = await runCompress(state, {
        command: 'distill',
        inputs: [flags.studentPath],
        common,
        data,
        options: { ...flags, signal: controller.signal },
        prepare: async (opts) => {
          const { openModel } = await import('./model-io.js');
          opts.teacher = (await openModel(flags.teacherPath)).model;
        },
      });
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  });
}
