// npm `install` hook. Installed from the packed tarballs, the platform package
// (@gatehouse/client-<triple>) carries the prebuilt addon: nothing to do, no
// cargo. A source checkout (`npm install ./bindings/node`) builds it, in release.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

const require = createRequire(import.meta.url);
const { platformTriple } = require("./platform.js");
const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const triple = platformTriple();
const prebuilt = () => {
  try {
    require.resolve(`@gatehouse/client-${triple}`, { paths: [pkg] });
    return true;
  } catch {
    return false;
  }
};
if (prebuilt() || existsSync(join(pkg, `gatehouse.${triple}.node`))) process.exit(0);
if (!existsSync(join(pkg, "Cargo.toml"))) {
  console.error(`@gatehouse/client: no prebuilt addon for ${triple}: install @gatehouse/client-${triple}`);
  process.exit(1);
}
execFileSync(process.execPath, [join(pkg, "scripts", "build.mjs"), "--release"], { stdio: "inherit" });
