/** Small schemas the settings share: DNS names, ports, URLs and Docker's byte sizes. */
import { z } from "zod";
import { BYTE_SIZE } from "./units";

export const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
    message: "must be a lower-case DNS name such as ci.example.org",
  });
export const port = z.number().int().min(1).max(65535);
export const url = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });
/** Docker's byte sizes (lib/units.ts): 512m, 1.5g, 1GiB or a plain number of bytes. */
export const byteSize = z
  .union([
    z.number().int().positive(),
    z.string().regex(BYTE_SIZE, { message: "must be a size such as 512m or 2g" }),
  ])
  .describe("bytes, or a size such as 512m or 2g");
