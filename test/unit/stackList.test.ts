/** `pulumi stack ls` on a file backend while other runs write their stacks: a torn read is retried. */
import type { LocalWorkspace, StackSummary } from "@pulumi/pulumi/automation";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { isTornRead, removeEmptyStackAttrs, stackList } from "../../automation/adapters/pulumi";

const torn = new Error(
  "code: -2\n stdout: \n stderr: Command failed with exit code 1: pulumi stack ls --json --non-interactive\nerror: EOF\n",
);
const summary = { name: "run-web-abc123", current: false, updateInProgress: false } as StackSummary;

function workspace(answers: (StackSummary[] | Error)[]): { ws: LocalWorkspace; calls: () => number } {
  let calls = 0;
  const ws = {
    listStacks: async () => {
      const a = answers[Math.min(calls++, answers.length - 1)];
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as LocalWorkspace;
  return { ws, calls: () => calls };
}

describe("stackList", () => {
  test("a listing that met a stack file mid-write (error: EOF) is tried again", async () => {
    const { ws, calls } = workspace([torn, torn, [summary]]);
    expect(await stackList(ws)).toEqual([summary]);
    expect(calls()).toBe(3);
  });

  test("it gives up after its attempts, with Pulumi's error", async () => {
    const { ws, calls } = workspace([torn]);
    await expect(stackList(ws, 3)).rejects.toThrow(/error: EOF/);
    expect(calls()).toBe(3);
  });

  test("any other failure is not retried", async () => {
    const { ws, calls } = workspace([new Error("error: could not read the passphrase"), [summary]]);
    await expect(stackList(ws)).rejects.toThrow(/passphrase/);
    expect(calls()).toBe(1);
  });

  test("isTornRead knows Pulumi's EOF from other errors", () => {
    expect(isTornRead(torn)).toBe(true);
    expect(isTornRead(new Error("error: unexpected EOF"))).toBe(true);
    expect(isTornRead(new Error("error: no stack named 'x' found"))).toBe(false);
  });
});

describe("an attributes file a killed CLI left empty", () => {
  let root: string;
  let dir: string;
  const file = (name: string, content: string, ageMs: number) => {
    const f = path.join(dir, name);
    writeFileSync(f, content);
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(f, t, t);
    return f;
  };
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), "backend-"));
    dir = path.join(root, ".pulumi", "stacks", "cc-ci");
    mkdirSync(dir, { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test("only empty attributes files that nobody is writing are removed; checkpoints never", () => {
    const stale = file("run-a.json.attrs", "", 60_000);
    const writing = file("run-b.json.attrs", "", 0);
    const full = file("run-c.json.attrs", '{"lastUpdate":1}', 60_000);
    const checkpoint = file("run-d.json", "", 60_000);
    expect(removeEmptyStackAttrs(`file://${root}`)).toEqual([stale]);
    expect([stale, writing, full, checkpoint].map(existsSync)).toEqual([false, true, true, true]);
    expect(removeEmptyStackAttrs("s3://bucket/state")).toEqual([]);
  });

  test("a listing that keeps failing on it succeeds once it is removed", async () => {
    const broken = file("run-a.json.attrs", "", 60_000);
    const ws = {
      envVars: { PULUMI_BACKEND_URL: `file://${root}` },
      listStacks: async () => {
        if (existsSync(broken)) throw torn;
        return [summary];
      },
    } as unknown as LocalWorkspace;
    expect(await stackList(ws)).toEqual([summary]);
  });
});
