/**
 * `autoprog/client`: the typed API client and the run-event follower, for programs that drive
 * an autoprog server. Depends on openapi-fetch, eventsource-parser and zod only.
 */
export type { components, paths } from "../../openapi/sdk/schema.ts";
export type { EventOfType, TrainingEvent, TrainingEventType } from "../core/events.ts";
export {
  ApiError,
  type AutoprogClient,
  type AutoprogClientOptions,
  ConnectionError,
  createAutoprogClient,
  DEFAULT_API_URL,
  isTransient,
  type Problem,
  problemText,
  unwrap,
} from "./client.ts";
export {
  EventStreamError,
  type FollowBackoff,
  type FollowedEvent,
  type FollowRunOptions,
  followRunEvents,
} from "./follow.ts";
