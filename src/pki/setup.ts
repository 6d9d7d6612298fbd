/** Loads reflect-metadata before @peculiar/x509 and points x509 at WebCrypto. Import first. */
import "./reflect-polyfill.ts";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
