#!/usr/bin/env node
// `wrangler deploy --dry-run`: bundles the Worker and validates wrangler.toml
// offline, so a broken bundle or config fails CI before anyone deploys.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "./dev-server.ts";

const outdir = mkdtempSync(join(tmpdir(), "chat-deploy-"));
try {
  execFileSync(
    join(PROJECT_ROOT, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--outdir", outdir],
    {
      cwd: PROJECT_ROOT,
      stdio: "inherit",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    },
  );
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
