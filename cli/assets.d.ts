/** Files embedded in the compiled binary (`import p from "x.png" with { type: "file" }` yields a path). */
declare module "*.png" {
  const path: string;
  export default path;
}
