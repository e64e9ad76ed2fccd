import { describe, expect, it } from "vitest";
import { createRedactor, redactError, redactUrlCredentials, REDACTED } from "../../src/k8s/redact.js";

describe("redactUrlCredentials", () => {
  it.each([
    [
      "API server https://admin:s3cret@10.0.0.1:6443 unreachable",
      `API server https://${REDACTED}@10.0.0.1:6443 unreachable`,
    ],
    ["http://user@host/x and socks5://a:b@proxy:1080", `http://${REDACTED}@host/x and socks5://${REDACTED}@proxy:1080`],
    ["https://10.0.0.1:6443/api?x=a@b", "https://10.0.0.1:6443/api?x=a@b"],
    ["mail me at a@b.c", "mail me at a@b.c"],
  ])("%s", (text, want) => {
    expect(redactUrlCredentials(text)).toBe(want);
  });
});

describe("createRedactor", () => {
  const secret = "eyJhbGciOiJSUzI1NiJ9.abcdefghijklmnop";
  const redact = createRedactor([secret, "pw12", "abc"]);

  it("redacts a whole secret and any 8-character piece of it", () => {
    expect(redact(`token: ${secret}`)).toBe(`token: ${REDACTED}`);
    // A parser's excerpt cut in the middle of the token.
    expect(redact(`  4 |     token: eyJhbGciOiJSUzI1...`)).toBe(`  4 |     token: ${REDACTED}...`);
    expect(redact(`Unexpected token 'i', "ijklmnop" is not valid JSON`)).toBe(
      `Unexpected token 'i', "${REDACTED}" is not valid JSON`,
    );
  });

  it("leaves 7 characters of a secret alone (too little to tell it apart from words)", () => {
    expect(redact("eyJhbGc")).toBe("eyJhbGc");
  });

  it("redacts short secrets whole, and ignores secrets under 4 characters", () => {
    expect(redact("password pw12 and abc")).toBe(`password ${REDACTED} and abc`);
  });

  it("redacts URL credentials too", () => {
    expect(redact("https://u:p@h")).toBe(`https://${REDACTED}@h`);
  });
});

describe("redactError", () => {
  it("copies the error, its causes and its code with redacted messages, without stacks", () => {
    const root = Object.assign(new Error("connect to https://u:hunter22@h failed"), { code: "ECONNREFUSED" });
    const err = new TypeError("wrapped hunter22", { cause: root });
    const copy = redactError(err, createRedactor(["hunter22"]));
    expect(copy.name).toBe("TypeError");
    expect(copy.message).toBe(`wrapped ${REDACTED}`);
    expect(copy.stack).not.toContain("hunter22");
    const cause = copy.cause as NodeJS.ErrnoException;
    expect(cause.message).toBe(`connect to https://${REDACTED}@h failed`);
    expect(cause.code).toBe("ECONNREFUSED");
  });

  it("turns a thrown non-error into an error", () => {
    expect(redactError("s3cretvalue!", createRedactor(["s3cretvalue!"])).message).toBe(REDACTED);
  });
});
