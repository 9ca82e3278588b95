// The giant-room pieces of the benchmark: each message's latency to its first
// and to its last receiver (bench/lib/loadgen.mjs), and the issue-23 target
// check that compares a room over relays with one object at the same N
// (bench/lib/report.mjs).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Run } from "../bench/lib/loadgen.mjs";
import { checkTargets } from "../bench/lib/report.mjs";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One giant-room result row as the report reads it. */
function row(scenario: string, cpu: number, members: number) {
  return {
    scenario,
    label: scenario,
    target: "project",
    figures: {
      members,
      relays: 4,
      max_cpu_us_per_frame: cpu,
      lost: 0,
      duplicated: 0,
      reordered: 0,
    },
  };
}

describe("giant-room figures", () => {
  it("records a message's first receiver when the first of its N gets it and its last when all have", async () => {
    const run = new Run();
    const g = run.register(3);
    run.hit(g);
    assert.equal(run.firstLatency.count, 1);
    assert.equal(run.lastLatency.count, 0, "two receivers still miss it");
    await sleep(30);
    run.hit(g);
    run.hit(g);
    assert.equal(run.firstLatency.count, 1, "only the first receiver counts as first");
    assert.equal(run.lastLatency.count, 1);
    const first = run.firstLatency.summary().p50 ?? 0;
    const last = run.lastLatency.summary().p50 ?? 0;
    assert.ok(last - first >= 25, `last ${last} ms comes after first ${first} ms`);
  });

  it("checks relays against one object at 2,000 members, and only there", () => {
    const at = (rows: ReturnType<typeof row>[]) =>
      checkTargets(rows).find((c) => c.target.startsWith("giantrelays2000: server CPU"));
    assert.equal(at([row("giant2000", 40, 2000), row("giantrelays2000", 44, 2000)])?.ok, true);
    assert.equal(at([row("giant2000", 40, 2000), row("giantrelays2000", 48, 2000)])?.ok, false);
    assert.equal(
      at([row("giant2000", 40, 100), row("giantrelays2000", 48, 100)])?.ok,
      null,
      "quick sizes are not the target's",
    );
  });
});
