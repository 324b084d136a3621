/** One parser per unit: sizes as Docker reads them, durations as Go writes them, proxy URLs. */
import fc from "fast-check";
import { bytes, durationMs, durationNs, goDuration, isGoDuration, publicUrl } from "../../lib/units";

describe("bytes (docker/go-units RAMInBytes)", () => {
  test.each([
    ["1024", 1024],
    ["100b", 100],
    ["512m", 512 * 1024 ** 2],
    ["512M", 512 * 1024 ** 2],
    ["1.5g", 1.5 * 1024 ** 3],
    ["1GiB", 1024 ** 3],
    ["2gb", 2 * 1024 ** 3],
    ["1t", 1024 ** 4],
    ["64 k", 64 * 1024],
    [4096, 4096],
  ] as [string | number, number][])("%s → %d bytes", (text, want) => {
    expect(bytes(text)).toBe(want);
  });

  test.each(["", "m", "-1m", "1x", "1.2.3m", "12 mb b"])("refuses %j", (text) => {
    expect(() => bytes(text)).toThrow(/invalid size/);
  });
});

describe("durations", () => {
  test.each([
    ["300s", "5m"],
    ["90s", "1m30s"],
    ["1h0m0s", "1h"],
    ["3600s", "1h"],
    ["1h30m", "1h30m"],
    ["250ms", "250ms"],
    ["1.5s", "1.5s"],
    ["0s", "0s"],
    ["2000000", "2ms"],
    ["45", "45ns"],
  ])("goDuration(%s) = %s (the docker provider's canonical form)", (text, want) => {
    expect(goDuration(text)).toBe(want);
  });

  test("numbers are seconds", () => {
    expect(goDuration(600)).toBe("10m");
  });

  test.each([
    ["90m", 90 * 60_000],
    ["6h", 6 * 3600_000],
    ["2d", 2 * 24 * 3600_000],
    ["1h30m", 90 * 60_000],
    ["45s", 45_000],
  ])("durationMs(%s, days) = %d", (text, want) => {
    expect(durationMs(text, { days: true })).toBe(want);
  });

  test("days only where asked for; Go's syntax otherwise", () => {
    expect(() => durationMs("2d")).toThrow(/invalid duration/);
    expect(isGoDuration("2d")).toBe(false);
    expect(isGoDuration("1m30s")).toBe(true);
    expect(() => durationNs("soon")).toThrow(/invalid duration "soon"/);
  });

  test("goDuration round-trips: its output parses to the same length of time", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 24 * 3600 }), (seconds) => {
        expect(durationNs(goDuration(`${seconds}s`))).toBe(seconds * 1e9);
      }),
    );
  });
});

describe("publicUrl", () => {
  test.each([
    ["http", 80, 443, "http://a.ci.test"],
    ["http", 18080, 443, "http://a.ci.test:18080"],
    ["https", 80, 443, "https://a.ci.test"],
    ["https", 80, 8443, "https://a.ci.test:8443"],
  ] as const)("%s with ports %d/%d", (scheme, http, https, want) => {
    expect(publicUrl(scheme, "a.ci.test", http, https)).toBe(want);
  });
});
