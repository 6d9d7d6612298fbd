/** The judges of a stripped photo shared by the unit and e2e tests: exiftool's reading of it, the tags that would identify, the JPEG scan bytes. */
/** exiftool's tags of a file, by group and name (-G1, numbers as numbers). */
export function exiftool(path: string): Record<string, unknown> {
  const r = Bun.spawnSync(["exiftool", "-j", "-a", "-G1", "-n", "-all", "-validate", "-warning", path]);
  if (r.exitCode !== 0) throw new Error(`exiftool failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString())[0];
}

/** The tag names that would tell where, when, with what and by whom: none may be left (the file system's own dates aside, and the kept colour profile's own header: SECURITY.md). */
const IDENTIFYING_TAG = /GPS|Make$|Model|Serial|Software|DateTime|CreateDate|ModifyDate|Artist|Owner|Creator|Title|Thumbnail|Apple|MakerNote|City|Comment|XMP-|IPTC/;
export const identifying = (tags: Record<string, unknown>) => Object.keys(tags).filter((k) => !/^(System|File|ExifTool|ICC-header|ICC_Profile):/.test(k) && IDENTIFYING_TAG.test(k));

export const PHOTOS = [
  { file: "portrait.jpg", kind: "image/jpeg", removed: ["JPEG APP1 Exif", "JPEG APP13 Photoshop/IPTC", "JPEG APP1 XMP", "JPEG COM"], kept: ["Exif Orientation 6 (rotate 90 CW)", "JPEG APP2 ICC colour profile"] },
  {
    file: "portrait.heic", kind: "image/heic", removed: ["HEIF Exif item", "HEIF XMP item", "HEIF thumbnail tile", "HEIF thumbnail"],
    kept: ["HEIF colr ICC colour profile (prof)", "HEIF irot (rotate 270 anti-clockwise)"],
  },
  {
    file: "portrait.avif", kind: "image/avif", removed: ["HEIF Exif item", "HEIF XMP item", "HEIF thumbnail"],
    kept: ["HEIF colr ICC colour profile (prof)", "HEIF colr nclx colour", "HEIF irot (rotate 270 anti-clockwise)"],
  },
] as const;

/** JPEG bytes from the first SOS marker to the end: the scans and EOI. */
export const fromSos = (b: Uint8Array) => {
  for (let pos = 2; ; ) {
    if (b[pos + 1] === 0xda) return b.subarray(pos);
    pos += 2 + ((b[pos + 2]! << 8) | b[pos + 3]!);
  }
};

