// Shared by the Node tests: an SMTP sink and a server with mail, both on loopback.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `gatehouse serve` on 127.0.0.1:`port` with a fresh SQLite file and `env`; stopped after the test. */
export function spawnGatehouse(t, port, env = {}) {
  const bin = process.env.GATEHOUSE_BIN;
  assert.ok(bin, "GATEHOUSE_BIN is set by the runner");
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-node-"));
  const server = spawn(bin, ["serve"], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: `sqlite://${join(dir, "g.db")}`,
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_SECRET: randomBytes(24).toString("hex"),
      RUST_LOG: "warn",
      ...env,
    },
    stdio: "ignore",
  });
  t.after(() => server.kill());
  return server;
}

/** A free port on loopback. */
export async function freePort() {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((r) => probe.close(r));
  return port;
}

/** A minimal SMTP sink: enough of RFC 5321 for the server's mailer. */
export function smtpSink() {
  const mails = [];
  const sockets = new Set();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // The server's mailer keeps its connection open; when the server is
    // stopped at the end of a test the peer resets it, which is not an error.
    socket.on("error", () => {});
    let buffer = "";
    let inData = false;
    let data = "";
    const to = [];
    socket.write("220 sink ESMTP\r\n");
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let i;
      while ((i = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === ".") {
            inData = false;
            mails.push({ to: [...to], data });
            to.length = 0;
            data = "";
            socket.write("250 OK queued\r\n");
          } else {
            data += (line.startsWith("..") ? line.slice(1) : line) + "\n";
          }
          continue;
        }
        const upper = line.toUpperCase();
        if (upper.startsWith("EHLO")) socket.write("250-sink\r\n250 8BITMIME\r\n");
        else if (upper.startsWith("RCPT TO")) {
          to.push(line.slice(8).replace(/[<>:]/g, "").trim());
          socket.write("250 OK\r\n");
        } else if (upper === "DATA") {
          inData = true;
          socket.write("354 go ahead\r\n");
        } else if (upper.startsWith("QUIT")) {
          socket.end("221 bye\r\n");
        } else socket.write("250 OK\r\n");
      }
    });
  });
  const close = () =>
    new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { server, mails, close };
}

export const decodeQP = (s) => s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));

export async function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

export async function waitFor(fn, what) {
  for (let i = 0; i < 100; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A server with `plugins`, mailing to a fresh SMTP sink; both stop after the
 * test. `host` names its base URL (passkeys need a domain name: `localhost`).
 */
export async function serverWithMail(t, plugins, host = "127.0.0.1") {
  const sink = smtpSink();
  const smtpPort = await listen(sink.server);
  t.after(() => sink.close());
  const port = await freePort();
  spawnGatehouse(t, port, {
    GATEHOUSE_RATE_LIMIT: "off",
    GATEHOUSE_PLUGINS: plugins,
    GATEHOUSE_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    GATEHOUSE_BASE_URL: `http://${host}:${port}`,
  });
  const url = `http://${host}:${port}`;
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/api/auth/ok`).catch(() => null))?.ok, "the server");
  return { url, sink };
}

function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/=+$/, "").toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 6-digit code for `uri` at Unix time `seconds`. */
export function totp(uri, seconds) {
  const key = base32Decode(new URL(uri).searchParams.get("secret"));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, "0");
}
