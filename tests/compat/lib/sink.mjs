// One SMTP sink shared by both servers. Mail is filed by (envelope sender,
// recipient): each server sends with its own From address, so the same
// recipient on both sides never mixes.

import { SMTPServer } from "smtp-server";
import { simpleParser } from "mailparser";

export class MailSink {
  #server;
  #boxes = new Map(); // "from|to" -> [{subject, text, html, at}]
  #cursor = new Map(); // "from|to" -> index of the next unread message
  #waiters = new Set();
  port = 0;

  async start() {
    this.#server = new SMTPServer({
      secure: false,
      authOptional: true,
      disabledCommands: ["AUTH", "STARTTLS"],
      logger: false,
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            const from = (session.envelope.mailFrom?.address ?? "").toLowerCase();
            for (const rcpt of session.envelope.rcptTo) {
              const key = `${from}|${rcpt.address.toLowerCase()}`;
              if (!this.#boxes.has(key)) this.#boxes.set(key, []);
              this.#boxes.get(key).push({
                subject: parsed.subject ?? "",
                text: parsed.text ?? "",
                html: typeof parsed.html === "string" ? parsed.html : "",
                at: Date.now(),
              });
            }
            for (const w of this.#waiters) w();
            callback();
          })
          .catch(callback);
      },
    });
    await new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    this.port = this.#server.server.address().port;
    return this;
  }

  stop() {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** Number of messages received so far for (from, to), read or not. */
  count(from, to) {
    return this.#boxes.get(`${from.toLowerCase()}|${to.toLowerCase()}`)?.length ?? 0;
  }

  /** Resolves with the next unread message for (from, to); null after timeoutMs. */
  async take(from, to, timeoutMs = 10000) {
    const key = `${from.toLowerCase()}|${to.toLowerCase()}`;
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

  /** Marks everything received so far for (from, to) as read. */
  skip(from, to) {
    const key = `${from.toLowerCase()}|${to.toLowerCase()}`;
    this.#cursor.set(key, this.#boxes.get(key)?.length ?? 0);
  }
}

/** The first http(s) URL in a message's plain text (or HTML). */
export function linkIn(msg) {
  if (!msg) return null;
  const m = `${msg.text}\n${msg.html}`.match(/https?:\/\/[^\s"'<>]+/);
  return m ? m[0].replace(/&amp;/g, "&") : null;
}

/** The first run of 6 digits in a message's plain text that is not inside a URL. */
export function codeIn(msg) {
  if (!msg) return null;
  const text = `${msg.text}\n${msg.html}`.replace(/https?:\/\/[^\s"'<>]+/g, " ");
  const m = text.match(/(?<![0-9A-Za-z])(\d{6})(?![0-9A-Za-z])/);
  return m ? m[1] : null;
}
