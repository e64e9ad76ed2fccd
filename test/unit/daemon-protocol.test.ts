// The shim-daemon wire format (src/daemon/README.md): both body encodings decode to the same
// call, malformed bodies and unknown versions get a clear reason.

import { describe, expect, it } from "vitest";
import { ProtocolError, decodeCniCall, encodeFramedCall, unknownEndpoint } from "../../src/daemon/protocol.js";

const call = {
  env: { CNI_COMMAND: "ADD", CNI_ARGS: "K8S_POD_NAME=web-0;IgnoreUnknown=1", EMPTY: "", "WITH=EQUALS": "a=b" },
  stdin: '{"cniVersion":"1.0.0","name":"plexus"}\n',
};

function protocolError(f: () => unknown): ProtocolError {
  try {
    f();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
  throw new Error("no ProtocolError");
}

describe("daemon protocol", () => {
  it("decodes the framed body: NUL-terminated KEY=VALUE entries, an empty one, then stdin", () => {
    const body = Buffer.concat([Buffer.from("CNI_COMMAND=ADD\0X=\0Y=a=b\0\0"), Buffer.from("{}\n\0tail")]);
    expect(decodeCniCall("application/vnd.plexus.cni.v1", body)).toEqual({
      env: { CNI_COMMAND: "ADD", X: "", Y: "a=b" },
      stdin: "{}\n\0tail",
    });
  });

  it("round-trips through encodeFramedCall (a key holding '=' cannot be framed: the first '=' splits)", () => {
    const { "WITH=EQUALS": _, ...env } = call.env;
    expect(decodeCniCall("application/vnd.plexus.cni.v1", encodeFramedCall({ env, stdin: call.stdin }))).toEqual({
      env,
      stdin: call.stdin,
    });
  });

  it("decodes the JSON body, stdin as text or as an object", () => {
    const text = Buffer.from(JSON.stringify({ env: { CNI_COMMAND: "DEL" }, stdin: "{}" }));
    expect(decodeCniCall("application/json; charset=utf-8", text)).toEqual({
      env: { CNI_COMMAND: "DEL" },
      stdin: "{}",
    });
    const object = Buffer.from(JSON.stringify({ env: {}, stdin: { cniVersion: "1.0.0" } }));
    expect(decodeCniCall("application/json", object).stdin).toBe('{"cniVersion":"1.0.0"}');
  });

  it.each([
    ["application/vnd.plexus.cni.v1", "CNI_COMMAND=ADD\0", 400, /not ended by an empty entry/],
    ["application/vnd.plexus.cni.v1", "NOEQUALS\0\0", 400, /"NOEQUALS" is not KEY=VALUE/],
    ["application/json", "{nope", 400, /JSON body/],
    ["application/json", '{"env":{"A":1},"stdin":""}', 400, /env\.A/],
    ["application/json", '{"env":{},"stdin":"","extra":1}', 400, /JSON body/],
    ["text/plain", "x", 415, /unsupported Content-Type "text\/plain"/],
  ])("refuses %s %j with %i", (type, body, status, msg) => {
    const err = protocolError(() => decodeCniCall(type, Buffer.from(body)));
    expect(err.status).toBe(status);
    expect(err.message).toMatch(msg);
  });

  it("names the version it speaks to a client of another version", () => {
    expect(unknownEndpoint("POST", "/v2/cni")).toMatchObject({
      status: 404,
      message: 'unsupported protocol version "v2": this daemon speaks v1 (POST /v1/cni)',
    });
    expect(unknownEndpoint("GET", "/v1/cni").status).toBe(405);
    expect(unknownEndpoint("GET", "/").message).toMatch(/serves POST \/v1\/cni/);
  });
});
