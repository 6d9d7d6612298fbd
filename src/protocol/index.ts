/** The sis wire protocol: frames, limits, messages, codec, error codes. */
export * from "./codec.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./limits.ts";
// Types only: the schemas themselves (and zod) load when a decode needs them (codec.ts).
export type * from "./messages.ts";
export * from "./image-meta.ts";
export * from "./names.ts";
export * from "./outbox.ts";
export * from "./invitation.ts";
export * from "./versions.ts";
