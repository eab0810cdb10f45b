// A cookie jar for the Better Auth client running in Node (no browser cookie store).

/**
 * A minimal cookie jar for one host: name -> { value, expires }.
 * Values are kept exactly as the server sent them (no decoding), as a browser
 * does, so the round trip can be checked byte for byte.
 */
export class CookieJar {
  #cookies = new Map();

  /** Applies one `Set-Cookie` header value. */
  store(header) {
    const [pair, ...attrs] = header.split(";");
    const eq = pair.indexOf("=");
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let expires = null;
    let maxAgeSeen = false;
    for (const attr of attrs) {
      const i = attr.indexOf("=");
      const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const val = i < 0 ? "" : attr.slice(i + 1).trim();
      if (key === "max-age") {
        const secs = Number.parseInt(val, 10);
        if (Number.isFinite(secs)) {
          maxAgeSeen = true;
          expires = Date.now() + secs * 1000;
        }
      } else if (key === "expires" && !maxAgeSeen) {
        const at = Date.parse(val);
        if (Number.isFinite(at)) expires = at;
      }
    }
    // An emptied value is how servers clear a cookie, with or without Max-Age=0.
    if (value === "" || (expires !== null && expires <= Date.now())) {
      this.#cookies.delete(name);
    } else {
      this.#cookies.set(name, { value, expires });
    }
  }

  #live() {
    const now = Date.now();
    for (const [name, c] of this.#cookies) {
      if (c.expires !== null && c.expires <= now) this.#cookies.delete(name);
    }
    return this.#cookies;
  }

  get(name) {
    return this.#live().get(name)?.value;
  }

  has(name) {
    return this.#live().has(name);
  }

  names() {
    return [...this.#live().keys()];
  }

  /** The `Cookie` request header, or null when the jar is empty. */
  header() {
    const parts = [...this.#live()].map(([name, c]) => `${name}=${c.value}`);
    return parts.length ? parts.join("; ") : null;
  }

  clear() {
    this.#cookies.clear();
  }
}
