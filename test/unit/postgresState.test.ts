/** How a postgres:// backend URL maps to node-postgres and to Pulumi's keys and cc-ci's tables. */
import { postgresState } from "../../automation/adapters/leases";

describe("postgresState", () => {
  test("file and s3 backends are not PostgreSQL", () => {
    expect(postgresState("file:///var/lib/cc-ci/state")).toBeUndefined();
    expect(postgresState("s3://bucket/path")).toBeUndefined();
  });

  test("the default table: Pulumi's keys under the database's name, cc-ci's tables unsuffixed", () => {
    expect(postgresState("postgres://u:secret@127.0.0.1:5432/ccci_state?sslmode=disable")).toEqual({
      connectionString: "postgres://u:secret@127.0.0.1:5432/ccci_state?sslmode=disable",
      stateTable: "pulumi_state",
      leasesTable: "ccci_leases",
      claimsTable: "ccci_slot_claims",
      keyPrefix: "ccci_state/",
      where: "PostgreSQL 127.0.0.1:5432/ccci_state",
    });
  });

  test("table= is Pulumi's, not PostgreSQL's: taken out of the connection, and it suffixes cc-ci's tables", () => {
    const pg = postgresState("postgres://u:p@db:5432/ci?sslmode=disable&table=multinode_state");
    expect(pg).toMatchObject({
      connectionString: "postgres://u:p@db:5432/ci?sslmode=disable",
      stateTable: "multinode_state",
      leasesTable: "ccci_leases_multinode_state",
      claimsTable: "ccci_slot_claims_multinode_state",
    });
    expect(pg?.where).not.toContain("p@");
  });

  test("a table name that is not a plain identifier is refused (it is put into SQL)", () => {
    expect(() => postgresState("postgres://u:p@db/ci?table=x;drop table y")).toThrow(
      /not a plain table name/,
    );
  });
});
