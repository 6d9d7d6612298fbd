/** The one pkijs crypto engine, on WebCrypto; passed explicitly so no pkijs global state is needed. */
import * as pkijs from "pkijs";

export const engine = new pkijs.CryptoEngine({ name: "sis-webcrypto", crypto: globalThis.crypto });
