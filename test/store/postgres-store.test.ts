/** PostgresStore: the shared Store contract on a private PostgreSQL, then what only PostgreSQL has (migrations, commit order across connections, killed backends). */
import { afterAll, beforeAll } from "bun:test";
import { PostgresStore } from "../../src/store/postgres-store.ts";
import { type PostgresServer, startPostgres } from "../support/postgres.ts";
import { runStoreContract } from "./store-contract.ts";

let pg: PostgresServer;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

runStoreContract("PostgresStore", async () => {
  const { url, schema } = await pg.newSchema();
  const store = await PostgresStore.open(url, { max: 4, schema });
  const twins: PostgresStore[] = [];
  return {
    store,
    twin: async () => {
      const t = await PostgresStore.open(url, { max: 2, schema });
      twins.push(t);
      return t;
    },
    cleanup: async () => {
      for (const t of twins) await t.close();
      await store.close();
    },
  };
});
