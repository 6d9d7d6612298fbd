/** The version printed by `sis --version` and sent in HELLO. */
export const VERSION = "0.1.0";
