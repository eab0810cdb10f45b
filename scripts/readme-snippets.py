#!/usr/bin/env python3
"""Runs the code blocks of README.md exactly as written, so what users copy works.

Every fenced block in README.md names what it is after its language, where a
Markdown renderer shows nothing (```` ```sh snippet=server ````):

  snippet=server   a shell command that starts the server: run in the background
                   from the repository root until the next server is needed;
                   the blocks after it talk to it on 127.0.0.1:3000
  snippet=shell    a shell command, run with `bash -euo pipefail` from the root
  snippet=ci       a command CI itself runs: checked to appear in .ci/run
  snippet=rust     Rust client code: compiled with the `toml` block before it as
                   the `gatehouse` crate's example `readme_snippet` and run
  snippet=node     JavaScript for Node: saved as an .mjs file in a scratch
                   folder with the packages it imports installed, and run
  snippet=kotlin   Kotlin client code: compiled with the generated sources and
                   run on the JVM (the same toolchain as the Kotlin test)
  snippet=excerpt:PATH   lines of a file CI builds: each must appear in PATH
  snippet=deps     a dependency block (used by the next rust block)
  snippet=platform:android / platform:ios   code for a toolchain this machine
                   lacks (Android SDK and NDK, Swift): checked by what can be
                   checked here: XML parses, and every binding type and method
                   the block uses exists in the generated Kotlin or Swift
  snippet=text     reference text, not a command

A client snippet that needs plugins says so on its first line, as a comment
of the form `Server: GATEHOUSE_PLUGINS=username` (any `NAME=value` pairs):
the server is restarted with those variables, the way that comment tells a
reader to start it. An untagged block, or a tag this script does not know,
fails the run, so nothing is skipped silently.

usage: python3 scripts/readme-snippets.py [README.md]
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = "http://127.0.0.1:3000/api/auth"
FENCE = re.compile(r"^```(\S*)(.*)$")
SERVER_LINE = re.compile(r"^\s*(?://|#)\s*Server:\s*(.*)$")


def blocks(path: Path):
    """(line number, language, tag, text) of each fenced block."""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, attrs = m.group(1), m.group(2)
        tag = next((a.split("=", 1)[1] for a in attrs.split() if a.startswith("snippet=")), None)
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        yield start, lang, tag, "\n".join(lines[start:i]) + "\n"
        i += 1


def server_env(text: str) -> dict:
    first = text.strip().splitlines()[0] if text.strip() else ""
    m = SERVER_LINE.match(first)
    if not m:
        return {}
    return dict(pair.split("=", 1) for pair in shlex.split(m.group(1)) if "=" in pair)


class Server:
    """The server as the README starts it, restarted when a snippet needs other settings."""

    def __init__(self, command: str, scratch: Path):
        self.command = command
        self.scratch = scratch
        self.proc = None

    def ensure(self, extra: dict):
        """A fresh server (and database: the snippets sign up the same users)."""
        self.stop()
        env = {**os.environ, **extra}
        log = open(self.scratch / "server.log", "ab")
        self.proc = subprocess.Popen(
            ["bash", "-c", self.command], cwd=ROOT, env=env, stdout=log, stderr=log,
            start_new_session=True,
        )
        deadline = time.time() + 600  # the first `cargo run` may build
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server command exited:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"{BASE}/ok", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the server did not answer {BASE}/ok\n{self.log_tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None
        # The databases (and development secrets) the README's commands create.
        for f in [*ROOT.glob("gatehouse.db*"), *ROOT.glob("embed.db*")]:
            f.unlink()

    def log_tail(self) -> str:
        path = self.scratch / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def run(cmd, **kw):
    print("  $", cmd if isinstance(cmd, str) else " ".join(map(str, cmd)), flush=True)
    subprocess.run(cmd, check=True, **kw)


def shell_snippet(text: str):
    """Runs in its own process group, so what it starts in the background
    (`cmd &`, as a reader would) ends with it."""
    print("  $", text.strip().replace("\n", "\n    "), flush=True)
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", text], cwd=ROOT,
                            start_new_session=True)
    try:
        code = proc.wait(timeout=900)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if code != 0:
        raise subprocess.CalledProcessError(code, "bash snippet")


def rust_snippet(text: str, deps: str):
    """The `gatehouse` crate's example: the block as the body of an async main."""
    if 'gatehouse = { path = "sdk"' not in deps:
        raise SystemExit("a rust snippet needs the sdk dependency block before it")
    example = ROOT / "sdk" / "examples" / "readme_snippet.rs"
    example.parent.mkdir(exist_ok=True)
    example.write_text(
        "// Written by scripts/readme-snippets.py from README.md; not checked in.\n"
        "#[tokio::main]\nasync fn main() -> Result<(), Box<dyn std::error::Error>> {\n"
        + text + "    Ok(())\n}\n"
    )
    try:
        # Built with the test build's selection (whole workspace, every
        # target) so no dependency recompiles, then run directly.
        run(["cargo", "build", "-q", "--workspace", "--all-targets"], cwd=ROOT)
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        run([str(target / "debug" / "examples" / "readme_snippet")], cwd=ROOT)
    finally:
        example.unlink()


def node_snippet(text: str, scratch: Path, n: int):
    work = scratch / f"node-{n}"
    work.mkdir()
    (work / "package.json").write_text('{"type": "module", "private": true}\n')
    wanted = set(re.findall(r'from "([^"./][^"]*)"', text))
    packages = []
    for name in sorted({w.split("/")[0] if not w.startswith("@") else "/".join(w.split("/")[:2]) for w in wanted}):
        if name == "@gatehouse/client":
            packages.append(str(ROOT / "bindings" / "node"))
        elif name == "better-auth":
            pinned = (ROOT / "tests" / "compat" / "package.json").read_text()
            version = re.search(r'"better-auth":\s*"([^"]+)"', pinned).group(1)
            packages.append(f"better-auth@{version}")
        else:
            packages.append(name)
    if packages:
        run(["npm", "install", "--no-audit", "--no-fund", "--silent", *packages], cwd=work)
    (work / "snippet.mjs").write_text(text)
    run(["node", "snippet.mjs"], cwd=work)


def kotlin_snippet(text: str, scratch: Path, n: int):
    kotlin_home = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install-kotlin.sh")], check=True,
        capture_output=True, text=True,
    ).stdout.strip()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    run(["cargo", "build", "-q", "--workspace", "--all-targets"], cwd=ROOT)
    work = scratch / f"kotlin-{n}"
    work.mkdir()
    body = "\n".join("    " + line for line in text.splitlines())
    (work / "Snippet.kt").write_text(
        "import dev.gatehouse.*\nimport kotlinx.coroutines.runBlocking\n\n"
        f"fun main() = runBlocking {{\n{body}\n}}\n"
    )
    cp = f"{kotlin_home}/lib/kotlinx-coroutines-core-jvm.jar:/usr/share/java/jna.jar"
    sources = sorted(str(p) for p in (ROOT / "bindings/mobile/generated/kotlin").rglob("*.kt"))
    run([f"{kotlin_home}/bin/kotlinc", "-nowarn", "-cp", cp, "-d", str(work / "classes"),
         *sources, str(work / "Snippet.kt")])
    run([f"{kotlin_home}/bin/kotlin", "-cp", f"{work / 'classes'}:{cp}",
         f"-Djna.library.path={target / 'debug'}", "SnippetKt"])


GENERATED = {
    "kotlin": ROOT / "bindings/mobile/generated/kotlin/dev/gatehouse",
    "swift": ROOT / "bindings/mobile/generated/swift",
}


def check_platform_block(lang: str, text: str):
    if lang == "xml":
        import xml.dom.minidom
        xml.dom.minidom.parseString(text)
        return
    if lang not in GENERATED:
        return  # a shell or build-file line for the platform's own tools
    generated = "".join(p.read_text() for p in GENERATED[lang].iterdir() if p.is_file())
    # Binding names used: its types and enum cases, and methods called on a client.
    used = set(re.findall(r"\b(AuthClient|TokenStorage|ClientPlugin|AuthException|AuthError)\b", text))
    used |= {c.lower() if lang == "swift" else c for c in re.findall(r"ClientPlugin\.(\w+)", text)}
    used |= set(re.findall(r"client\.(?:\w+\(\)\.)?(\w+)\(", text))
    missing = sorted(n for n in used if n not in generated)
    if missing:
        raise RuntimeError(f"not in the generated {lang} bindings: {', '.join(missing)}")


def main():
    readme = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "README.md"
    ci = (ROOT / ".ci" / "run").read_text()
    scratch = Path(tempfile.mkdtemp(prefix="readme-snippets-"))
    server = None
    deps = ""
    failures = 0
    count = 0
    try:
        for line, lang, tag, text in blocks(readme):
            count += 1
            where = f"{readme.name}:{line} ({lang or 'no language'}, snippet={tag})"
            print(f"\n==> {where}", flush=True)
            try:
                if tag is None:
                    raise RuntimeError("untagged block: add snippet=... after the language")
                if tag == "text":
                    continue
                if tag == "server":
                    server = Server(text.strip(), scratch)
                    server.ensure({})  # the command as written starts and answers
                elif tag == "ci":
                    for cmd in (l.split("#")[0].strip() for l in text.splitlines()):
                        if cmd and cmd not in ci:
                            raise RuntimeError(f"{cmd!r} is not run by .ci/run")
                elif tag == "deps":
                    deps = text
                elif tag.startswith("platform:"):
                    check_platform_block(lang, text)
                elif tag.startswith("excerpt:"):
                    source = (ROOT / tag.split(":", 1)[1]).read_text()
                    for l in text.splitlines():
                        if l.strip() and l.strip() not in source:
                            raise RuntimeError(f"not in {tag.split(':', 1)[1]}: {l.strip()!r}")
                else:
                    if tag in ("shell", "rust", "node", "kotlin"):
                        if server is None:
                            raise RuntimeError("no snippet=server block before this one")
                        server.ensure(server_env(text))
                    if tag == "shell":
                        shell_snippet(text)
                    elif tag == "rust":
                        rust_snippet(text, deps)
                    elif tag == "node":
                        node_snippet(text, scratch, count)
                    elif tag == "kotlin":
                        kotlin_snippet(text, scratch, count)
                    else:
                        raise RuntimeError(f"unknown snippet kind {tag!r}")
                print(f"ok  {where}")
            except (RuntimeError, subprocess.CalledProcessError) as e:
                failures += 1
                print(f"FAIL {where}: {e}")
                if server:
                    print(server.log_tail()[-1500:])
    finally:
        if server:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nreadme snippets: {count} blocks, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
