/**
 * @module alarm-schedule
 * A room has one alarm and several features with due work (webhook
 * delivery, retention). Each asks for a time; the earliest wins, and
 * ChatRoom.alarm() runs every feature's due work and asks again.
 */

/**
 * Sets the alarm to `at` unless an earlier one is already set. Inside
 * alarm() the running alarm reads as unset (documented), so a reschedule
 * from there is never lost.
 */
export async function scheduleAlarm(storage: DurableObjectStorage, at: number): Promise<void> {
  const current = await storage.getAlarm();
  if (current === null || at < current) await storage.setAlarm(at);
}
