// npm `install` hook: a packed tarball ships its addon; a source checkout
// (`npm install ./bindings/node`) builds it with cargo.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
if (existsSync(join(pkg, `gatehouse.${process.platform}-${process.arch}.node`))) process.exit(0);
if (!existsSync(join(pkg, "Cargo.toml"))) {
  console.error(`@gatehouse/client: no prebuilt addon for ${process.platform}-${process.arch}`);
  process.exit(1);
}
execFileSync(process.execPath, [join(pkg, "scripts", "build.mjs")], { stdio: "inherit" });
