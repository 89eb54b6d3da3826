// The reference for the polling scenario: a bare node:http server answering the same requests
// with the same bytes (status, headers and body captured from the real daemon), keyed by URL,
// with the same If-None-Match check. What a server costs when it does nothing but answer.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { serve } from './child.mjs';

let server = null;

serve(
  {
    async start({ file }) {
      const captured = JSON.parse(readFileSync(file, 'utf8'));
      const byUrl = new Map(
        captured.map((c) => [c.url, { etag: c.etag, headers: c.headers, headers304: c.headers304, body: Buffer.from(c.body, 'utf8') }]),
      );
      server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
        const path = req.url.replace(/&wait=\d+/, '');
        const entry = byUrl.get(path);
        if (!entry) {
          res.writeHead(404).end();
          return;
        }
        if (req.headers['if-none-match'] === entry.etag) {
          res.writeHead(304, entry.headers304).end();
          return;
        }
        res.writeHead(200, { ...entry.headers, 'content-length': entry.body.length }).end(entry.body);
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${server.address().port}`, urls: byUrl.size };
    },
  },
  async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve());
  },
);
