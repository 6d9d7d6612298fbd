/** A CSR the CA refused, as the wire says it (P14, RN2): WEAK_KEY or BAD_CSR; anything else is not a CSR problem. */
import { PkiError } from "../pki/index.ts";
import { ProtocolError } from "../protocol/index.ts";

export function csrRefusal(error: unknown): ProtocolError {
  if (error instanceof PkiError && error.code === "WEAK_KEY") return new ProtocolError("WEAK_KEY", "the key in the CSR is too weak: use RSA with at least 2048 bits");
  if (error instanceof PkiError) return new ProtocolError("BAD_CSR", "the certificate request is invalid: its signature or structure does not check out");
  throw error;
}
