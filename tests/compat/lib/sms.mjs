// One HTTP relay for text-message codes, shared by both servers: each POSTs
// JSON {to, code, kind} to its own path (/<side>-<pair>). Gatehouse's posts
// must carry a valid signature (x-gatehouse-signature: sha256=<hex
// HMAC-SHA256 over "<x-gatehouse-timestamp>.<raw body>">); the reference
// server's sendOTP posts unsigned.

import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";

export class SmsSink {
  #server;
  #boxes = new Map(); // "path|to" -> [{code, kind}]
  #cursor = new Map();
  #waiters = new Set();
  refused = [];
  port = 0;

  constructor(secret) {
    this.secret = secret;
  }

  async start() {
    this.#server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        const path = req.url ?? "/";
        if (path.startsWith("/gatehouse")) {
          const ts = req.headers["x-gatehouse-timestamp"] ?? "";
          const sig = req.headers["x-gatehouse-signature"] ?? "";
          const want = "sha256=" + createHmac("sha256", this.secret).update(`${ts}.`).update(raw).digest("hex");
          const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
          if (!fresh || sig.length !== want.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(want))) {
            this.refused.push(path);
            res.writeHead(401).end();
            return;
          }
        }
        let msg;
        try {
          msg = JSON.parse(raw.toString("utf8"));
        } catch {
          res.writeHead(400).end();
          return;
        }
        const key = `${path}|${msg.to}`;
        if (!this.#boxes.has(key)) this.#boxes.set(key, []);
        this.#boxes.get(key).push({ code: msg.code, kind: msg.kind });
        for (const w of this.#waiters) w();
        res.writeHead(200).end();
      });
    });
    await new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    this.port = this.#server.address().port;
    return this;
  }

  url(path) {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  stop() {
    this.#server.closeAllConnections?.();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** The next unread message to `to` on `path`: {code, kind}; null after timeoutMs. */
  async take(path, to, timeoutMs = 10000) {
    const key = `${path}|${to}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const box = this.#boxes.get(key) ?? [];
      const i = this.#cursor.get(key) ?? 0;
      if (i < box.length) {
        this.#cursor.set(key, i + 1);
        return box[i];
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise((resolve) => {
        const w = () => {
          this.#waiters.delete(w);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(w, left);
        this.#waiters.add(w);
      });
    }
  }
}
