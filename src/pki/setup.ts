/** Loads reflect-metadata before @peculiar/x509 and points x509 at WebCrypto. Import first. */
// Both lines are needed. Run from source, Bun loads x509's CommonJS build and
// evaluates CommonJS imports in order, so the direct import comes first; in
// the compiled bundle it runs ESM initialisers before CommonJS ones, so the
// polyfill also sits in an ESM module of its own.
import "reflect-metadata";
import "./reflect-polyfill.ts";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
