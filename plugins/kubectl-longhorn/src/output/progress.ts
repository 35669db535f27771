/**
 * Progress of a long operation (expand, a rebuild): a bar redrawn in place when stdout is a
 * terminal, plain lines otherwise (one per change of step or of 10 %), so logs stay readable.
 */

export function renderBar(percent: number, width = 30): string {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((p / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(p).padStart(3)}%`;
}

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

export class Progress {
  private lastLine = '';
  private lastPercent = -100;
  private lastStep = '';
  private drawn = false;

  constructor(
    private readonly what: string,
    private readonly sink: ProgressSink = {
      write: (t) => process.stdout.write(t),
      isTTY: !!process.stdout.isTTY,
    },
  ) {}

  /** `percent` undefined: a step without a measure (waiting for the operator). */
  update(step: string, percent?: number): void {
    if (this.sink.isTTY) {
      const line = `${this.what}: ${percent === undefined ? '' : `${renderBar(percent)} `}${step}`;
      if (line === this.lastLine) return;
      this.sink.write(`\r\x1b[2K${line}`);
      this.lastLine = line;
      this.drawn = true;
      return;
    }
    const p = percent ?? -1;
    if (step === this.lastStep && (percent === undefined || Math.abs(p - this.lastPercent) < 10)) return;
    this.lastStep = step;
    this.lastPercent = p;
    this.sink.write(`${this.what}: ${step}${percent === undefined ? '' : ` ${Math.round(percent)}%`}\n`);
  }

  done(message: string): void {
    if (this.sink.isTTY && this.drawn) this.sink.write('\r\x1b[2K');
    this.sink.write(`${message}\n`);
  }
}
