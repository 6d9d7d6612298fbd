/** The sis wire protocol: frames, limits, messages, codec, error codes. */
export * from "./codec.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./limits.ts";
export * from "./messages.ts";
export * from "./names.ts";
export * from "./outbox.ts";
export * from "./invitation.ts";
export * from "./versions.ts";
