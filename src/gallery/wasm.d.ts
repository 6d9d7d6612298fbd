/** Files embedded in the compiled binary (`import p from "x.wasm" with { type: "file" }` yields a path). */
declare module "*.wasm" {
  const path: string;
  export default path;
}
