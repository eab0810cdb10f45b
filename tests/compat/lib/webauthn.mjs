// A software WebAuthn authenticator, enough for passkey ceremonies against both
// servers: one ES256 (P-256) key per credential from node:crypto, `none`
// attestation, a CBOR attestation object, and assertions signed over
// authenticatorData || SHA-256(clientDataJSON) (DER-encoded ECDSA, as browsers
// send them). It answers with the JSON forms `@simplewebauthn/browser` hands
// to Better Auth's `passkeyClient` (RegistrationResponseJSON /
// AuthenticationResponseJSON, without clientExtensionResults, which the client
// strips before posting).

import { createHash, createSign, generateKeyPairSync, randomBytes } from "node:crypto";

const b64url = (buf) => Buffer.from(buf).toString("base64url");
const sha256 = (data) => createHash("sha256").update(data).digest();

// ------------------------------------------------------------------ CBOR (the subset needed)
function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

/** Canonical-enough CBOR: integers, byte strings (Buffer), text, arrays, Maps (key order kept). */
export function cbor(v) {
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error("cbor: integers only");
    return v >= 0 ? head(0, v) : head(1, -1 - v);
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (typeof v === "string") {
    const b = Buffer.from(v, "utf8");
    return Buffer.concat([head(3, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  if (v instanceof Map) {
    const parts = [head(5, v.size)];
    for (const [k, x] of v) parts.push(cbor(k), cbor(x));
    return Buffer.concat(parts);
  }
  if (v && typeof v === "object") return cbor(new Map(Object.entries(v)));
  throw new Error(`cbor: unsupported ${typeof v}`);
}

// ------------------------------------------------------------------ authenticator
export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40 };

/**
 * A platform authenticator holding credentials for one relying party.
 * opts.origin: the origin written into clientDataJSON.
 */
export class SoftAuthenticator {
  constructor({ rpId = "localhost", origin, flags = FLAGS.UP | FLAGS.UV } = {}) {
    this.rpId = rpId;
    this.origin = origin;
    this.flags = flags;
    this.credentials = []; // {id: Buffer, privateKey, x, y, counter, userHandle}
  }

  #authData(extraFlags, counter, attested) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter >>> 0, 0);
    return Buffer.concat([sha256(this.rpId), Buffer.from([this.flags | extraFlags]), c, ...(attested ? [attested] : [])]);
  }

  #clientData(type, challenge, origin) {
    return Buffer.from(JSON.stringify({ type, challenge, origin: origin ?? this.origin, crossOrigin: false }), "utf8");
  }

  /** navigator.credentials.create(): options = the server's creation options (JSON form). */
  create(options, { counter = 1, origin } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const x = Buffer.from(jwk.x, "base64url");
    const y = Buffer.from(jwk.y, "base64url");
    const id = randomBytes(16);
    // COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    const coseKey = cbor(new Map([[1, 2], [3, -7], [-1, 1], [-2, x], [-3, y]]));
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(id.length, 0);
    const attested = Buffer.concat([Buffer.alloc(16) /* AAGUID: zero */, idLen, id, coseKey]);
    const authData = this.#authData(FLAGS.AT, counter, attested);
    const attestationObject = cbor(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    const clientDataJSON = this.#clientData("webauthn.create", options.challenge, origin);
    const cred = { id, privateKey, counter, userHandle: options.user?.id ?? null };
    this.credentials.push(cred);
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: "public-key",
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        authenticatorData: b64url(authData),
        transports: ["internal"],
        publicKeyAlgorithm: -7,
        publicKey: b64url(publicKey.export({ format: "der", type: "spki" })),
      },
    };
  }

  /**
   * navigator.credentials.get(): options = the server's request options (JSON form).
   * o.credential: which credential (default the last created); o.counter: the
   * signature counter to report (default one more than the last);
   * o.badSignature: sign something else.
   */
  get(options, o = {}) {
    const cred = o.credential ?? this.credentials.at(-1);
    if (!cred) throw new Error("no credential");
    cred.counter = o.counter ?? cred.counter + 1;
    const authData = this.#authData(0, cred.counter, null);
    const clientDataJSON = this.#clientData("webauthn.get", options.challenge, o.origin);
    const signed = Buffer.concat([authData, sha256(clientDataJSON)]);
    const signature = createSign("sha256")
      .update(o.badSignature ? Buffer.concat([signed, Buffer.from([0])]) : signed)
      .sign(cred.privateKey); // DER
    return {
      id: b64url(cred.id),
      rawId: b64url(cred.id),
      type: "public-key",
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: cred.userHandle,
      },
    };
  }
}
