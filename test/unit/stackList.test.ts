/** `pulumi stack ls` on a file backend while other runs write their stacks: a torn read is retried. */
import type { LocalWorkspace, StackSummary } from "@pulumi/pulumi/automation";
import { isTornRead, stackList } from "../../automation/workspace";

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
