/**
 * The tests' output, relayed within its budget: lines cut, the head relayed, the tail kept, what was
 * dropped counted — and memory that does not grow with the stream.
 */
import { BoundedLines } from "../../automation/commands/run/boundedLines";

// Every line also costs LINE_OVERHEAD (32): a 6-byte line costs 38.
function relay(
  chunks: (string | Buffer)[],
  budget = { lineBytes: 10, headBytes: 5 * 38, tailBytes: 3 * 38 },
) {
  const said: string[] = [];
  const b = new BoundedLines((l) => said.push(l), budget);
  for (const c of chunks) b.write(c);
  b.end();
  return { said, dropped: b.dropped };
}

describe("bounded output", () => {
  test("short output is relayed as it is, lines split across chunks joined", () => {
    expect(relay(["one\ntw", "o\n\nthree"]).said).toEqual(["one", "two", "three"]);
  });

  test("a line past its length is cut, and says how much was cut", () => {
    expect(relay(["0123456789abcdef\nok\n"], { lineBytes: 10, headBytes: 100, tailBytes: 100 }).said).toEqual(
      ["0123456789 … (6 more bytes of this line not kept)", "ok"],
    );
  });

  test("a line without end, in many chunks, keeps only its first bytes", () => {
    const { said } = relay(
      Array.from({ length: 1000 }, () => "x".repeat(1000)),
      { lineBytes: 10, headBytes: 100, tailBytes: 100 },
    );
    expect(said).toEqual([`${"x".repeat(10)} … (999990 more bytes of this line not kept)`]);
  });

  test("past the head, the tail is kept and the middle counted", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line${String(i).padStart(2, "0")}`);
    const { said, dropped } = relay([lines.join("\n") + "\n"]);
    // Head and tail of five and three 6-byte lines.
    expect(said).toEqual([
      ...lines.slice(0, 5),
      `… ${dropped.lines} lines (${dropped.bytes} bytes) of output not kept …`,
      ...lines.slice(97),
    ]);
    expect(dropped).toEqual({ lines: 92, bytes: 92 * 6 });
  });

  test("a multi-byte character split between chunks is kept whole", () => {
    const euro = Buffer.from("€\n");
    expect(relay([euro.subarray(0, 1), euro.subarray(1)]).said).toEqual(["€"]);
  });

  test("a flood of empty-looking short lines costs what relaying them adds", () => {
    const { said } = relay(["a\n".repeat(10_000)], { lineBytes: 10, headBytes: 330, tailBytes: 330 });
    // 33 bytes a line: ten at the head, ten at the tail, the rest counted.
    expect(said).toHaveLength(21);
  });

  test("200k lines after a 700 MB line: what is relayed stays within the budget", () => {
    const budget = { lineBytes: 8192, headBytes: 1 << 20, tailBytes: 1 << 20 };
    let relayed = 0;
    const b = new BoundedLines((l) => (relayed += l.length), budget);
    const mb = "y".repeat(1 << 20);
    for (let i = 0; i < 700; i++) b.write(mb);
    b.write("\n");
    const line = "z".repeat(99) + "\n";
    for (let i = 0; i < 200; i++) b.write(line.repeat(1000));
    b.end();
    expect(relayed).toBeLessThan(2 * (1 << 20) + 2 * 8192 + 200);
    expect(b.dropped.lines).toBeGreaterThan(150_000);
  });
});
