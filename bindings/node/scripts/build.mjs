// Builds the native addon with cargo and copies it next to index.js as
// gatehouse.<triple>.node (what index.js loads in a source checkout).
//   --release            a release build (what `npm run build` and installs use)
//   --platform-package   also copy it into npm/<triple>/, the platform package
//   --prebuilt           no cargo build: copy what target/debug (or release) holds
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { platformTriple } = require("./platform.js");
const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, "..");
const release = process.argv.includes("--release");
// --prebuilt: take the library a workspace build already made (CI builds the
// whole workspace once; a `-p gatehouse-node` build would unify features
// differently and recompile much of the tree).
if (!process.argv.includes("--prebuilt")) {
  execFileSync("cargo", ["build", "-p", "gatehouse-node", ...(release ? ["--release"] : [])], { cwd: pkg, stdio: "inherit" });
}
const target = process.env.CARGO_TARGET_DIR ?? join(pkg, "..", "..", "target");
const lib = { linux: "libgatehouse_node.so", darwin: "libgatehouse_node.dylib", win32: "gatehouse_node.dll" }[process.platform];
const triple = platformTriple();
const built = join(target, release ? "release" : "debug", lib);
const out = join(pkg, `gatehouse.${triple}.node`);
copyFileSync(built, out);
console.log(`built ${out}`);
if (process.argv.includes("--platform-package")) {
  const dir = join(pkg, "npm", triple);
  if (!existsSync(join(dir, "package.json"))) throw new Error(`no platform package for ${triple} in npm/`);
  copyFileSync(built, join(dir, `gatehouse.${triple}.node`));
  console.log(`copied into ${dir}`);
}
