#!/usr/bin/env node
// Builds the package into dist/: index.js (ESM, one file, partysocket left
// as an import for the user's bundler or Node to resolve) with esbuild, and
// the .d.ts files with tsc. `npm pack` runs it (prepack); the repository's
// own pages do not need it, they bundle src/ directly.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
rmSync(`${here}dist`, { recursive: true, force: true });

await build({
  absWorkingDir: here,
  entryPoints: ["src/index.ts"],
  outfile: "dist/index.js",
  bundle: true,
  format: "esm",
  platform: "neutral",
  external: ["partysocket", "partysocket/*"],
  target: "es2022",
  sourcemap: true,
  legalComments: "none",
  logLevel: "warning",
});

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: here, stdio: "inherit" });

// The sources import each other as "./x.ts" (Node runs them as is); the
// published declarations say "./x.js", which every resolution mode accepts.
for (const file of readdirSync(`${here}dist`).filter((f) => f.endsWith(".d.ts"))) {
  const path = `${here}dist/${file}`;
  writeFileSync(path, readFileSync(path, "utf8").replace(/(from "\.\/[\w-]+)\.ts"/g, '$1.js"'));
}
