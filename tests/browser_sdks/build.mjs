// Bundle each library into <out>/<name>.bundle.js (an IIFE a page loads with <script>).
// Usage: node build.mjs <out directory>; run where `npm ci` installed package-lock.json.
import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, "dist"));

for (const name of ["segment", "rudderstack"]) {
  await build({
    entryPoints: [path.join(here, `${name}.js`)],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    outfile: path.join(out, `${name}.bundle.js`),
    logLevel: "warning",
  });
}
