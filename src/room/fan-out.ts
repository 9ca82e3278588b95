/**
 * @module fan-out
 * Who gets which frame. Every socket is in exactly one of two delivery
 * groups, kept as hibernation tags so they survive a wake without mirrored
 * flags or counters:
 *   "chat"  - one chat frame per WebSocket message (the tutorial's client, bare or rich);
 *   "batch" - chat frames that arrive in one turn share a message, newline-separated (?batch=1).
 * Rich sockets (?rich=1) are also tagged "rich": they alone get presence and
 * other rich frames. Chat frames are serialised once, never per socket.
 */
import { trySend } from "./sockets";

export const TAG_CHAT = "chat";
export const TAG_BATCH = "batch";
export const TAG_RICH = "rich";

/** The hibernation tags of a socket that opted in to `rich` and/or `batch`. */
export function tagsFor(options: { rich: boolean; batch: boolean }): string[] {
  const tags = [options.batch ? TAG_BATCH : TAG_CHAT];
  if (options.rich) tags.push(TAG_RICH);
  return tags;
}

/** The runtime's view of a room's sockets: DurableObjectState satisfies it. */
export interface SocketGroups {
  getWebSockets(tag?: string): WebSocket[];
}

export class FanOut {
  #sockets: SocketGroups;
  /** Called for a socket whose send threw: it is gone, the room forgets it. */
  #onDead: (ws: WebSocket) => void;
  /** Chat frames waiting for the batch sockets, and whether a flush is due. */
  #pending: string[] = [];
  #flushScheduled = false;

  constructor(sockets: SocketGroups, onDead: (ws: WebSocket) => void) {
    this.#sockets = sockets;
    this.#onDead = onDead;
  }

  /**
   * Sends one serialised chat frame to every member: at once to the "chat"
   * group, on the next flush to the "batch" group. Returns how many sockets
   * it reached or will reach.
   */
  chat(frame: string): number {
    let delivered = this.#send(this.#sockets.getWebSockets(TAG_CHAT), frame);
    const batch = this.#sockets.getWebSockets(TAG_BATCH).length;
    if (batch > 0) {
      this.#pending.push(frame);
      delivered += batch;
      // A 0 ms flush, so messages that arrive in the same turn share a frame.
      // It never outlives the busy moment.
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setTimeout(() => this.flush(), 0);
      }
    }
    return delivered;
  }

  /**
   * Sends the pending chat frames to the batch group now. A joiner's history
   * already holds them, so the room flushes before it accepts one: nobody
   * gets a message twice.
   */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const frame = this.#pending.join("\n");
    this.#pending = [];
    this.#send(this.#sockets.getWebSockets(TAG_BATCH), frame);
  }

  /**
   * Sends a rich frame (already serialised) to every rich socket; given a
   * function, sends each rich socket the frame it returns for that socket.
   */
  rich(frame: string | ((ws: WebSocket) => string)): number {
    return this.#send(this.#sockets.getWebSockets(TAG_RICH), frame);
  }

  #send(sockets: WebSocket[], frame: string | ((ws: WebSocket) => string)): number {
    let delivered = 0;
    let dead: WebSocket[] | undefined;
    for (const ws of sockets) {
      // One broken socket must not stop the broadcast to the others.
      if (trySend(ws, typeof frame === "string" ? frame : frame(ws))) delivered++;
      else (dead ??= []).push(ws);
    }
    if (dead) for (const ws of dead) this.#onDead(ws);
    return delivered;
  }
}
