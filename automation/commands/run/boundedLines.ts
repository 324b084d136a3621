/**
 * A stream of text relayed line by line within a budget, whatever it holds: each line cut at
 * `lineBytes`, the first `headBytes` relayed as they come (a line counting its length and what relaying
 * adds to it, LINE_OVERHEAD), then only the last `tailBytes` kept, and
 * said (with how much was dropped between) when the stream ends. Memory stays within one line and
 * the tail however long the stream runs: a test that prints gigabytes, or one line without end,
 * cannot grow cc-ci nor fill what the CI server stores of its output.
 */
import { StringDecoder } from "node:string_decoder";

/** What relaying a line adds to it (the run's prefix, `test| `, the newline): counted with every line. */
export const LINE_OVERHEAD = 32;

export interface LineBudget {
  lineBytes: number;
  headBytes: number;
  tailBytes: number;
}

export class BoundedLines {
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";
  private cut = 0;
  private shown = 0;
  private tail: string[] = [];
  private tailSize = 0;
  /** What was neither relayed nor kept. */
  readonly dropped = { lines: 0, bytes: 0 };

  constructor(
    private readonly say: (line: string) => void,
    private readonly budget: LineBudget,
  ) {}

  write(chunk: Buffer | string): void {
    const text = typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) {
        this.add(text.slice(start));
        return;
      }
      this.add(text.slice(start, nl));
      this.endLine();
      start = nl + 1;
    }
  }

  /** Says what is still held: the last line, how much was dropped, and the kept tail. */
  end(): void {
    this.add(this.decoder.end());
    this.endLine();
    if (this.dropped.lines > 0)
      this.say(`… ${this.dropped.lines} lines (${this.dropped.bytes} bytes) of output not kept …`);
    for (const l of this.tail) this.say(l);
    this.tail = [];
    this.tailSize = 0;
  }

  private add(s: string): void {
    const room = this.budget.lineBytes - this.partial.length;
    if (s.length <= room) this.partial += s;
    else {
      this.partial += s.slice(0, Math.max(room, 0));
      this.cut += s.length - Math.max(room, 0);
    }
  }

  private endLine(): void {
    let line = this.partial.replace(/\s+$/, "");
    if (this.cut > 0) line += ` … (${this.cut} more bytes of this line not kept)`;
    this.partial = "";
    this.cut = 0;
    if (line.trim() === "") return;
    // A line costs what it adds to the relayed output, so a flood of short lines is bounded too.
    const cost = line.length + LINE_OVERHEAD;
    if (this.tail.length === 0 && this.shown + cost <= this.budget.headBytes) {
      this.shown += cost;
      this.say(line);
      return;
    }
    this.tail.push(line);
    this.tailSize += cost;
    while (this.tailSize > this.budget.tailBytes && this.tail.length > 0) {
      const gone = this.tail.shift() as string;
      this.tailSize -= gone.length + LINE_OVERHEAD;
      this.dropped.lines++;
      this.dropped.bytes += gone.length;
    }
  }
}
