/**
 * @module @edge-chat/client
 * The room client of edge chat rooms: one class, `RoomClient`, for browsers
 * and Node 22+, and the frames a room sends. See README.md.
 */
export {
  RoomClient,
  type ConnectionState,
  type RoomClientEvents,
  type RoomClientOptions,
  type StatusChange,
} from "./room-client.ts";
export { MessageHistory } from "./history.ts";
export * from "./protocol.ts";
