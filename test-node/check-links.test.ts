// The link check `npm test` runs over README.md, SECURITY.md and docs/: it must
// catch the breakages a move or a renamed heading causes, and pass the real docs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { anchorsOf, checkLinks, slug } from "../scripts/check-links.ts";
import { PROJECT_ROOT } from "../scripts/dev-server.ts";

describe("check-links", () => {
  const dir = mkdtempSync(join(tmpdir(), "check-links-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "docs"));
  writeFileSync(join(dir, "docs", "shot.png"), "");
  writeFileSync(
    join(dir, "docs", "guide.md"),
    [
      "# Guide",
      "## HTTP answers on the WebSocket route",
      "## Room names",
      "## Room names",
      "### `since` and 技术交流",
      "```md",
      "## Not a heading",
      "[in a fence](missing.md)",
      "```",
      "A span `[not a link](missing.md)` is code.",
    ].join("\n"),
  );

  function brokenIn(markdown: string): string[] {
    const file = join(dir, "README.md");
    writeFileSync(file, markdown);
    return checkLinks([file, join(dir, "docs", "guide.md")], dir).map((b) => b.target);
  }

  it("accepts links to files, headings (also repeated and Unicode ones) and images", () => {
    assert.deepEqual(
      brokenIn(
        [
          "[g](docs/guide.md) [a](docs/guide.md#http-answers-on-the-websocket-route)",
          "[twice](docs/guide.md#room-names-1) [u](docs/guide.md#since-and-技术交流)",
          '<img src="docs/shot.png" alt="x"> ![s](docs/shot.png) [web](https://example.com/nope)',
          "[self](#top)",
          "# Top",
        ].join("\n"),
      ),
      [],
    );
  });

  it("reports a missing file, a missing heading, a moved image and a bad in-page anchor", () => {
    assert.deepEqual(
      brokenIn(
        [
          "[gone](docs/protocol.md) [h](docs/guide.md#errors)",
          '<img src="shot.png" alt="x">',
          "[in page](#nowhere) [thrice](docs/guide.md#room-names-2)",
        ].join("\n"),
      ),
      [
        "docs/protocol.md",
        "docs/guide.md#errors",
        "shot.png",
        "#nowhere",
        "docs/guide.md#room-names-2",
      ],
    );
  });

  it("ignores links in code", () => {
    assert.deepEqual(anchorsOf("```\n# Not\n```\n# Yes").has("not"), false);
    assert.equal(slug("`rich=1` frames: (batched)"), "rich1-frames-batched");
  });

  it("passes the project's own README, SECURITY.md and docs/", () => {
    const run = spawnSync(process.execPath, ["scripts/check-links.ts"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    });
    assert.equal(run.status, 0, run.stderr);
  });
});
