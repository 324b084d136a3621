/** The bundled example recipes load cleanly, in the shape their checks rely on. */
import * as path from "node:path";
import { loadRecipe } from "../../lib/recipe/load";
import { options } from "../helpers/recipes";

const example = (name: string, plainHttp = true) =>
  loadRecipe({ ...options("web"), dir: path.join(__dirname, "..", "..", "examples", name), plainHttp });

describe("bundled examples", () => {
  test.each(["web", "sso", "multi"])("%s loads without warnings", (name) => {
    const m = example(name);
    // EXTRA_DOMAINS is commented out in .env.sample, as in Co-op Cloud recipes: Compose warns too;
    // sso's client secret is the operator's to insert on a server (the run fills it in from its realm).
    expect(
      m.warnings.filter(
        (w) =>
          !/no certificate resolver|EXTRA_DOMAINS is not set|client_secret: marked generate=false/.test(w),
      ),
    ).toEqual([]);
    expect(m.usesProxy).toBe(true);
  });

  test("multi: worker script keeps its shell variables, the database its generated secret", () => {
    const m = example("multi");
    const worker = m.services.find((s) => s.key === "worker")!;
    expect(worker.entrypoint).toEqual(["bash", "-c"]);
    expect(worker.command?.[0]).toContain('export PGPASSWORD="$(< /run/secrets/db_password)"');
    expect(worker.env.DB_HOST).toBe(`${m.stackName}_db`);
    expect(m.secrets).toEqual([
      expect.objectContaining({
        key: "db_password",
        source: expect.objectContaining({ kind: "generate", length: 40 }),
      }),
    ]);
  });
});
