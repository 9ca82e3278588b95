// The console chart's figures (client/console-chart.ts): what the lines say
// for a known burst of messages and member counts, as docs/browser.md
// describes them (messages per second in 60 buckets of the window, members
// as sampled).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ActivitySeries } from "../client/console-chart.ts";

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

describe("the console chart's series", () => {
  it("shows six messages in one second as 6/s over a minute and 1.2/s over five", () => {
    const series = new ActivitySeries();
    for (let i = 0; i < 6; i++) series.message(NOW - 3000 + i * 100);
    const minute = series.ratePoints(NOW, 60_000);
    assert.equal(minute.length, 61);
    assert.deepEqual(
      minute.filter(([, v]) => v > 0),
      [[NOW - 3000, 6]],
    );
    const five = series.ratePoints(NOW, 300_000);
    assert.deepEqual(
      five.filter(([, v]) => v > 0).map(([, v]) => v),
      [1.2],
    );
    // The header's figure: the last 10 whole seconds.
    assert.equal(series.rate(NOW), 0.6);
  });

  it("forgets what is older than 15 minutes, and keeps member samples in order", () => {
    const series = new ActivitySeries();
    series.message(NOW - 16 * 60_000);
    series.message(NOW - 60_000);
    series.members(NOW - 16 * 60_000, 9);
    series.members(NOW - 2000, 3);
    series.members(NOW, 4);
    series.trim(NOW);
    const total = series.ratePoints(NOW, 900_000).reduce((sum, [, v]) => sum + v * 15, 0);
    assert.equal(total, 1);
    assert.deepEqual(series.memberPoints(), [
      [NOW - 2000, 3],
      [NOW, 4],
    ]);
  });
});
