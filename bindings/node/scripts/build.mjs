// Builds the native addon with cargo and copies it next to index.js as
// gatehouse.<platform>-<arch>.node (the name index.js loads).
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const release = process.argv.includes("--release");
execFileSync("cargo", ["build", "-p", "gatehouse-node", ...(release ? ["--release"] : [])], { cwd: pkg, stdio: "inherit" });
const target = process.env.CARGO_TARGET_DIR ?? join(pkg, "..", "..", "target");
const lib = { linux: "libgatehouse_node.so", darwin: "libgatehouse_node.dylib", win32: "gatehouse_node.dll" }[process.platform];
const out = join(pkg, `gatehouse.${process.platform}-${process.arch}.node`);
copyFileSync(join(target, release ? "release" : "debug", lib), out);
console.log(`built ${out}`);
