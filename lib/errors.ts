/**
 * Errors that list every problem of an input at once, each as `path: message`, so an operator
 * fixes a config or a recipe in one go instead of one error per `pulumi up`.
 */
import { z } from "zod";

export interface Problem {
  /** Dotted path of what is wrong (`services.app.image`, `traefik.httpPort`), "" for the whole input. */
  path: string;
  message: string;
  /** The file (relative to the recipe) and line where it is written, when known. */
  file?: string;
  line?: number;
}

/** `path: message` (or the message alone when it has no path), the one way problems are shown. */
export function formatProblem(p: Problem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ""}: ` : "";
  return `${where}${p.path ? `${p.path}: ` : ""}${p.message}`;
}

/** Problems joined for one line of a log or report. */
export function formatProblems(problems: readonly Problem[], separator = "; "): string {
  return problems.map(formatProblem).join(separator);
}

export class ValidationError extends Error {
  constructor(
    /** What was being read: "stack config", "recipe <dir>", "warm stack outputs". */
    readonly subject: string,
    readonly problems: Problem[],
    /** Warnings found on the way, kept for reports even though the input was refused. */
    readonly warnings: string[] = [],
    cause?: unknown,
  ) {
    super(
      `invalid ${subject}:\n${problems.map((p) => `  - ${p.path || p.file ? formatProblem(p) : `(root): ${p.message}`}`).join("\n")}`,
    );
    this.name = "ValidationError";
    if (cause !== undefined) this.cause = cause;
  }
}

export function pathString(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

export function zodProblems(error: z.ZodError, prefix = ""): Problem[] {
  return error.issues.map((issue) => {
    const path = pathString(issue.path);
    return { path: prefix && path ? `${prefix}.${path}` : prefix || path, message: issue.message };
  });
}

/** Parses `value` with `schema`, or throws a ValidationError naming every problem by path. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(subject, zodProblems(result.error));
  return result.data;
}
