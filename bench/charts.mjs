/**
 * Draws the SVG charts of an earlier benchmark run from its results JSON
 * (`npm run bench` draws them itself after each run):
 *
 *   node bench/charts.mjs bench/results/2026-12-02-epyc.json [more.json ...]
 *       writes bench/results/2026-12-02-epyc-charts/*.svg
 *   node bench/charts.mjs --png FILE.json
 *       also renders each SVG to PNG with Debian's chromium (headless), to
 *       look at them where no SVG viewer is at hand
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { writeCharts } from "./lib/charts.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const argv = process.argv.slice(2);
const png = argv.includes("--png");
const files = argv.filter((a) => !a.startsWith("--"));
if (!files.length) {
  console.error("usage: node bench/charts.mjs [--png] RESULTS.json [...]");
  process.exit(2);
}

for (const file of files) {
  const data = JSON.parse(readFileSync(file, "utf8"));
  const charts = writeCharts(file.replace(/\.json$/, ""), data.rows, data.targets, data);
  for (const c of charts) {
    console.log(c.path);
    if (!png) continue;
    const [, w, h] = /width="(\d+)" height="([\d.]+)"/.exec(c.svg) ?? [];
    execFileSync(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        `--window-size=${w},${Math.ceil(Number(h))}`,
        `--screenshot=${c.path.replace(/\.svg$/, ".png")}`,
        pathToFileURL(c.path).href,
      ],
      { stdio: "ignore" },
    );
    console.log(c.path.replace(/\.svg$/, ".png"));
  }
}
