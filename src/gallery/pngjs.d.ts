/** The part of pngjs (which ships no types) that the previews use. */
declare module "pngjs" {
  export const PNG: {
    sync: {
      /** Any PNG (all depths, palettes, tRNS, Adam7) as 8-bit RGBA. */
      read(buffer: Buffer, options?: { checkCRC?: boolean }): { width: number; height: number; data: Buffer };
    };
  };
}
