import WebSocket from 'ws';

/** How an attempt to open /live ended: its first message, its close code and reason, or the HTTP answer that refused the handshake. */
export interface LiveOutcome {
  message?: string;
  code?: number;
  reason?: string;
  refused?: { status: number; code?: string; message?: string; body: string };
}

/** Opens a /live WebSocket (with any Origin or headers) and resolves with how it ended; rejects after 5 s of silence. */
export function watchLive(url: string, options: WebSocket.ClientOptions = {}): Promise<LiveOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer from ${url}`));
    }, 5000);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        clearTimeout(timer);
        let parsed: { code?: string; message?: string } = {};
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          // a refusal without the coded body: the test sees it in `body`
        }
        resolve({ refused: { status: res.statusCode ?? 0, code: parsed.code, message: parsed.message, body } });
      });
    });
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer);
      ws.close(1000);
      resolve({ message: data.toString('utf8') });
    });
    ws.once('close', (code: number, reason: Buffer) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString('utf8') });
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      // A refused handshake is reported by 'unexpected-response' above.
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}
