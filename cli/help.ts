/** Help texts: plain data, loaded without any of the heavy modules; `sis serve`'s options come from src/app/options.ts. */
import { allowed, SERVE_OPTIONS, shownDefault, type OptionSpec } from "../src/app/options.ts";
import { DEFAULT_PORT } from "../src/protocol/limits.ts";

export const USAGE = `sis — secure image sharing

usage: sis <command> [options]

server
  serve            run the server and its certificate authority (port ${DEFAULT_PORT})
  admin revoke     revoke a user's certificates, or one by --serial
  admin certs      list issued certificates
  admin backup     an online backup of the data directory (verify-backup, restore)
  admin rm OWNER/NAME  delete any image
  admin invite     make a one-time invitation for a new user (the default way in)
  admin invitations  list pending invitations, or --revoke ID
  admin users      list users: certificates, state, images, bytes, last seen
  admin disable USER / enable USER   stop (and restore) a user's access at once
  admin delete USER [--images]       delete an account (and its images)
  admin init-cluster  make the keys every node of a cluster loads (sis serve --keys)

client
  register         create your key, register or enrol it, pin the server's CA
  renew            renew your certificate before it expires (no password; --rekey: new key)
  whoami           show who you are registered as
  passwd           change your password on the server
  post FILE...     encrypt, sign and upload images
  list             list the images on the server
  get ID|OWNER/NAME  download, verify and save one image
  watch            receive, verify and save every new image as it arrives
  rm NAME          delete one of your images on the server
  devices          list your devices; 'devices link' enrols a new one without the password

  gallery          a local web page of your saved images, each verified again
  demo             run a server, two users and a post in a temporary directory

Run 'sis <command> --help' for a command's options and examples.
Exit codes: 0 success, 1 error, 2 usage, 3 trust or verification refused.`;

/** `sis serve --help`: the prose, then every option of the table with its default and range. */
function serveHelp(): string {
  const options = (SERVE_OPTIONS as readonly OptionSpec[]).map((o) => {
    const what = o.kind === "string" || o.kind === "flag" ? "" : `; ${allowed(o)}`;
    return `  --${o.key}${o.metavar ? ` ${o.metavar}` : ""} (default ${shownDefault(o)})\n      ${o.help}${what}`;
  });
  return `usage: sis serve [--config FILE] [--print-config] [--OPTION VALUE]...

Runs the server. The first start creates the CA, the server's keys and the
database in --data (and says so on stderr) and prints the CA fingerprint to
give to users. With --host 0.0.0.0 it prints the addresses clients can use.
A revocation by 'sis admin' ends the certificate's open connections within
--revocation-check seconds. SIGTERM or SIGINT lets uploads under way finish
(--shutdown-grace), tells clients SHUTTING_DOWN and exits 0; SIGHUP rereads
--config (log level, limits). The log goes to stderr (--log-format, --log-level).
New users need an invitation ('sis admin invite'); a start on a database
without users prints one for the first user ("invitation: sis1:…").
--open-registration lets anyone who reaches the port create an account.

  --config FILE
      read options from a TOML file whose keys are the option names below
      (port = ${DEFAULT_PORT}, data = "/var/lib/sis", max-image-size = "100M"); a flag
      overrides the file, an unknown key or a bad value is refused with its line
  --print-config
      print the effective configuration (defaults, file, flags) as a TOML
      file that --config reads back, and exit
${options.join("\n")}

  sis serve --data /var/lib/sis
  sis serve --config /etc/sis/serve.toml --port 1234
  sis serve --data /var/lib/sis --print-config > /etc/sis/serve.toml`;
}

export const COMMAND_HELP: Record<string, string> = {
  serve: serveHelp(),
  register: `usage: sis register --invite -|INVITATION [--user NAME] [--password-stdin] [--home DIR] [--device NAME]
       sis register --server HOST:PORT --user NAME [--ca-fingerprint HEX]
                    [--password-stdin] [--home DIR] [--key-bits 3072] [--device NAME]
       sis register --link - --server HOST:PORT [--ca-fingerprint HEX] [--home DIR] [--device NAME]

A new user needs an invitation from the operator ('sis admin invite'; the
server prints one for the first user). It names the server and its CA, so
neither --server nor --ca-fingerprint is given; it works once. An invitation
made for a name ('sis admin invite --user NAME') registers that name, so
--user may be left out; one for any name needs --user. '--invite -'
reads it from the first line of stdin (or asks for it on a terminal), and
SIS_INVITE may hold it instead; as a plain value it is visible to other
users of this machine while register runs.

Creates your RSA key (it never leaves this machine), sends a certificate
request with your username and password, and stores the certificate. An
existing username with its password enrols a new key (another device).
A home holds one registration: register refuses a home that already holds
a key (another user's, or yours while its certificate is valid); pass
another --home for another user or device.
The password comes from a prompt, the first line of stdin (--password-stdin)
or SIS_PASSWORD; never from the command line.

  sis register --invite - --user alice
  sis register --server 127.0.0.1:1233 --user alice --ca-fingerprint AB:CD:...
  echo "$PW" | sis register --server 127.0.0.1:1233 --user alice --password-stdin --ca-fingerprint AB:CD:...

--device NAME names this device's certificate in 'sis devices' (default: the
host name). --link - enrols this device for the user who made a one-time code
with 'sis devices link' on a registered device, without the password: the code
comes from SIS_LINK_CODE or the first line of stdin (asked for on a terminal),
never the command line. A code works once, within 10 minutes.

  sis register --link - --server 127.0.0.1:1233 --ca-fingerprint AB:CD:... --home ~/.sis-laptop`,
  renew: `usage: sis renew [--rekey] [--key-bits N] [--home DIR]

Gets a new certificate from the server over a connection authenticated with
your current one: no password. The new certificate lasts the server's
certificate lifetime from now; the old one stays valid until it expires.
With --rekey a new key is made first (the private key never leaves this
machine) and the new certificate is for it. The home is updated atomically.
'sis watch' renews on its own once two thirds of the lifetime have passed,
and every command warns when the certificate ends within 30 days. An
expired certificate cannot be renewed: enrol again with 'sis register'
and your password.

  sis renew
  sis renew --rekey --home ~/.sis-laptop`,
  whoami: `usage: sis whoami [--json] [--home DIR]

Prints your user, certificate serial and expiry, the pinned CA fingerprint,
the server, and your storage on it against your quota (asked of the server;
"unknown" when it cannot be reached).`,
  rm: `usage: sis rm NAME [--home DIR]

Deletes your image NAME on the server: it is gone from 'sis list', nobody can
download it any more, and watchers that catch up later never fetch it. A
download already under way finishes. Copies that others have already saved
are theirs: deleting here does not reach into their computers. Its space
counts against your quota no more. Only your own images; the operator deletes
any with 'sis admin rm'.

  sis rm cat.png`,
  devices: `usage: sis devices [--json] [--home DIR]
       sis devices link [--home DIR]
       sis devices remove SERIAL [--home DIR]

Lists your certificates (one per device) with their device names, last use
and state; * marks this one. 'link' prints a one-time code (it works once,
for 10 minutes) that 'sis register --link -' on a new device turns into a
certificate of yours, without the password. 'remove' revokes one of your
certificates: that device is refused from then on, and its open connections
(a running 'sis watch') end within seconds.

  sis devices link
  sis devices remove 4f3a9c...`,
  post: `usage: sis post FILE|FOLDER... [--recursive] [--rename] [--name NAME] [--home DIR] [--quiet] [--keep-metadata]

Encrypts each image with a fresh key, signs it with your key and uploads it.
Only PNG, JPEG, GIF, WebP, HEIC, HEIF and AVIF are accepted, judged by
content. Unless --keep-metadata is given, what identifies is removed without
re-encoding the pixels: location (GPS), make, model and serial numbers, maker
notes, owner and artist names, dates, software, embedded thumbnails and
previews, XMP, IPTC, comments and text chunks, and unknown blocks. What
changes how the picture looks stays: the orientation (JPEG: a new minimal
Exif holding only it; HEIF: irot and imir), the colour profile (JPEG APP2
ICC, PNG iCCP, sRGB, gAMA, cHRM, cICP, WebP ICCP, GIF ICC, HEIF colr),
transparency and animation. Each post prints what was removed and what was
kept; docs/SECURITY.md lists every field. A FOLDER stands for
the images directly in it, in name order; -r/--recursive also enters its
sub-folders (symbolic links to folders are not followed). Other files are
skipped with a note. Every file is tried: one line each, a summary for
several, and exit 1 if any failed. --name renames a single FILE.

Names: each image is posted under its file's base name (a/x.jpg and b/x.jpg
are both "x.jpg"). A name you already have, on the server or earlier in the
same run, is refused for that file (NAME_TAKEN) and the others go on. With
--rename a suffix is added before the extension instead, "x (2).jpg",
"x (3).jpg" ..., the first the server accepts.

Over the server's post rate (RATE_LIMITED) sis waits as long as the server
says and goes on, with one line on stderr; at most 5 minutes a wait and an
hour a run. Ctrl-C stops it; what was posted stays posted.

  sis post cat.png
  sis post ~/Pictures/holiday
  sis post -r --rename ~/Pictures/trip
  sis post photo.jpg --name holiday.jpg`,
  list: `usage: sis list [--json] [--limit N] [--home DIR]

Lists the images on the server, newest first.`,
  get: `usage: sis get ID|OWNER/NAME [-o DIR] [--home DIR] [--quiet]
       sis get --all [-o DIR] [--home DIR] [--quiet]

Downloads one image, verifies the owner's certificate and signature, and
saves it as DIR/OWNER/NAME with the signature beside it (NAME.p7s), readable
only by you (0600, folders 0700).
DIR defaults to the folder the last 'sis watch -o' used, else <home>/images.
Exits 3 if any check fails; nothing is saved then.

--all fetches every image you may see into DIR, each verified the same way.
An image already there is skipped without downloading it: same OWNER/NAME,
same size, and its NAME.p7s verifies over the file's bytes against your
pinned CA. One refused image does not stop the others (exit 3 at the end).

  sis get alice/cat.png -o ~/Pictures/sis
  sis get --all -o ~/Pictures/sis`,
  watch: `usage: sis watch [-o DIR] [--home DIR] [--quiet]

Stays connected and saves every new image that verifies, one line per image.
On start it catches up on what was posted while it was away; the position is
kept per output folder, so a watch into a new DIR receives the older images
too. -o DIR is remembered in the home (settings.json): later 'sis watch',
'sis get' and 'sis gallery' use it without -o. While it runs it rewrites
watch-live.json in the home (its pid and the time) for the gallery's "live" mark.
An image that cannot be verified or saved is refused once and not fetched
again. Images are saved private to you (folders 0700, files 0600). A lost
server is retried every few seconds; Ctrl-C prints a summary and exits 0.`,
  admin: `usage: sis admin revoke USER [--reason R] [--compromised-since TIME] [STORES]
       sis admin revoke --serial HEX [--reason R] [--compromised-since TIME] [STORES]
       sis admin certs [--json] [STORES]
       sis admin backup DEST [--data DIR] [--encrypt]
       sis admin verify-backup DEST
       sis admin restore DEST --data DIR

       sis admin rm OWNER/NAME [STORES]
       sis admin invite [--user NAME] [--expires 7d] [--server HOST:PORT] [STORES]
       sis admin invitations [--json] [--revoke ID] [STORES]
       sis admin users [--json] [STORES]
       sis admin disable USER [STORES]
       sis admin enable USER [STORES]
       sis admin delete USER [--images] [STORES]
       sis admin init-cluster --out DIR --name LB[,MORE] [--tls-cert-days N]
       sis admin init-cluster --out DIR --renew-tls [--name LB[,MORE]]

STORES is [--data DIR] [--database URL] [--blobs URL]: the server's own
values. Works on the server's stores, also while the server runs; for a
server started with --database postgres://… (and --blobs s3://…) give the
same here, or set SIS_DATABASE (and SIS_BLOBS); the password goes in
PGPASSWORD, the S3 keys in S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY. A revoked
certificate is refused at its next connection and listed in /crl.pem.
invite prints one line, an invitation (sis1:HOST:PORT:FINGERPRINT:SECRET)
that registers one new user, once, until it expires (--expires 45s, 30m,
12h, 7d; at most 365d), for NAME only if --user is given. Give it to the
user over a channel you trust: it is the key to the group. The server keeps
only a hash of it. disable ends the user's open connections within seconds
and refuses their certificates and password until enable. delete revokes
every certificate and reserves the name; with --images their images are
removed from the server too (copies already saved by receivers are theirs).

backup copies a consistent snapshot of the database, the images it lists and
the keys into DEST (0700/0600; again into the same DEST copies only new
images); --encrypt asks for a passphrase (or reads stdin's first line).
restore refuses a directory that is not empty. On PostgreSQL or S3 backup
refuses: back up with pg_dump and the object store's own tools (see
docs/OPERATIONS.md).

R is unspecified (the default), affiliationChanged, superseded,
cessationOfOperation or keyCompromise. Images the user posted before the
revocation stay valid, unless the key was compromised: then images
time-stamped since TIME (e.g. 2026-05-01T10:00:00Z; without it, all of
them) are refused. --compromised-since implies keyCompromise.

'rm' deletes any user's image (row, then file): a running server stops
listing and serving it at once, and its connected clients are told within
about 2 s (IMAGE_DELETED, from the deletion log); copies they already saved
are theirs.

init-cluster makes, once, the keys every node of a cluster loads with
'sis serve --keys DIR' (docs/SCALING.md): the CA, the storage and
time-stamping keys, and one TLS certificate for the load balancer's names
(--name, comma-separated; localhost and 127.0.0.1 are always in it). It
refuses a DIR that already holds a CA. --renew-tls re-issues the TLS
certificate (and a time-stamping one near its end) in DIR; copy the files to
every node, which take them up within --tls-renew-check.`,
  passwd: `usage: sis passwd [--password-stdin] [--home DIR]

Changes your password on the server, over a connection made with this
device's certificate; asks for the current password and the new one twice.
With --password-stdin, stdin holds the current password, then the new one,
one a line; SIS_PASSWORD and SIS_NEW_PASSWORD may hold them instead. Your
certificates stay valid.`,
  gallery: `usage: sis gallery [--port N] [-o DIR] [--home DIR]

Serves a web page on http://127.0.0.1:N/?token=SECRET (only this machine; N
defaults to 8234, 0 picks a free one; the token is new each run, and a
request without it gets 403) showing the images saved in DIR (default: the
folder 'sis watch -o' last saved into, else <home>/images; the first line
says which), newest first. Each image is verified again when listed: its
signature over the file and the signer's certificate against your pinned CA
(revocation was checked when it was saved). An image that fails is marked
NOT verified and is not shown. The grid shows small previews (320 px JPEG,
made once per image and cached in <home>/thumbnails; HEIC shown through a
converted preview); a click opens the image large with its signer. The
"live" mark says whether a 'sis watch' is saving into DIR right now and when
the last image arrived. New images appear without a reload. Stop with Ctrl-C.

  sis gallery -o ~/Pictures/sis`,
  demo: `usage: sis demo [--keep]

Starts a server in a temporary directory, registers alice and bob, starts
bob's watch, has alice post a sample image, and narrates every step.`,
};
