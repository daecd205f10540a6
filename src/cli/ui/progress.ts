/**
 * Progress bars on stderr with cli-progress, behind core/logger.ts's Progress interface. Bars are drawn
 * only on an interactive terminal and without --quiet; otherwise `quietProgress` (nothing drawn, work
 * announced at debug level by the logger instead). Log lines printed while bars are up go through
 * `log`, which writes them above the bars instead of tearing them.
 */
import cliProgress from 'cli-progress';
import type { Progress, ProgressTask } from '../../core/logger.js';
import type { Terminal } from './terminal.js';

/** Where the logger writes a finished line: above the bars when some are drawn. */
export interface LineSink {
  line(text: string): void;
}

/** Bars for an interactive terminal. */
export class BarProgress implements Progress, LineSink {
  private multi?: cliProgress.MultiBar;
  private active = 0;

  constructor(private readonly term: Terminal) {}

  start(label: string, total: number): ProgressTask {
    const multi = (this.multi ??= new cliProgress.MultiBar(
      {
        stream: this.term.stderr,
        format: `${this.term.color.cyan('{label}')} {bar} {percentage}% | {value}/{total} {detail}`,
        barsize: 30,
        hideCursor: true,
        clearOnComplete: true,
        stopOnComplete: false,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    ));
    let t = Math.max(0, total);
    const bar = multi.create(t, 0, { label, detail: '' });
    this.active++;
    let finished = false;
    return {
      tick: (delta = 1, detail?: string) => {
        if (!finished) bar.increment(delta, { detail: detail ?? '' });
      },
      setTotal: (n: number) => {
        t = Math.max(0, n);
        if (!finished) bar.setTotal(t);
      },
      done: () => {
        if (finished) return;
        finished = true;
        bar.update(t);
        multi.remove(bar);
        if (--this.active === 0) {
          multi.stop();
          this.multi = undefined;
        }
      },
    };
  }

  line(text: string): void {
    if (this.multi) this.multi.log(`${text}\n`);
    else this.term.err(`${text}\n`);
  }
}

/** For non-interactive output and --quiet: no bars; task starts are reported at debug level. */
export class QuietProgress implements Progress, LineSink {
  constructor(
    private readonly term: Terminal,
    private readonly debug: (message: string) => void,
  ) {}

  start(label: string, total: number): ProgressTask {
    this.debug(`${label}: ${total} step${total === 1 ? '' : 's'}`);
    return { tick() {}, setTotal() {}, done() {} };
  }

  line(text: string): void {
    this.term.err(`${text}\n`);
  }
}
