/**
 * Image names as a registry mirror serves them. An engine with a registry mirror asks it for Docker
 * Hub's images only, under Docker Hub's repository paths: `postgres:15` is `library/postgres`, tag
 * 15; `cc-ci/whoami:1` is `cc-ci/whoami`, tag 1. Images of other registries (a first part with a dot
 * or a port, or `localhost`) never go through a mirror.
 */

export interface HubName {
  /** Repository path on Docker Hub: library/postgres, cc-ci/whoami. */
  repository: string;
  tag: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST =
  /^(?:localhost|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::[0-9]+)?$/i;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Docker Hub's name of an image reference, or why a mirror cannot serve it. */
export function hubName(image: string): HubName | { problem: string } {
  if (image.includes("@")) return { problem: "a digest reference cannot be pushed under a tag; name a tag" };
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  const [name, tag] = colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, "latest"];
  const parts = name.split("/");
  const first = parts[0];
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    if (!HOST.test(first)) return { problem: "not an image reference (name[:tag])" };
    if (first !== "docker.io" && first !== "index.docker.io")
      return {
        problem: `an image of ${first}, not of Docker Hub: a registry mirror serves Docker Hub's images only`,
      };
    parts.shift();
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p)) || !TAG.test(tag))
    return { problem: "not an image reference (name[:tag])" };
  if (parts.length === 1) parts.unshift("library");
  return { repository: parts.join("/"), tag };
}
