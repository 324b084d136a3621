import { CommandError } from "@pulumi/pulumi/automation";
import { pulumiErrorSummary } from "../../automation/adapters/pulumi";

/** A CommandError as the Automation API makes one: its message is the command's whole transcript. */
function commandError(stdout: string, stderr = ""): Error {
  const result = { toString: () => `code: 255\n stdout: ${stdout}\n stderr: ${stderr}\n err?: \n` };
  return new (CommandError as unknown as new (r: unknown) => Error)(result);
}

describe("pulumiErrorSummary: a failed Pulumi command by its errors, not its transcript", () => {
  test("keeps each diagnostic error once, without the transcript or 'update failed'", () => {
    const e = commandError(
      [
        "Refreshing (run-mult-3f0fd8):",
        "@ refreshing....",
        "  keycloak:index:Realm (run-realm-realm):",
        "    error: refreshing urn:…:Realm::run-realm-realm: 401 Unauthorized",
        "  pulumi:pulumi:Stack (cc-ci-run-mult-3f0fd8):",
        "    error: update failed",
        "    error: refreshing urn:…:Realm::run-realm-realm: 401 Unauthorized",
        "Resources:",
        "    11 unchanged",
      ].join("\n"),
    );
    expect(pulumiErrorSummary(e)).toBe("refreshing urn:…:Realm::run-realm-realm: 401 Unauthorized");
  });

  test("an error on stderr only", () => {
    expect(pulumiErrorSummary(commandError("", "error: no stack named 'x' found"))).toBe(
      "no stack named 'x' found",
    );
  });

  test("no diagnostics: the first line of output; long summaries are cut", () => {
    expect(pulumiErrorSummary(commandError("nothing useful"))).toBe("nothing useful");
    const long = commandError(`error: ${"x".repeat(100)}`);
    expect(pulumiErrorSummary(long, 10)).toBe(`${"x".repeat(10)}…`);
  });

  test("other errors keep their whole message (a validation error lists every problem)", () => {
    const e = new Error(
      "recipe is invalid:\n  services.app.privileged: refused\n  services.app.image: missing",
    );
    expect(pulumiErrorSummary(e)).toBe(e.message);
  });
});
