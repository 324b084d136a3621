/**
 * The warm dependencies' provisioning as resources. PostgreSQL: PostgresBootstrap (warm stack: the provisioning role
 * and its functions, applied as superuser through the admin gateway) and PostgresUnit (run stack: the
 * run's database and role, made by the provisioning role, deleted on destroy). S3: S3Unit (the run's
 * account and buckets, made by the server's root account through its admin API). Dynamic resources, so
 * they run inside the Node language host like GeneratedSecret and AdoptedRealm.
 */
import * as pulumi from "@pulumi/pulumi";
import { BOOTSTRAP_SQL, bootstrap, dropUnit, makeUnit, type PgLogin, type UnitNote } from "./postgres";
import { dropS3Unit, makeS3Unit, type S3Admin } from "./s3";

interface BootstrapInputs {
  superuser: PgLogin;
  provisionerPassword: string;
  /** The bootstrap's text: a change applies it again. */
  sql: string;
}

const bootstrapProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: BootstrapInputs) {
    await bootstrap(inputs.superuser, inputs.provisionerPassword);
    return { id: "postgres-bootstrap", outs: inputs };
  },
  async diff(_id: string, olds: BootstrapInputs, news: BootstrapInputs) {
    return { changes: JSON.stringify(olds) !== JSON.stringify(news) };
  },
  async update(_id: string, _olds: BootstrapInputs, news: BootstrapInputs) {
    await bootstrap(news.superuser, news.provisionerPassword);
    return { outs: news };
  },
};

export class PostgresBootstrap extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: { superuser: pulumi.Input<PgLogin>; provisionerPassword: pulumi.Input<string> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      bootstrapProvider,
      name,
      {
        superuser: pulumi.secret(args.superuser),
        provisionerPassword: pulumi.secret(args.provisionerPassword),
        sql: BOOTSTRAP_SQL,
      },
      { ...opts, additionalSecretOutputs: ["superuser", "provisionerPassword"] },
      "cc-ci",
      "PostgresBootstrap",
    );
  }
}

interface UnitInputs {
  provisioner: PgLogin;
  unit: string;
  password: string;
  note: UnitNote;
  extensions: string[];
}

const unitProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: UnitInputs) {
    await makeUnit(inputs.provisioner, inputs.unit, inputs.password, inputs.note, inputs.extensions);
    return { id: inputs.unit, outs: inputs };
  },
  async diff(_id: string, olds: UnitInputs, news: UnitInputs) {
    const replace =
      olds.unit !== news.unit ||
      JSON.stringify(olds.note) !== JSON.stringify(news.note) ||
      JSON.stringify(olds.extensions) !== JSON.stringify(news.extensions);
    const changes = replace || JSON.stringify(olds) !== JSON.stringify(news);
    return { changes, replaces: replace ? ["unit"] : [], deleteBeforeReplace: true };
  },
  async update(_id: string, _olds: UnitInputs, news: UnitInputs) {
    await makeUnit(news.provisioner, news.unit, news.password, news.note, news.extensions);
    return { outs: news };
  },
  async delete(_id: string, olds: UnitInputs) {
    await dropUnit(olds.provisioner, olds.unit);
  },
};

export interface PostgresUnitArgs {
  provisioner: pulumi.Input<PgLogin>;
  unit: string;
  password: pulumi.Input<string>;
  note: UnitNote;
  extensions: string[];
}

export class PostgresUnit extends pulumi.dynamic.Resource {
  constructor(name: string, args: PostgresUnitArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      unitProvider,
      name,
      {
        provisioner: pulumi.secret(args.provisioner),
        unit: args.unit,
        password: pulumi.secret(args.password),
        note: args.note,
        extensions: args.extensions,
      },
      { ...opts, additionalSecretOutputs: ["provisioner", "password"] },
      "cc-ci",
      "PostgresUnit",
    );
  }
}

interface S3UnitInputs {
  root: S3Admin;
  unit: string;
  secret: string;
  buckets: string[];
}

const s3UnitProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: S3UnitInputs) {
    await makeS3Unit(inputs.root, inputs.unit, inputs.secret, inputs.buckets);
    return { id: inputs.unit, outs: inputs };
  },
  async diff(_id: string, olds: S3UnitInputs, news: S3UnitInputs) {
    const replace = olds.unit !== news.unit || JSON.stringify(olds.buckets) !== JSON.stringify(news.buckets);
    const changes = replace || JSON.stringify(olds) !== JSON.stringify(news);
    return { changes, replaces: replace ? ["unit"] : [], deleteBeforeReplace: true };
  },
  async update(_id: string, _olds: S3UnitInputs, news: S3UnitInputs) {
    await makeS3Unit(news.root, news.unit, news.secret, news.buckets);
    return { outs: news };
  },
  async delete(_id: string, olds: S3UnitInputs) {
    await dropS3Unit(olds.root, olds.unit, olds.buckets);
  },
};

/** A run's account and buckets on the warm S3 server, made by its root account, deleted on destroy. */
export class S3Unit extends pulumi.dynamic.Resource {
  constructor(
    name: string,
    args: { root: pulumi.Input<S3Admin>; unit: string; secret: pulumi.Input<string>; buckets: string[] },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      s3UnitProvider,
      name,
      {
        root: pulumi.secret(args.root),
        unit: args.unit,
        secret: pulumi.secret(args.secret),
        buckets: args.buckets,
      },
      { ...opts, additionalSecretOutputs: ["root", "secret"] },
      "cc-ci",
      "S3Unit",
    );
  }
}
