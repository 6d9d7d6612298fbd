/**
 * Loads reflect-metadata on its own. Imported first by setup.ts: Bun's bundler
 * runs ESM imports before CommonJS ones within a module, so a direct
 * `import "reflect-metadata"` next to @peculiar/x509 would run too late in
 * the compiled binary.
 */
import "reflect-metadata";
