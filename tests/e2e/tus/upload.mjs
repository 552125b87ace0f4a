// Uploads one file to guichet with tus-js-client, as a web portal does, and reports on
// standard output, one JSON object a line: `created` (the upload's URL), `chunk` (bytes the
// server acknowledged), then `success` or `error` (with the status and body of the answer).
//
//   node upload.mjs ENDPOINT TOKEN FILE [CHUNK_SIZE|-] [TYPE]
//
// TYPE is the media type declared for the file (`filetype` in the upload's metadata); without
// it, the type goes by the file's extension, as a browser's file picker gives it, and none is
// declared for an extension it does not know.
//
// It retries as portals configure it (the client's own backoff), so a server that drops the
// connection or is restarted mid-upload is resumed from the offset it reports.
import { readFileSync } from "node:fs";
import { basename, extname } from "node:path";
import * as tus from "tus-js-client";

const [endpoint, token, file, chunkSize, declaredType] = process.argv.slice(2);
const bytes = readFileSync(file);
const byExtension = {
  pdf: "application/pdf",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  tif: "image/tiff",
  tiff: "image/tiff",
  heic: "image/heic",
  avif: "image/avif",
};
const extension = extname(file).slice(1).toLowerCase();
const filetype = declaredType || byExtension[extension];
const metadata = { filename: basename(file), ...(filetype ? { filetype } : {}) };
const say = (event) => console.log(JSON.stringify(event));

const upload = new tus.Upload(bytes, {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  chunkSize: chunkSize && chunkSize !== "-" ? Number(chunkSize) : Infinity,
  retryDelays: [0, 250, 500, 1000, 2000, 2000, 3000, 3000, 5000, 5000, 5000, 5000],
  metadata,
  onUploadUrlAvailable() {
    say({ event: "created", url: upload.url });
  },
  onChunkComplete(_size, accepted, total) {
    say({ event: "chunk", accepted, total });
  },
  onSuccess() {
    say({ event: "success", url: upload.url });
  },
  onError(error) {
    const response = error.originalResponse;
    say({
      event: "error",
      message: String(error.message || error),
      status: response ? response.getStatus() : null,
      body: response ? response.getBody() : null,
    });
    process.exitCode = 1;
  },
});
upload.start();
